//! Service-account JWTs and the authenticator chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kguard_authn::serviceaccount::{ObjectRef, TokenRequest, Verifier, sign};
use kguard_authn::tokenfile::TokenFile;
use kguard_authn::union::{Authenticators, Credentials, Verdict, authenticate};
use kguard_authn::{Outcome, UserInfo};
use rcgen::{KeyPair, PKCS_RSA_SHA256, RsaKeySize};

const NOW: i64 = 1_780_272_000;
const ISS: &str = "https://kubernetes.default.svc.cluster.local";

fn request() -> TokenRequest {
    TokenRequest {
        namespace: "default".into(),
        name: "builder".into(),
        uid: "sa-uid".into(),
        audiences: vec!["api".into()],
        issuer: ISS.into(),
        now: NOW,
        duration_seconds: 3600,
        pod: Some(ObjectRef { name: "web-0".into(), uid: "pod-uid".into() }),
        jti: "id-1".into(),
    }
}

fn verifier(key: &KeyPair) -> Verifier {
    let mut v = Verifier::new(vec![ISS.into()], vec!["api".into()]);
    assert_eq!(v.add_public_keys_pem(key.public_key_pem().as_bytes()).unwrap(), 1);
    v
}

fn rejected(o: Outcome) -> String {
    match o {
        Outcome::Rejected(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn claims_are_tokenrequest_shaped() {
    let claims = serde_json::to_value(request().claims()).unwrap();
    assert_eq!(claims["sub"], "system:serviceaccount:default:builder");
    assert_eq!(claims["aud"], serde_json::json!(["api"]));
    assert_eq!(claims["exp"], NOW + 3600);
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["nbf"], NOW);
    assert_eq!(claims["kubernetes.io"]["namespace"], "default");
    assert_eq!(claims["kubernetes.io"]["serviceaccount"], serde_json::json!({"name": "builder", "uid": "sa-uid"}));
    assert_eq!(claims["kubernetes.io"]["pod"], serde_json::json!({"name": "web-0", "uid": "pod-uid"}));
}

#[test]
fn es256_round_trip() {
    let key = KeyPair::generate().unwrap();
    let token = sign(&request().claims(), key.serialize_pem().as_bytes()).unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let Outcome::Authenticated(user) = verifier(&key).verify(&token, NOW + 10) else { panic!() };
    assert_eq!(user.name, "system:serviceaccount:default:builder");
    assert_eq!(user.uid, "sa-uid");
    assert_eq!(user.groups, ["system:serviceaccounts", "system:serviceaccounts:default"]);
    assert_eq!(user.extra["authentication.kubernetes.io/pod-name"], ["web-0"]);
    assert_eq!(user.extra["authentication.kubernetes.io/credential-id"], ["JTI=id-1"]);
}

#[test]
fn rs256_round_trip() {
    let key = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap();
    let token = sign(&request().claims(), key.serialize_pem().as_bytes()).unwrap();
    assert!(matches!(verifier(&key).verify(&token, NOW), Outcome::Authenticated(_)));
}

#[test]
fn alg_none_is_refused() {
    let key = KeyPair::generate().unwrap();
    let token = sign(&request().claims(), key.serialize_pem().as_bytes()).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#));
    assert!(rejected(verifier(&key).verify(&none, NOW)).contains("unsigned"));
    let hs = format!("{}.{payload}.AAAA", URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#));
    assert!(rejected(verifier(&key).verify(&hs, NOW)).contains("HS256"));
}

#[test]
fn tampered_payload_and_foreign_key_are_refused() {
    let key = KeyPair::generate().unwrap();
    let token = sign(&request().claims(), key.serialize_pem().as_bytes()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = request().claims();
    claims.sub = "system:serviceaccount:kube-system:admin".into();
    claims.kubernetes.as_mut().unwrap().namespace = "kube-system".into();
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert!(rejected(verifier(&key).verify(&tampered, NOW)).contains("signature"));
    let other = KeyPair::generate().unwrap();
    assert!(rejected(verifier(&other).verify(&token, NOW)).contains("does not verify"));
}

#[test]
fn wrong_audience_issuer_and_expiry() {
    let key = KeyPair::generate().unwrap();
    let pem = key.serialize_pem();
    let token = sign(&request().claims(), pem.as_bytes()).unwrap();
    let mut v = verifier(&key);
    v.audiences = vec!["vault".into()];
    assert!(
        rejected(v.verify(&token, NOW)).contains("audiences [\"api\"] is invalid for the target audiences [\"vault\"]")
    );
    let mut v = verifier(&key);
    v.issuers = vec!["https://other".into()];
    let Outcome::NotRecognized(why) = v.verify(&token, NOW) else { panic!() };
    assert!(why.contains("issuer"), "{why}");
    let reason = rejected(verifier(&key).verify(&token, NOW + 3600 + 61));
    assert!(reason.contains("expired"), "{reason}");
    // Within the leeway.
    assert!(matches!(verifier(&key).verify(&token, NOW + 3600 + 59), Outcome::Authenticated(_)));
    let reason = rejected(verifier(&key).verify(&token, NOW - 120));
    assert!(reason.contains("not valid yet"), "{reason}");
}

#[test]
fn subject_must_match_the_service_account() {
    let key = KeyPair::generate().unwrap();
    let mut claims = request().claims();
    claims.sub = "system:serviceaccount:kube-system:admin".into();
    let token = sign(&claims, key.serialize_pem().as_bytes()).unwrap();
    assert!(rejected(verifier(&key).verify(&token, NOW)).contains("does not match"));
}

#[test]
fn not_a_jwt_is_not_recognized() {
    let key = KeyPair::generate().unwrap();
    assert!(matches!(verifier(&key).verify("abc", NOW), Outcome::NotRecognized(_)));
    assert!(matches!(verifier(&key).verify("a.b.c", NOW), Outcome::NotRecognized(_)));
}

#[test]
fn private_key_is_not_a_public_key() {
    let key = KeyPair::generate().unwrap();
    let mut v = Verifier::new(vec![ISS.into()], vec![]);
    assert!(v.add_public_keys_pem(key.serialize_pem().as_bytes()).unwrap_err().to_string().contains("PRIVATE KEY"));
}

#[test]
fn chain_anonymous_fallback_and_authenticated_group() {
    let key = KeyPair::generate().unwrap();
    let v = verifier(&key);
    let tokens = TokenFile::parse("t.csv", "static-token,alice,1,dev\n").unwrap();
    let authn =
        Authenticators { token_file: Some(&tokens), service_accounts: Some(&v), anonymous: true, ..Default::default() };
    // No credentials: anonymous.
    let Verdict::Authenticated { user, by } = authenticate(&authn, &Credentials::default(), NOW) else { panic!() };
    assert_eq!((by, user), ("anonymous", UserInfo::anonymous()));
    // Static token.
    let creds = Credentials { bearer_token: Some("static-token"), ..Default::default() };
    let Verdict::Authenticated { user, by } = authenticate(&authn, &creds, NOW) else { panic!() };
    assert_eq!(by, "token-file");
    assert_eq!(user.groups, ["dev", "system:authenticated"]);
    // Service-account token.
    let token = sign(&request().claims(), key.serialize_pem().as_bytes()).unwrap();
    let creds = Credentials { bearer_token: Some(&token), ..Default::default() };
    let Verdict::Authenticated { user, by } = authenticate(&authn, &creds, NOW) else { panic!() };
    assert_eq!(by, "service-account");
    assert_eq!(user.groups.last().map(String::as_str), Some("system:authenticated"));
    // An unknown bearer token is a 401, not anonymous.
    let creds = Credentials { bearer_token: Some("nope"), ..Default::default() };
    let Verdict::Unauthorized(reasons) = authenticate(&authn, &creds, NOW) else { panic!() };
    assert_eq!(reasons[0], "invalid bearer token");
    // An expired SA token is a 401 with the reason.
    let creds = Credentials { bearer_token: Some(&token), ..Default::default() };
    let Verdict::Unauthorized(reasons) = authenticate(&authn, &creds, NOW + 7200) else { panic!() };
    assert!(reasons[0].starts_with("service-account: token has expired"), "{reasons:?}");
    // Anonymous disabled.
    let closed = Authenticators { anonymous: false, ..authn };
    assert!(matches!(authenticate(&closed, &Credentials::default(), NOW), Verdict::Unauthorized(_)));
}

mod inventory {
    use super::*;
    use kguard_authn::inventory::{Entry, INVALID_SINCE_LABEL, Inventory, Kind};
    use kguard_authn::serviceaccount::{Claims, LEGACY_ISSUER};

    fn entry(uid: &str) -> Entry {
        Entry { uid: uid.into(), ..Entry::default() }
    }

    /// The cluster a pod-bound token of `request()` was issued in.
    fn cluster() -> Inventory {
        let mut inv = Inventory::default();
        inv.insert(Kind::ServiceAccount, "default", "builder", entry("sa-uid"));
        inv.insert(Kind::Pod, "default", "web-0", entry("pod-uid"));
        inv.insert(Kind::Node, "", "node-1", entry("node-uid"));
        inv.insert(Kind::Secret, "default", "bound", entry("secret-uid"));
        inv
    }

    fn verify_in(inv: Inventory, claims: &Claims, key: &KeyPair, now: i64) -> Outcome {
        let token = sign(claims, key.serialize_pem().as_bytes()).unwrap();
        let mut v = verifier(key);
        v.inventory = Some(inv);
        v.verify(&token, now)
    }

    #[test]
    fn bound_objects_must_exist_with_their_uid() {
        let key = KeyPair::generate().unwrap();
        let claims = request().claims();
        assert!(matches!(verify_in(cluster(), &claims, &key, NOW), Outcome::Authenticated(_)));
        // Without an inventory nothing is looked up.
        let token = sign(&claims, key.serialize_pem().as_bytes()).unwrap();
        assert!(matches!(verifier(&key).verify(&token, NOW), Outcome::Authenticated(_)));

        let mut inv = cluster();
        inv.insert(Kind::Pod, "default", "web-0", entry("other-pod-uid"));
        assert_eq!(
            rejected(verify_in(inv, &claims, &key, NOW)),
            "pod UID (other-pod-uid) does not match service account pod ref claim (pod-uid)"
        );
        let mut inv = Inventory::default();
        inv.insert(Kind::ServiceAccount, "default", "builder", entry("sa-uid"));
        assert_eq!(rejected(verify_in(inv, &claims, &key, NOW)), "service account token has been invalidated");
        assert_eq!(
            rejected(verify_in(Inventory::default(), &claims, &key, NOW)),
            "serviceaccounts \"builder\" not found"
        );
        let mut inv = cluster();
        inv.insert(Kind::ServiceAccount, "default", "builder", entry("recreated"));
        assert_eq!(
            rejected(verify_in(inv, &claims, &key, NOW)),
            "service account UID (recreated) does not match claim (sa-uid)"
        );
        // Deleted: beyond the 60 s leeway the token is dead, within it still valid.
        for (deleted_at, ok) in [(NOW - 61, false), (NOW - 30, true)] {
            let mut inv = cluster();
            inv.insert(
                Kind::Pod,
                "default",
                "web-0",
                Entry { deletion_timestamp: Some(deleted_at), ..entry("pod-uid") },
            );
            let o = verify_in(inv, &claims, &key, NOW);
            assert_eq!(matches!(o, Outcome::Authenticated(_)), ok, "{o:?}");
        }
        let mut inv = cluster();
        inv.insert(
            Kind::ServiceAccount,
            "default",
            "builder",
            Entry { deletion_timestamp: Some(NOW - 3600), ..entry("sa-uid") },
        );
        assert_eq!(rejected(verify_in(inv, &claims, &key, NOW)), "service account default/builder has been deleted");
    }

    #[test]
    fn secret_and_node_bound_tokens() {
        let key = KeyPair::generate().unwrap();
        let mut claims = request().claims();
        let k = claims.kubernetes.as_mut().unwrap();
        k.pod = None;
        k.secret = Some(ObjectRef { name: "bound".into(), uid: "secret-uid".into() });
        k.node = Some(ObjectRef { name: "node-1".into(), uid: "node-uid".into() });
        let Outcome::Authenticated(user) = verify_in(cluster(), &claims, &key, NOW) else { panic!() };
        assert_eq!(user.extra["authentication.kubernetes.io/node-name"], ["node-1"]);
        let mut inv = cluster();
        inv.insert(Kind::Secret, "default", "bound", entry("new-secret"));
        assert_eq!(
            rejected(verify_in(inv, &claims, &key, NOW)),
            "secret UID (new-secret) does not match service account secret ref claim (secret-uid)"
        );
        let mut inv = cluster();
        inv.insert(Kind::Node, "", "node-1", entry("replaced-node"));
        assert_eq!(
            rejected(verify_in(inv, &claims, &key, NOW)),
            "node UID (replaced-node) does not match service account node ref claim (node-uid)"
        );
        // With a pod, the node is not looked up (only its claims are copied).
        let mut claims = request().claims();
        claims.kubernetes.as_mut().unwrap().node = Some(ObjectRef { name: "gone".into(), uid: "x".into() });
        assert!(matches!(verify_in(cluster(), &claims, &key, NOW), Outcome::Authenticated(_)));
    }

    fn legacy_claims() -> Claims {
        Claims {
            iss: LEGACY_ISSUER.into(),
            sub: "system:serviceaccount:ci:deployer".into(),
            legacy_namespace: Some("ci".into()),
            legacy_name: Some("deployer".into()),
            legacy_uid: Some("sa-uid".into()),
            legacy_secret: Some("deployer-token".into()),
            ..Claims::default()
        }
    }

    #[test]
    fn legacy_tokens_must_still_be_the_secrets_token() {
        let key = KeyPair::generate().unwrap();
        let token = sign(&legacy_claims(), key.serialize_pem().as_bytes()).unwrap();
        let mut v = Verifier::new(vec![LEGACY_ISSUER.into()], vec![]);
        v.add_public_keys_pem(key.public_key_pem().as_bytes()).unwrap();
        let cluster = |secret: Entry, sa: Option<Entry>| {
            let mut inv = Inventory::default();
            inv.insert(Kind::Secret, "ci", "deployer-token", secret);
            if let Some(sa) = sa {
                inv.insert(Kind::ServiceAccount, "ci", "deployer", sa);
            }
            let mut v = v.clone();
            v.inventory = Some(inv);
            v.verify(&token, NOW)
        };
        let secret = Entry { token: Some(token.as_bytes().to_vec()), ..entry("s-uid") };
        assert!(matches!(cluster(secret.clone(), Some(entry("sa-uid"))), Outcome::Authenticated(_)));
        let other = Entry { token: Some(b"another".to_vec()), ..secret.clone() };
        assert_eq!(rejected(cluster(other, Some(entry("sa-uid")))), "Token does not match server's copy");
        let deleting = Entry { deletion_timestamp: Some(NOW), ..secret.clone() };
        assert_eq!(rejected(cluster(deleting, Some(entry("sa-uid")))), "Token has been invalidated");
        assert_eq!(rejected(cluster(secret.clone(), None)), "serviceaccounts \"deployer\" not found");
        assert_eq!(
            rejected(cluster(secret.clone(), Some(entry("new")))),
            "ServiceAccount UID (new) does not match claim (sa-uid)"
        );
        let marked = Entry { invalid_since: true, ..secret };
        let reason = rejected(cluster(marked, Some(entry("sa-uid"))));
        assert!(
            reason.starts_with(
                "the token in secret ci/deployer-token for service account ci/deployer has been marked invalid"
            ) && reason.contains(INVALID_SINCE_LABEL),
            "{reason}"
        );
    }

    #[test]
    fn inventory_from_manifests() {
        let yaml = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: deployer, namespace: ci, uid: sa-uid}\n---\n\
            apiVersion: v1\nkind: Secret\nmetadata:\n  name: deployer-token\n  namespace: ci\n  uid: s-uid\n  labels: {kubernetes.io/legacy-token-invalid-since: '2026-01-01'}\n\
            data: {token: dG9r}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, deletionTimestamp: '2026-01-01T00:00:00Z'}\n---\n\
            apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: q, uid: u, deletionTimestamp: yesterday}\n---\n\
            apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, uid: x}\n";
        let parsed = kguard_model::load::parse_text(&std::sync::Arc::from("state.yaml"), yaml);
        let (inv, diags) = Inventory::from_objects(&parsed.objects);
        assert_eq!(inv.len(), 5);
        assert_eq!(inv.get(Kind::ServiceAccount, "ci", "deployer").unwrap().uid, "sa-uid");
        let secret = inv.get(Kind::Secret, "ci", "deployer-token").unwrap();
        assert_eq!(secret.token.as_deref(), Some(&b"tok"[..]));
        assert!(secret.invalid_since);
        assert_eq!(inv.get(Kind::Pod, "default", "p").unwrap().deletion_timestamp, Some(1_767_225_600));
        assert!(inv.get(Kind::Node, "whatever", "node-1").is_some());
        let messages: Vec<_> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(messages[0], "Pod/p: no metadata.uid: tokens bound to it cannot match");
        assert!(messages.iter().any(|m| m.contains("Node/node-1: no metadata.uid")), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("deletionTimestamp \"yesterday\" is not RFC 3339")), "{messages:?}");
    }
}

/// Signs `payload` (raw JSON text, so that numbers serde cannot hold can be written) with `key`.
fn sign_raw(payload: &str, key: &KeyPair) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
    let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    let pem = jsonwebtoken::EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).unwrap();
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &pem, jsonwebtoken::Algorithm::ES256).unwrap();
    format!("{message}.{sig}")
}

/// The claims of `request()` as JSON text with `from` replaced by `to`.
fn claims_with(from: &str, to: &str) -> String {
    let text = serde_json::to_string(&request().claims()).unwrap();
    assert!(text.contains(from), "{text}");
    text.replacen(from, to, 1)
}

/// Reproduction: `exp: 1e30` was reported as a bad signature. go-jose (kube-apiserver) verifies the
/// signature, then reads the claims: a NumericDate must be a number (a fraction is truncated);
/// what is not one fails the token with its own error.
#[test]
fn numeric_claims_out_of_range_or_of_the_wrong_type_are_named() {
    let key = KeyPair::generate().unwrap();
    let v = verifier(&key);
    let exp = format!("\"exp\":{}", NOW + 3600);
    let cases = [
        (exp.clone(), "\"exp\":1e30".to_owned(), "invalid exp claim: 1e+30 is out of range for a NumericDate"),
        (exp.clone(), "\"exp\":-1e300".to_owned(), "invalid exp claim: -1e+300 is out of range for a NumericDate"),
        (
            exp.clone(),
            "\"exp\":18446744073709551615".to_owned(),
            "invalid exp claim: 18446744073709551615 is out of range",
        ),
        (
            exp.clone(),
            "\"exp\":\"tomorrow\"".to_owned(),
            "invalid exp claim: expected a number (a NumericDate), found a string",
        ),
        (exp.clone(), "\"exp\":1e400".to_owned(), "invalid claims: number out of range"),
        (
            format!("\"nbf\":{NOW}"),
            "\"nbf\":[1]".to_owned(),
            "invalid nbf claim: expected a number (a NumericDate), found an array",
        ),
        (
            format!("\"iat\":{NOW}"),
            "\"iat\":true".to_owned(),
            "invalid iat claim: expected a number (a NumericDate), found a boolean",
        ),
        (
            "\"aud\":[\"api\"]".to_owned(),
            "\"aud\":5".to_owned(),
            "invalid aud claim: expected a string or an array of strings, found a number",
        ),
        ("\"sub\":".to_owned(), "\"sub\":5,\"x\":".to_owned(), "invalid sub claim: expected a string, found a number"),
        (
            "\"namespace\":".to_owned(),
            "\"warnafter\":1e30,\"namespace\":".to_owned(),
            "invalid kubernetes.io.warnafter claim: 1e+30 is out of range",
        ),
        (
            "\"name\":\"builder\"".to_owned(),
            "\"name\":{}".to_owned(),
            "invalid kubernetes.io.serviceaccount.name claim: expected a string, found an object",
        ),
    ];
    for (from, to, want) in cases {
        let token = sign_raw(&claims_with(&from, &to), &key);
        let reason = rejected(v.verify(&token, NOW));
        assert!(reason.starts_with(want), "{to}: {reason}");
        assert!(!reason.contains("signature"), "{to}: {reason}");
        // Signed by another key, the signature is what is wrong.
        let other = KeyPair::generate().unwrap();
        let reason = rejected(v.verify(&sign_raw(&claims_with(&from, &to), &other), NOW));
        assert!(reason.contains("does not verify"), "{to}: {reason}");
    }
}

#[test]
fn fractional_numeric_dates_are_truncated_as_go_jose_does() {
    let key = KeyPair::generate().unwrap();
    let v = verifier(&key);
    let token = sign_raw(&claims_with(&format!("\"exp\":{}", NOW + 3600), &format!("\"exp\":{}.9", NOW + 3600)), &key);
    assert!(matches!(v.verify(&token, NOW), Outcome::Authenticated(_)));
    // exp truncated to NOW + 3600: expired once the 60 s leeway has passed.
    assert!(matches!(v.verify(&token, NOW + 3600 + 60), Outcome::Authenticated(_)));
    assert!(rejected(v.verify(&token, NOW + 3600 + 61)).contains("expired"));
    let token = sign_raw(&claims_with(&format!("\"exp\":{}", NOW + 3600), "\"exp\":1.78e9"), &key);
    assert!(rejected(v.verify(&token, NOW)).contains("expired"));
    // null is an absent claim (a bound token needs no exp to be read).
    let token = sign_raw(&claims_with(&format!("\"exp\":{}", NOW + 3600), "\"exp\":null"), &key);
    assert!(matches!(v.verify(&token, NOW), Outcome::Authenticated(_)));
}

//! Service-account JWTs and the authenticator chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kguard_engine::authn::serviceaccount::{ObjectRef, TokenRequest, Verifier, sign};
use kguard_engine::authn::tokenfile::TokenFile;
use kguard_engine::authn::union::{Authenticators, Credentials, Verdict, authenticate};
use kguard_engine::authn::{Outcome, UserInfo};
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
    assert!(v.add_public_keys_pem(key.serialize_pem().as_bytes()).unwrap_err().contains("PRIVATE KEY"));
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

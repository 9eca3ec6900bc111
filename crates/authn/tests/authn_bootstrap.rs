//! Bootstrap tokens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_authn::Outcome;
use kguard_authn::bootstrap::authenticate;
use kguard_authn::union::{Authenticators, Credentials, Verdict};
use kguard_model::time::parse_rfc3339;
use serde_json::{Value, json};

const NOW: i64 = 1_780_272_000; // 2026-06-01T00:00:00Z

fn secret(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}, "stringData": data})
}

fn good() -> Value {
    secret(json!({"token-id": "abcdef", "token-secret": "0123456789abcdef", "expiration": "2026-12-01T00:00:00Z",
        "usage-bootstrap-authentication": "true", "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token"}))
}

fn why(o: Outcome) -> String {
    match o {
        Outcome::NotRecognized(w) => w,
        other => panic!("expected not recognized, got {other:?}"),
    }
}

#[test]
fn valid_token_authenticates() {
    let Outcome::Authenticated(user) = authenticate(&[good()], "abcdef.0123456789abcdef", NOW) else { panic!() };
    assert_eq!(user.name, "system:bootstrap:abcdef");
    assert_eq!(user.groups, ["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"]);
}

#[test]
fn base64_data_is_read() {
    let s = json!({"kind": "Secret", "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
        "data": {"token-id": "YWJjZGVm", "token-secret": "MDEyMzQ1Njc4OWFiY2RlZg==", "usage-bootstrap-authentication": "dHJ1ZQ=="}});
    assert!(matches!(authenticate(&[s], "abcdef.0123456789abcdef", NOW), Outcome::Authenticated(_)));
}

#[test]
fn every_mismatch_is_not_authenticated() {
    assert!(why(authenticate(&[good()], "abcdef.0123456789abcdeX", NOW)).contains("not a bootstrap token"));
    assert!(why(authenticate(&[good()], "abcdef.0123456789abcdee", NOW)).contains("does not match"));
    assert!(why(authenticate(&[good()], "zzzzzz.0123456789abcdef", NOW)).contains("no Secret"));
    assert!(
        why(authenticate(&[good()], "abcdef.0123456789abcdef", NOW + 200 * 86_400))
            .contains("expired at 2026-12-01T00:00:00Z")
    );
    let mut s = good();
    s["type"] = json!("Opaque");
    assert!(why(authenticate(&[s], "abcdef.0123456789abcdef", NOW)).contains("type"));
    let mut s = good();
    s["stringData"]["usage-bootstrap-authentication"] = json!("false");
    assert!(why(authenticate(&[s], "abcdef.0123456789abcdef", NOW)).contains("usage-bootstrap-authentication"));
    let mut s = good();
    s["stringData"]["auth-extra-groups"] = json!("system:masters");
    assert!(why(authenticate(&[s], "abcdef.0123456789abcdef", NOW)).contains("auth-extra-groups"));
    let mut s = good();
    s["metadata"]["namespace"] = json!("default");
    assert!(why(authenticate(&[s], "abcdef.0123456789abcdef", NOW)).contains("no Secret"));
}

#[test]
fn rfc3339_parsing() {
    assert_eq!(parse_rfc3339("2026-06-01T00:00:00Z"), Ok(NOW));
    assert_eq!(parse_rfc3339("2026-06-01T02:00:00.123+02:00"), Ok(NOW));
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
    assert!(parse_rfc3339("2026-06-01 00:00:00Z").is_err());
    assert!(parse_rfc3339("2026-13-01T00:00:00Z").is_err());
    assert!(parse_rfc3339("").is_err());
}

#[test]
fn in_the_chain_an_unknown_bootstrap_token_is_a_401() {
    let secrets = [good()];
    let authn = Authenticators { bootstrap_secrets: Some(&secrets), anonymous: true, ..Default::default() };
    let creds = Credentials { bearer_token: Some("abcdef.0123456789abcdef"), ..Default::default() };
    let Verdict::Authenticated { user, by } = kguard_authn::union::authenticate(&authn, &creds, NOW) else { panic!() };
    assert_eq!(by, "bootstrap-token");
    assert_eq!(user.groups.last().map(String::as_str), Some("system:authenticated"));
    let creds = Credentials { bearer_token: Some("abcdef.0000000000000000"), ..Default::default() };
    let Verdict::Unauthorized(reasons) = kguard_authn::union::authenticate(&authn, &creds, NOW) else { panic!() };
    assert_eq!(reasons[0], "invalid bearer token");
    assert!(reasons[1].starts_with("bootstrap-token: "), "{reasons:?}");
}

//! Bootstrap tokens (`--enable-bootstrap-token-auth`): bearer `<id>.<secret>` looked up in the
//! Secret `kube-system/bootstrap-token-<id>`, as upstream's `bootstrap.go`.
//!
//! Every mismatch (malformed token, no such Secret, wrong type, wrong secret, expired, not usable
//! for authentication, invalid extra group) means "not authenticated", never an error; the reason
//! is kept for `kguard authn whoami`. User `system:bootstrap:<id>`, groups `system:bootstrappers`
//! plus the Secret's `auth-extra-groups` (each must be prefixed `system:bootstrappers:`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::{Outcome, UserInfo, secret_matches};
use kguard_model::time::{format_rfc3339 as rfc3339, parse_rfc3339};

/// The Secret type of bootstrap tokens.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// The group every bootstrap token is in.
pub const BOOTSTRAPPERS: &str = "system:bootstrappers";

fn is_id(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_secret(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`
fn is_extra_group(g: &str) -> bool {
    let Some(rest) = g.strip_prefix("system:bootstrappers:") else { return false };
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match rest.as_bytes().split_last() {
        Some((last, body)) => ok(*last) && body.len() <= 255 && body.iter().all(|b| ok(*b) || *b == b':' || *b == b'-'),
        None => false,
    }
}

/// A Secret's value for `key`: `data` (base64) wins over `stringData`.
fn value(secret: &Value, key: &str) -> Option<String> {
    if let Some(b64) = secret.pointer("/data").and_then(|d| d.get(key)).and_then(Value::as_str) {
        return STANDARD.decode(b64).ok().and_then(|b| String::from_utf8(b).ok());
    }
    secret.pointer("/stringData").and_then(|d| d.get(key)).and_then(Value::as_str).map(str::to_owned)
}

/// Authenticates `token` against the Secrets `secrets` (Secret objects as JSON, any namespace:
/// only `kube-system/bootstrap-token-<id>` is considered) at `now` (Unix seconds).
#[must_use]
pub fn authenticate(secrets: &[Value], token: &str, now: i64) -> Outcome {
    let no = |why: String| Outcome::NotRecognized(why);
    let Some((id, secret)) = token.split_once('.') else {
        return no("not a bootstrap token (<id>.<secret>)".to_owned());
    };
    if !is_id(id) || !is_secret(secret) {
        return no("not a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})".to_owned());
    }
    let name = format!("bootstrap-token-{id}");
    let Some(obj) = secrets.iter().find(|s| {
        s.pointer("/metadata/namespace").and_then(Value::as_str) == Some("kube-system")
            && s.pointer("/metadata/name").and_then(Value::as_str) == Some(name.as_str())
            && s.get("kind").and_then(Value::as_str).is_none_or(|k| k == "Secret")
    }) else {
        return no(format!("no Secret kube-system/{name}"));
    };
    if obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
        return no(format!("Secret kube-system/{name} is being deleted"));
    }
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    if ty != SECRET_TYPE {
        return no(format!("Secret kube-system/{name} has type {ty:?}, not {SECRET_TYPE:?}"));
    }
    let stored = value(obj, "token-secret").unwrap_or_default();
    if !secret_matches(stored.as_bytes(), secret.as_bytes()) {
        return no(format!("the token's secret does not match Secret kube-system/{name}"));
    }
    if value(obj, "token-id").as_deref() != Some(id) {
        return no(format!("Secret kube-system/{name} has no token-id {id:?}"));
    }
    if let Some(exp) = value(obj, "expiration") {
        match parse_rfc3339(&exp) {
            Ok(t) if now >= t => return no(format!("bootstrap token {id} expired at {}", rfc3339(t))),
            Ok(_) => {}
            Err(_) => return no(format!("Secret kube-system/{name} has an invalid expiration {exp:?}")),
        }
    }
    if value(obj, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return no(format!("Secret kube-system/{name} does not allow usage-bootstrap-authentication"));
    }
    let mut groups = vec![BOOTSTRAPPERS.to_owned()];
    if let Some(extra) = value(obj, "auth-extra-groups") {
        for g in extra.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            if !is_extra_group(g) {
                return no(format!(
                    "Secret kube-system/{name}: auth-extra-groups {g:?} is not prefixed system:bootstrappers:"
                ));
            }
            if !groups.iter().any(|x| x == g) {
                groups.push(g.to_owned());
            }
        }
    }
    Outcome::Authenticated(UserInfo::new(format!("system:bootstrap:{id}"), groups))
}

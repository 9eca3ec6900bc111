//! The authenticator chain: basic auth (deprecated), client certificates, then bearer tokens
//! (token file, service-account JWTs, bootstrap tokens); the first success wins. A presented bearer token that no
//! authenticator accepts is an error ("invalid bearer token"), as is any authenticator's
//! rejection; with no error and no success, anonymous access (when enabled) yields
//! `system:anonymous` in `system:unauthenticated`. On success `system:authenticated` is appended
//! (AuthenticatedGroupAdder: not for `system:anonymous` nor users already in
//! `system:authenticated`/`system:unauthenticated`).

use super::serviceaccount::Verifier;
use super::tokenfile::{BasicAuthFile, TokenFile};
use super::x509::ClientCa;
use super::{Outcome, UserInfo};
use kguard_request::{ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS};

/// The configured authenticators (kube-apiserver flags).
#[derive(Clone, Debug, Default)]
pub struct Authenticators<'a> {
    /// `--client-ca-file`.
    pub client_ca: Option<&'a ClientCa>,
    /// `--token-auth-file`.
    pub token_file: Option<&'a TokenFile>,
    /// `--basic-auth-file` (deprecated).
    pub basic_auth: Option<&'a BasicAuthFile>,
    /// `--service-account-key-file` with `--service-account-issuer` and `--api-audiences`.
    pub service_accounts: Option<&'a Verifier>,
    /// `--enable-bootstrap-token-auth`: the Secrets to look bootstrap tokens up in.
    pub bootstrap_secrets: Option<&'a [serde_json::Value]>,
    /// `--anonymous-auth` (on by default upstream).
    pub anonymous: bool,
}

/// The credentials of one request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Credentials<'a> {
    /// `Authorization: Bearer <token>`.
    pub bearer_token: Option<&'a str>,
    /// The TLS client certificate chain (PEM, leaf first).
    pub client_cert_pem: Option<&'a [u8]>,
    /// `Authorization: Basic` user and password.
    pub basic: Option<(&'a str, &'a str)>,
}

/// The chain's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Authenticated by `by` (`x509`, `token-file`, `service-account`, `basic-auth`, `anonymous`).
    Authenticated {
        /// The user, with `system:authenticated` added.
        user: UserInfo,
        /// Which authenticator.
        by: &'static str,
    },
    /// 401 Unauthorized, with every authenticator's reason.
    Unauthorized(Vec<String>),
}

/// Runs the chain over `creds` at `now` (Unix seconds).
#[must_use]
pub fn authenticate(authn: &Authenticators<'_>, creds: &Credentials<'_>, now: i64) -> Verdict {
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    let mut attempt = |by: &'static str, outcome: Outcome, errors: &mut Vec<String>| -> Option<Verdict> {
        match outcome {
            Outcome::Authenticated(user) => Some(Verdict::Authenticated { user: add_authenticated(user), by }),
            Outcome::Rejected(reason) => {
                errors.push(format!("{by}: {reason}"));
                None
            }
            Outcome::NotRecognized(reason) => {
                notes.push(format!("{by}: {reason}"));
                None
            }
        }
    };
    if let (Some(file), Some((user, password))) = (authn.basic_auth, creds.basic)
        && let Some(v) = attempt("basic-auth", file.authenticate(user, password), &mut errors)
    {
        return v;
    }
    if let (Some(ca), Some(pem)) = (authn.client_ca, creds.client_cert_pem)
        && let Some(v) = attempt("x509", ca.authenticate_pem(pem, now), &mut errors)
    {
        return v;
    }
    if let Some(token) = creds.bearer_token {
        let before = errors.len();
        if let Some(file) = authn.token_file
            && let Some(v) = attempt("token-file", file.authenticate(token), &mut errors)
        {
            return v;
        }
        if let Some(sa) = authn.service_accounts
            && let Some(v) = attempt("service-account", sa.verify(token, now), &mut errors)
        {
            return v;
        }
        if let Some(secrets) = authn.bootstrap_secrets
            && let Some(v) =
                attempt("bootstrap-token", super::bootstrap::authenticate(secrets, token, now), &mut errors)
        {
            return v;
        }
        if errors.len() == before {
            errors.push("invalid bearer token".to_owned());
        }
    }
    if creds.basic.is_some() && authn.basic_auth.is_some() && errors.is_empty() {
        errors.push("invalid basic-auth credentials".to_owned());
    }
    if errors.is_empty() && authn.anonymous {
        return Verdict::Authenticated { user: UserInfo::anonymous(), by: "anonymous" };
    }
    errors.extend(notes);
    if errors.is_empty() {
        errors.push("no credentials and anonymous access is disabled".to_owned());
    }
    Verdict::Unauthorized(errors)
}

/// AuthenticatedGroupAdder: appends `system:authenticated` unless the user is anonymous or already
/// in `system:authenticated` or `system:unauthenticated`.
#[must_use]
pub fn add_authenticated(mut user: UserInfo) -> UserInfo {
    if user.name != ANONYMOUS && !user.groups.iter().any(|g| g == ALL_AUTHENTICATED || g == ALL_UNAUTHENTICATED) {
        user.groups.push(ALL_AUTHENTICATED.to_owned());
    }
    user
}

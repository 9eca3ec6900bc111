//! Fuzzes ABAC policy files (`--authorization-policy-file`, JSON lines, v0 and v1beta1) through
//! `kguard_authz::abac::AbacPolicy::parse`, and what parses through authorization decisions and
//! rule listings. Any panic or hang is a bug.
#![no_main]

use kguard_authz::Authorizer;
use kguard_authz::abac::AbacPolicy;
use kguard_request::{Attributes, UserInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let policy = match AbacPolicy::parse("policy.jsonl", text) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let alice = UserInfo::new("alice", ["dev", "system:authenticated"]);
    let requests = [
        Attributes::resource(alice.clone(), "get", "", "pods", "projectCaribou", "p"),
        Attributes::resource(alice.clone(), "create", "apps", "deployments/scale", "", ""),
        Attributes::non_resource(UserInfo::anonymous(), "get", "/healthz"),
        Attributes::non_resource(alice.clone(), "get", "/api/v1"),
    ];
    for r in &requests {
        let _ = policy.authorize(r);
        let _ = policy.why_not(r);
    }
    let _ = policy.rules_for(&alice, "projectCaribou");
});

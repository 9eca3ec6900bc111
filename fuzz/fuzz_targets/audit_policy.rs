//! Fuzzes audit policies (`audit.k8s.io/v1` `Policy`) through `kguard_audit::check_policy` (from
//! the YAML reader; a document's `policy:` key when it has one, as in the test case files): the
//! validation errors, the unknown-field warnings with their suggestions (the policy's own fields
//! and `metadata`'s), and what is valid through evaluation and the linter. `parse_policy` must
//! agree with it. Any panic or hang is a bug.
#![no_main]

use kguard_audit::RequestAttributes;
use kguard_model::yaml;
use libfuzzer_sys::fuzz_target;

fn request(verb: &str, resource: &str, subresource: &str, namespace: &str, path: &str) -> RequestAttributes {
    RequestAttributes {
        user: Some("system:kube-proxy".to_owned()),
        groups: vec!["system:authenticated".to_owned()],
        verb: verb.to_owned(),
        resource_request: path.is_empty(),
        api_group: String::new(),
        resource: resource.to_owned(),
        subresource: subresource.to_owned(),
        namespace: namespace.to_owned(),
        name: "n".to_owned(),
        path: path.to_owned(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let requests = [
        request("get", "secrets", "", "kube-system", ""),
        request("create", "pods", "exec", "default", ""),
        request("watch", "endpoints", "", "", ""),
        request("get", "", "", "", "/healthz/etcd"),
    ];
    for doc in yaml::parse_documents(text) {
        let Ok(Some(root)) = doc.root else { continue };
        let node = root.get("policy").unwrap_or(&root);
        let check = kguard_audit::check_policy(node);
        for w in &check.warnings {
            let _ = w.to_string();
        }
        match &check.policy {
            Some(policy) => {
                assert!(check.errors.is_empty(), "a policy with errors: {:?}", check.errors);
                assert_eq!(kguard_audit::parse_policy(node).as_ref(), Ok(policy));
                for r in &requests {
                    let _ = policy.evaluate(r);
                }
                let _ = kguard_audit::lint(policy, "policy.yaml");
            }
            None => {
                assert!(!check.errors.is_empty(), "no policy and no error");
                for e in &check.errors {
                    let _ = e.to_string();
                }
            }
        }
    }
});

//! Fuzzes every request decoder of `kguard serve` and what follows a successful decode: the
//! AdmissionReview, ImageReview, TokenReview and SubjectAccessReview decoders, admission
//! evaluation (Pod Security, hardening, image policy, secure defaults, mesh sidecar injection and
//! their JSON Patch), the audit EventList reader and `kguard.yaml` parsing. Any panic or hang is a
//! bug.
#![no_main]

use kguard_admission::{self as admission, Hardening, Inventory, Policies, image, mutate, podsecurity};
use kguard_authz::AlwaysAllow;
use kguard_server::{audit, config, wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policies = Policies {
        pod_security: Some(podsecurity::Config::default()),
        hardening: Some(Hardening { min_severity: kguard_report::Severity::Low, deny: true, ignore: vec![] }),
        images: Some(image::Policy { forbid_latest: true, require_digest: true, ..image::Policy::default() }),
        mutations: mutate::Mutations {
            seccomp_runtime_default: true,
            drop_all_capabilities: true,
            disallow_privilege_escalation: true,
            run_as_non_root: true,
            disable_service_account_automount: true,
        },
        mesh_inject: Some(admission::inject::Sidecar {
            namespace_label: "kguard.io/mesh-inject".to_owned(),
            container_name: "kguard-mesh-proxy".to_owned(),
            image: "ghcr.io/kguard/kguard:0.1.0".to_owned(),
            image_pull_policy: None,
            config_map: "kguard-mesh-{serviceAccount}".to_owned(),
            secret: "kguard-svid-{serviceAccount}".to_owned(),
            requests: std::collections::BTreeMap::new(),
            limits: std::collections::BTreeMap::new(),
            run_as_user: 65532,
        }),
        psp: true,
        // Localhost profile checks need a node's profile set; the decoders they read are the
        // seccomp_profile and apparmor_profile targets'.
        seccomp: None,
        apparmor: None,
    };
    if let Ok(review) = wire::admission_review(data) {
        // The request's namespace opts in to the mesh sidecar, so injection runs too.
        let mut inventory = Inventory::default();
        inventory.namespaces.insert(
            review.request.namespace.clone(),
            [("kguard.io/mesh-inject".to_owned(), "enabled".to_owned())].into_iter().collect(),
        );
        let v = admission::validate(&policies, &inventory, &AlwaysAllow, &review.request);
        let m = admission::mutate(&policies, &inventory, &AlwaysAllow, &review.request);
        let _ = wire::admission_response(&review.api_version, &review.request.uid, &v);
        if let Some(mut obj) = review.request.object.clone() {
            let _ = admission::jsonpatch::apply(&mut obj, &m.patch);
        }
    }
    if let Ok(r) = wire::image_review(data) {
        let _ = policies.images.as_ref().map(|p| p.check_all(r.images.iter().map(String::as_str)));
    }
    let _ = wire::token_review(data);
    let _ = wire::subject_access_review(data);
    let _ = audit::event_lines(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = config::Config::parse("fuzz.yaml", text, std::path::Path::new("/"));
    }
});

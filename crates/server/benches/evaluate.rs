//! The cost of one validating AdmissionReview inside `kguard serve`, stage by stage, without HTTP
//! or TLS: decoding the review, the policies (Pod Security `restricted` + hardening rules at `high`),
//! encoding the answer; then each policy alone on a request whose pod view is already built.
//!
//! `cargo bench -p kguard-server --bench evaluate [-- N]` (N requests, default 20,000). For counts
//! that do not depend on the machine's load: `valgrind --tool=callgrind` on the bench binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
use kguard_admission::{Policies, podsecurity};
use std::time::Instant;
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
/// A validating AdmissionReview of a realistic two-container Pod (2.1 kB; `bench/serve-wrk.sh`
/// sends the same file).
fn body() -> Vec<u8> {
    include_bytes!("pod-review.json").to_vec()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches asks for a list
    }
    let body = body();
    let file: std::sync::Arc<str> = "ns.yaml".into();
    let parsed = kguard_model::load::parse_text(
        &file,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n",
    );
    let inv = kguard_admission::Inventory::from_objects(&parsed.objects);
    let policies = Policies {
        pod_security: Some(podsecurity::Config::default()),
        hardening: Some(kguard_admission::Hardening {
            min_severity: kguard_report::Severity::High,
            deny: true,
            ignore: vec![],
        }),
        ..Default::default()
    };
    let authz = kguard_authz::AlwaysAllow;
    let n: u32 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let mut t = [0u128; 4];
    for i in 0..n + 200 {
        let a = Instant::now();
        let review = kguard_server::wire::admission_review(&body).unwrap();
        let b = Instant::now();
        let r = kguard_admission::validate(&policies, &inv, &authz, &review.request);
        let c = Instant::now();
        let out =
            serde_json::to_vec(&kguard_server::wire::admission_response(&review.api_version, &review.request.uid, &r))
                .unwrap();
        let d = Instant::now();
        assert!(r.allowed);
        std::hint::black_box(out);
        if i >= 200 {
            t[0] += (b - a).as_nanos();
            t[1] += (c - b).as_nanos();
            t[2] += (d - c).as_nanos();
        }
    }
    println!(
        "per request: decode {} ns, validate (pod view included) {} ns, encode {} ns",
        t[0] / u128::from(n),
        t[1] / u128::from(n),
        t[2] / u128::from(n)
    );
    // parts of validate
    let review = kguard_server::wire::admission_review(&body).unwrap();
    let only_ps = Policies { pod_security: Some(podsecurity::Config::default()), ..Default::default() };
    let only_h = Policies { hardening: policies.hardening.clone(), ..Default::default() };
    for (name, p) in [("pod security", &only_ps), ("hardening", &only_h)] {
        let a = Instant::now();
        for _ in 0..n {
            std::hint::black_box(kguard_admission::validate(p, &inv, &authz, &review.request));
        }
        println!("{name} alone (pod view built): {} ns", a.elapsed().as_nanos() / u128::from(n));
    }
}

//! Fuzzes the configuration of `kguard mesh proxy` through `kguard_mesh::proxy::Config::parse`
//! (YAML, unknown and mistyped fields with line:column, SPIFFE IDs in allow-lists and routes,
//! addresses, `host:port`, limits). Parsing reads no file. Any panic or hang is a bug; an error's
//! position is 1-based.
//!
//! The same bytes, read as manifests, go through the Linkerd policy analysis
//! (`kguard_mesh::linkerd`: annotations, port lists, selectors, Servers and authorizations as
//! written by anyone) and every `MESH` rule: no panic, and every answer names its deciding object.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let name: std::sync::Arc<str> = "manifests.yaml".into();
    let objects = kguard_model::load::parse_text(&name, text).objects;
    let linkerd =
        kguard_mesh::linkerd::Linkerd::from_objects(&objects, kguard_mesh::linkerd::DefaultPolicy::AllUnauthenticated);
    for pod in &linkerd.pods {
        for row in linkerd.evaluate(pod, None).ports {
            assert!(row.decided_by.object.is_some() || matches!(row.decided_by.level, "cluster" | "injection"));
        }
    }
    let _ = kguard_mesh::findings::findings(&objects);
    match kguard_mesh::proxy::Config::parse("proxy.yaml", text, std::path::Path::new("/etc/kguard")) {
        Ok(c) => {
            for r in &c.outbound {
                assert!(!r.server_name.is_empty());
                let _ = r.to();
            }
        }
        Err(e) => {
            if let Some(p) = e.pos {
                assert!(p.line >= 1 && p.column >= 1, "{e}");
            }
            let _ = e.to_string();
        }
    }
});

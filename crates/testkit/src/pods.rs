//! Generated pod-heavy manifests: the one generator behind the scaling tests (time linear in the
//! input, peak memory a small multiple of it) and `bench/scan-memory.sh` (through the `gen-pods`
//! binary of this crate).
//!
//! Every pod is different (name, namespace, labels, image) and most trip several rules, so a scan
//! of the output has many objects, many findings per object and findings in every renderer; the
//! output is the same for the same arguments on every machine.

use std::fmt::Write as _;

/// Namespaces the pods are spread over.
const NAMESPACES: usize = 8;

/// Pod number `i` as one YAML document (without a `---` separator): about 700 bytes, two
/// containers, and a mix of the weaknesses a scan reports (privileged, host namespaces, hostPath,
/// added capabilities, root user, no resource limits).
#[must_use]
pub fn pod_manifest(i: usize) -> String {
    let mut s = String::with_capacity(1024);
    let ns = i % NAMESPACES;
    let _ = write!(
        s,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-{i}\n  namespace: team-{ns}\n  labels:\n    app: app-{}\n    tier: {}\n  annotations:\n    owner: team-{ns}@example.com\nspec:\n",
        i % 97,
        ["web", "api", "worker", "batch"].get(i % 4).copied().unwrap_or("web"),
    );
    if i.is_multiple_of(3) {
        s.push_str("  hostNetwork: true\n");
    }
    if i.is_multiple_of(5) {
        s.push_str("  hostPID: yes\n");
    }
    s.push_str("  containers:\n");
    let _ = write!(
        s,
        "  - name: main\n    image: registry.example.com/team-{ns}/app-{}:1.{}.{}\n    ports:\n    - containerPort: {}\n      hostPort: {}\n",
        i % 97,
        i % 13,
        i % 7,
        8000 + i % 1000,
        if i.is_multiple_of(4) { 8000 + i % 1000 } else { 0 }
    );
    s.push_str("    securityContext:\n");
    if i.is_multiple_of(2) {
        s.push_str("      privileged: true\n");
    }
    let _ = writeln!(s, "      runAsUser: {}", if i % 3 == 1 { 0 } else { 1000 + i % 100 });
    s.push_str("      capabilities:\n        add: [\"NET_ADMIN\", \"SYS_TIME\"]\n");
    if i % 2 == 1 {
        s.push_str("    resources:\n      limits:\n        cpu: 500m\n        memory: 128Mi\n");
    }
    s.push_str("    volumeMounts:\n    - name: data\n      mountPath: /data\n");
    let _ = write!(
        s,
        "  - name: sidecar\n    image: docker.io/library/busybox:latest\n    command: [\"sh\", \"-c\", \"sleep {}\"]\n",
        3600 + i
    );
    let _ = write!(s, "  volumes:\n  - name: data\n    hostPath:\n      path: /var/lib/app-{}\n", i % 11);
    s
}

/// A stream of [`pod_manifest`] documents separated by `---` lines, at least `bytes` long (one
/// pod past it at most).
#[must_use]
pub fn pod_heavy_yaml(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 1024);
    let mut i = 0;
    while s.len() < bytes {
        if i > 0 {
            s.push_str("---\n");
        }
        s.push_str(&pod_manifest(i));
        i += 1;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_separators() {
        let one = pod_manifest(0);
        assert!((500..1000).contains(&one.len()), "{} bytes", one.len());
        let text = pod_heavy_yaml(100_000);
        assert!(text.len() >= 100_000 && text.len() < 101_000, "{}", text.len());
        assert_eq!(text.matches("\n---\n").count() + 1, text.matches("kind: Pod\n").count());
        assert_eq!(pod_heavy_yaml(10_000), pod_heavy_yaml(10_000), "deterministic");
    }
}

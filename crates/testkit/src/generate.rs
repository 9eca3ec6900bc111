//! Synthetic inputs shared by tests and benchmarks, so that a test and the benchmark that
//! measures the same code read the same shape (one generator, never copies).

use std::fmt::Write as _;

/// A cluster for NetworkPolicy analysis: `ns` namespaces (labelled `zone: z<n % 4>`), each with
/// `per` Deployments (labels `app`, `tier`; a named `http` port), a default-deny policy and
/// `pols_per_ns - 1` policies mixing namespace and pod selectors, named and ranged ports, and
/// IP blocks. One YAML stream.
#[must_use]
pub fn netpol_cluster(ns: usize, per: usize, pols_per_ns: usize) -> String {
    let mut s = String::new();
    for n in 0..ns {
        let _ = write!(
            s,
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{n}, labels: {{zone: z{}}}}}\n---\n",
            n % 4
        );
        for d in 0..per {
            let _ = write!(
                s,
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d{d}, namespace: ns{n}}}\nspec:\n  template:\n    metadata: {{labels: {{app: a{d}, tier: t{}}}}}\n    spec: {{containers: [{{name: c, ports: [{{name: http, containerPort: {}}}]}}]}}\n---\n",
                d % 5,
                8000 + d % 7
            );
        }
        let _ = write!(
            s,
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: ns{n}}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}\n---\n"
        );
        for p in 1..pols_per_ns {
            let _ = write!(
                s,
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p{p}, namespace: ns{n}}}\nspec:\n  podSelector: {{matchLabels: {{app: a{}}}}}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - namespaceSelector: {{matchLabels: {{zone: z{}}}}}\n      podSelector: {{matchLabels: {{tier: t{}}}}}\n    ports: [{{port: http}}, {{port: 9000, endPort: 9100}}]\n  egress:\n  - to: [{{podSelector: {{matchExpressions: [{{key: tier, operator: In, values: [t{}, t{}]}}]}}}}]\n  - to: [{{ipBlock: {{cidr: 10.{n}.0.0/16}}}}]\n    ports: [{{port: 53, protocol: UDP}}]\n---\n",
                p % per,
                p % 4,
                p % 5,
                p % 5,
                (p + 1) % 5
            );
        }
    }
    s
}

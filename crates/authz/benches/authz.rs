//! The RBAC engine on 10,000 bindings and 2,000 roles (100 namespaces):
//!
//! * one decision: the indexed authorizer against a naive linear evaluator (every
//!   ClusterRoleBinding, then every RoleBinding, subjects matched one by one, roles looked up by a
//!   scan); target well under 10 µs;
//! * `who_can`: every subject granted a request, in one namespace and in every namespace (the
//!   cluster-wide question); target < 50 ms;
//! * `risks()` over the whole inventory; target < 1 s.
//!
//! `cargo bench -p kguard-authz --bench authz` (figures in `benches/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use kguard_authz::matching::rule_allows;
use kguard_authz::policy::{self, Binding, Role};
use kguard_authz::rbac::applies_to;
use kguard_authz::{Rbac, Verdict, risks};
use kguard_model::{Object, load};
use kguard_request::{Attributes, UserInfo};

const NAMESPACES: usize = 100;
const ROLES: usize = 2_000;
const BINDINGS: usize = 10_000;

/// 1,900 Roles (19 per namespace) + 100 ClusterRoles; 9,000 RoleBindings + 1,000 ClusterRoleBindings.
fn inventory() -> Vec<Object> {
    let mut y = String::new();
    let resources = ["pods", "services", "configmaps", "secrets", "deployments", "jobs", "ingresses"];
    for i in 0..ROLES {
        let r = resources[i % resources.len()];
        let r2 = resources[(i + 3) % resources.len()];
        if i < 100 {
            writeln!(y, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: cr-{i}}}")
                .unwrap();
        } else {
            let ns = i % NAMESPACES;
            writeln!(y, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: role-{i}, namespace: ns-{ns}}}").unwrap();
        }
        writeln!(
            y,
            "rules:\n- {{apiGroups: [\"\", apps], resources: [{r}, {r}/status], verbs: [get, list, watch]}}\n- {{apiGroups: [\"\"], resources: [{r2}], verbs: [create, update], resourceNames: [n-{i}]}}\n- {{apiGroups: [batch], resources: [jobs], verbs: [delete]}}"
        )
        .unwrap();
    }
    for i in 0..BINDINGS {
        if i < 1_000 {
            let cr = i % 100;
            writeln!(y, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: crb-{i}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr-{cr}}}").unwrap();
            writeln!(y, "subjects:\n- {{kind: User, name: user-{i}}}\n- {{kind: Group, name: group-{}}}", i % 50)
                .unwrap();
        } else {
            // a RoleBinding in ns-k references a Role of that namespace, or a ClusterRole
            let ns = i % NAMESPACES;
            let role = if i % 3 == 0 {
                format!("kind: ClusterRole, name: cr-{}", i % 100)
            } else {
                let k = 100 + ns + NAMESPACES * ((i / NAMESPACES) % 19);
                format!("kind: Role, name: role-{k}")
            };
            writeln!(y, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: rb-{i}, namespace: ns-{ns}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, {role}}}").unwrap();
            writeln!(
                y,
                "subjects:\n- {{kind: User, name: user-{}}}\n- {{kind: ServiceAccount, name: sa-{}}}\n- {{kind: Group, name: team-{}}}",
                i % 3_000,
                i % 20,
                i % 200
            )
            .unwrap();
        }
    }
    let objects = load::parse_text(&Arc::from("bench.yaml"), &y).objects;
    assert_eq!(objects.len(), ROLES + BINDINGS);
    objects
}

/// The straightforward evaluator: no index, linear scans everywhere.
struct Naive {
    roles: Vec<Role>,
    bindings: Vec<Binding>,
}

impl Naive {
    fn allowed(&self, a: &Attributes) -> bool {
        let visit = |b: &Binding| -> bool {
            if applies_to(&a.user, b).is_none() {
                return false;
            }
            let role = self.roles.iter().find(|r| {
                r.name == b.role_ref.name
                    && match b.role_ref.kind.as_str() {
                        "ClusterRole" => r.cluster,
                        _ => !r.cluster && r.namespace == b.namespace,
                    }
            });
            role.is_some_and(|r| r.rules.iter().any(|rule| rule_allows(a, rule)))
        };
        self.bindings.iter().filter(|b| b.cluster).any(visit)
            || (!a.namespace.is_empty()
                && self.bindings.iter().filter(|b| !b.cluster && b.namespace == a.namespace).any(visit))
    }
}

fn bench(c: &mut Criterion) {
    let objects = inventory();
    let rbac = Rbac::from_objects(&objects);
    let parsed = policy::parse_objects(&objects);
    let naive = Naive { roles: parsed.roles, bindings: parsed.bindings };
    let user = UserInfo::new("user-1042", ["group-7", "team-42", "system:authenticated"].map(str::to_owned));
    // allowed by a RoleBinding near the end; denied after visiting everything that applies
    let allow = Attributes::resource(user.clone(), "get", "", "jobs/status", "ns-42", "x");
    let deny = Attributes::resource(user.clone(), "delete", "", "pods", "ns-42", "x");
    let sa = Attributes::resource(UserInfo::service_account("ns-7", "sa-7"), "list", "apps", "deployments", "ns-7", "");
    for a in [&allow, &deny, &sa] {
        assert_eq!(rbac.decide(a).verdict == Verdict::Allow, naive.allowed(a), "{a}");
    }
    let mut g = c.benchmark_group("rbac decision (10k bindings, 2k roles)");
    for (name, a) in [("allow", &allow), ("deny", &deny), ("sa", &sa)] {
        g.bench_function(format!("indexed/{name}"), |b| b.iter(|| black_box(rbac.decide(black_box(a)).verdict)));
        g.bench_function(format!("naive/{name}"), |b| b.iter(|| black_box(naive.allowed(black_box(a)))));
    }
    g.finish();

    // who-can: a request granted through Roles, ClusterRoles bound in namespaces and
    // ClusterRoleBindings; once in one namespace, once in each of the 100 namespaces.
    let who = |ns: &str| Attributes::resource(UserInfo::new("x", Vec::<String>::new()), "get", "", "pods", ns, "p");
    let one = rbac.who_can(&who("ns-42")).len();
    let all: usize = (0..NAMESPACES).map(|n| rbac.who_can(&who(&format!("ns-{n}"))).len()).sum();
    println!("who_can get pods: {one} grants in ns-42, {all} over the {NAMESPACES} namespaces");
    let namespaces: Vec<Attributes> = (0..NAMESPACES).map(|n| who(&format!("ns-{n}"))).collect();
    let mut g = c.benchmark_group("who_can (10k bindings, 2k roles)");
    g.bench_function("one namespace", |b| b.iter(|| black_box(rbac.who_can(black_box(&namespaces[42])).len())));
    g.bench_function("all 100 namespaces", |b| {
        b.iter(|| namespaces.iter().map(|a| black_box(rbac.who_can(black_box(a)).len())).sum::<usize>());
    });
    g.finish();

    println!("risks: {} findings", risks(&rbac).len());
    let mut g = c.benchmark_group("risks (10k bindings, 2k roles)");
    g.sample_size(10);
    g.bench_function("risks", |b| b.iter(|| black_box(risks(black_box(&rbac)).len())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

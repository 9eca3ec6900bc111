//! Linkerd's inbound policy per pod port: small manifests, the exact decision and the object
//! (file:line:column) that made it; then the MESH008–MESH013 findings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kguard_mesh::linkerd::{
    Access, Authorization, Clients, Decider, DefaultPolicy, Linkerd, Networks, PortPolicy, parse_ports,
};
use kguard_model::{Object, load};

fn objects(yaml: &str) -> Vec<Object> {
    let file: Arc<str> = "t.yaml".into();
    let p = load::parse_text(&file, yaml);
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    p.objects
}

fn answer(objs: &[Object], workload: &str, cluster: DefaultPolicy) -> Vec<PortPolicy> {
    let l = Linkerd::from_objects(objs, cluster);
    let pods = l.find_pod(workload);
    assert_eq!(pods.len(), 1, "{workload}");
    l.evaluate(pods[0], None).ports
}

fn at(level: &'static str, object: &str, location: &str, pointer: &str) -> Decider {
    Decider {
        level,
        object: Some(object.to_owned()),
        location: Some(location.to_owned()),
        pointer: Some(pointer.to_owned()),
    }
}

fn cluster() -> Decider {
    Decider { level: "cluster", object: None, location: None, pointer: None }
}

/// One row as `(port, access, protocol, decided-by level, object, location)`.
fn row(p: &PortPolicy) -> (Option<u16>, &'static str, &str, &'static str, Option<&str>, Option<&str>) {
    (
        p.port,
        p.access.as_str(),
        p.protocol.as_str(),
        p.decided_by.level,
        p.decided_by.object.as_deref(),
        p.decided_by.location.as_deref(),
    )
}

const NS: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations:
    linkerd.io/inject: enabled
    config.linkerd.io/default-inbound-policy: deny
";

fn deployment(name: &str, annotations: &str, ports: &str) -> String {
    format!(
        "---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  template:
    metadata:
      labels:
        app: {name}
      annotations: {{{annotations}}}
    spec:
      serviceAccountName: {name}
      containers:
      - name: c
        image: x
        ports: [{ports}]
"
    )
}

#[test]
fn an_unmeshed_workload_is_plaintext_and_the_missing_annotation_decides() {
    let objs = objects(&deployment("api", "", "{name: http, containerPort: 8080}"));
    let rows = answer(&objs, "api", DefaultPolicy::Deny);
    assert_eq!(
        rows.iter().map(row).collect::<Vec<_>>(),
        vec![
            (Some(8080), "unmeshed", "none", "injection", None, None),
            (None, "unmeshed", "none", "injection", None, None),
        ]
    );
    let l = Linkerd::from_objects(&objs, DefaultPolicy::Deny);
    assert!(!l.applies(), "no Linkerd object or annotation");
}

#[test]
fn injection_follows_the_injector_truth_table() {
    let cases = [
        // (namespace value, pod value, hostNetwork, meshed)
        ("enabled", "", false, true),
        ("enabled", "disabled", false, false),
        ("ingress", "", false, true),
        ("disabled", "enabled", false, true),
        ("", "enabled", false, true),
        ("", "", false, false),
        ("disabled", "", false, false),
        ("enabled", "Enabled", false, false),
        ("yes", "enabled", false, false),
        ("enabled", "", true, false),
    ];
    for (ns, pod, host, meshed) in cases {
        let mut yaml = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations: {{linkerd.io/inject: {ns:?}}}\n"
        );
        let ann = if pod.is_empty() { String::new() } else { format!("linkerd.io/inject: {pod}") };
        yaml.push_str(&deployment("api", &ann, "{containerPort: 80}"));
        if host {
            yaml.push_str("      hostNetwork: true\n");
        }
        let objs = objects(&yaml);
        let l = Linkerd::from_objects(&objs, DefaultPolicy::AllUnauthenticated);
        let (got, _, reason) = l.injection(l.find_pod("api")[0]);
        assert_eq!(got, meshed, "ns {ns:?} pod {pod:?} hostNetwork {host}: {reason:?}");
        assert_eq!(reason.is_none(), meshed);
    }
}

#[test]
fn default_policy_pod_over_namespace_over_cluster() {
    // The namespace says deny; the pod template overrides with all-authenticated.
    let yaml = format!(
        "{NS}{}{}",
        deployment("api", "config.linkerd.io/default-inbound-policy: all-authenticated", "{containerPort: 8080}"),
        deployment("web", "", "{containerPort: 80}")
    );
    let objs = objects(&yaml);
    let api = answer(&objs, "api", DefaultPolicy::AllUnauthenticated);
    let loc = "t.yaml:19:21";
    assert_eq!(
        api.iter().map(row).collect::<Vec<_>>(),
        vec![
            (Some(8080), "mtls", "detect", "pod", Some("Deployment/shop/api"), Some(loc)),
            (None, "mtls", "detect", "pod", Some("Deployment/shop/api"), Some(loc)),
        ]
    );
    assert_eq!(api[0].default_policy, Some(DefaultPolicy::AllAuthenticated));
    assert_eq!(
        api[0].authorizations,
        vec![Authorization {
            by: at(
                "pod",
                "Deployment/shop/api",
                loc,
                "/spec/template/metadata/annotations/config.linkerd.io~1default-inbound-policy"
            ),
            route: None,
            clients: Clients::Identities(vec!["*".into()]),
            networks: Networks::All,
        }]
    );
    // web inherits the namespace's deny.
    let web = answer(&objs, "web", DefaultPolicy::AllUnauthenticated);
    assert_eq!(row(&web[0]), (Some(80), "deny", "detect", "namespace", Some("Namespace/shop"), Some("t.yaml:7:5")));
    assert!(web[0].authorizations.is_empty());
    // Without the namespace object, the cluster's default.
    let objs = objects(&deployment("web", "linkerd.io/inject: enabled", "{containerPort: 80}"));
    let web = answer(&objs, "web", DefaultPolicy::ClusterUnauthenticated);
    assert_eq!(web[0].decided_by, cluster());
    assert_eq!(web[0].access, Access::Plaintext);
    assert_eq!(web[0].authorizations[0].networks, Networks::Cluster);
}

#[test]
fn an_invalid_default_policy_falls_back_to_the_cluster_default() {
    let yaml =
        format!("{NS}{}", deployment("api", "config.linkerd.io/default-inbound-policy: Deny", "{containerPort: 80}"));
    let objs = objects(&yaml);
    let l = Linkerd::from_objects(&objs, DefaultPolicy::AllUnauthenticated);
    let pod = l.find_pod("api")[0];
    let d = l.pod_default(pod);
    assert_eq!(d.policy, DefaultPolicy::AllUnauthenticated);
    assert_eq!(d.by, cluster());
    let (by, value) = d.invalid.unwrap();
    assert_eq!((by.level, value.as_str()), ("pod", "Deny"));
    assert_eq!(l.evaluate(pod, Some(80)).ports[0].access, Access::Plaintext);
}

const SERVERS: &str = "---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: api-http, namespace: shop, labels: {tier: front}}
spec:
  podSelector: {matchLabels: {app: api}}
  port: http
  proxyProtocol: HTTP/2
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: api-admin, namespace: shop}
spec:
  podSelector:
    matchExpressions: [{key: app, operator: In, values: [api, web]}]
  port: 9990
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: api-grpc, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  port: 7000
  accessPolicy: cluster-unauthenticated
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: web, namespace: shop}
spec:
  identities: [\"*.monitoring.serviceaccount.identity.linkerd.cluster.local\"]
  identityRefs: [{kind: ServiceAccount, name: web}]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: nodes, namespace: shop}
spec:
  networks: [{cidr: 10.0.0.0/8, except: [10.9.0.0/16]}]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: api-from-web, namespace: shop}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: api-http}
  requiredAuthenticationRefs:
  - {group: policy.linkerd.io, kind: MeshTLSAuthentication, name: web}
  - {group: policy.linkerd.io, kind: NetworkAuthentication, name: nodes}
---
apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata: {name: front-probes, namespace: shop}
spec:
  server: {selector: {matchLabels: {tier: front}}}
  client: {unauthenticated: true}
";

#[test]
fn a_server_takes_the_port_and_its_authorizations_decide() {
    let yaml =
        format!("{NS}{}{SERVERS}", deployment("api", "", "{name: http, containerPort: 8080}, {containerPort: 9990}"));
    let objs = objects(&yaml);
    let rows = answer(&objs, "api", DefaultPolicy::AllUnauthenticated);
    assert_eq!(
        rows.iter().map(row).collect::<Vec<_>>(),
        vec![
            (Some(7000), "plaintext", "detect", "server", Some("Server/shop/api-grpc"), Some("t.yaml:48:3")),
            (Some(8080), "plaintext", "HTTP/2", "server", Some("Server/shop/api-http"), Some("t.yaml:32:3")),
            (Some(9990), "deny", "detect", "server", Some("Server/shop/api-admin"), Some("t.yaml:41:3")),
            (None, "deny", "detect", "namespace", Some("Namespace/shop"), Some("t.yaml:7:5")),
        ]
    );
    // 7000: the Server's accessPolicy.
    assert_eq!(rows[0].authorizations.len(), 1);
    assert_eq!(rows[0].authorizations[0].by.object.as_deref(), Some("Server/shop/api-grpc"));
    assert_eq!(rows[0].authorizations[0].networks, Networks::Cluster);
    // 8080: the AuthorizationPolicy (mTLS, from 10/8 but 10.9/16) and the ServerAuthorization
    // that selects the Server by its labels (plaintext, cluster networks).
    let by: BTreeMap<&str, &Authorization> =
        rows[1].authorizations.iter().map(|a| (a.by.object.as_deref().unwrap(), a)).collect();
    let ap = by["AuthorizationPolicy/shop/api-from-web"];
    assert_eq!(
        ap.clients,
        Clients::Identities(vec![
            "*.monitoring.serviceaccount.identity.linkerd.cluster.local".into(),
            "web.shop.serviceaccount.identity.linkerd.cluster.local".into()
        ])
    );
    assert_eq!(ap.networks, Networks::Cidrs(vec!["10.0.0.0/8 except 10.9.0.0/16".into()]));
    assert_eq!(ap.by.location.as_deref(), Some("t.yaml:68:3"));
    let saz = by["ServerAuthorization/shop/front-probes"];
    assert_eq!((&saz.clients, &saz.networks), (&Clients::Unauthenticated, &Networks::Cluster));
    assert_eq!(by.len(), 2);
}

#[test]
fn the_oldest_server_wins_a_port() {
    let yaml = format!(
        "{NS}{}{}",
        deployment("api", "", "{name: http, containerPort: 8080}"),
        "---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: b-old, namespace: shop, creationTimestamp: \"2025-01-01T00:00:00Z\"}
spec: {podSelector: {}, port: 8080, accessPolicy: all-authenticated}
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: a-new, namespace: shop, creationTimestamp: \"2026-01-01T00:00:00Z\"}
spec: {podSelector: {matchLabels: {app: api}}, port: http}
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: a-undated, namespace: other}
spec: {podSelector: {}, port: http}
"
    );
    let objs = objects(&yaml);
    let rows = answer(&objs, "api", DefaultPolicy::AllUnauthenticated);
    assert_eq!(rows[0].decided_by.object.as_deref(), Some("Server/shop/b-old"));
    assert_eq!(rows[0].shadowed, vec!["Server/shop/a-new".to_owned()]);
    assert_eq!(rows[0].access, Access::MeshTls);
}

#[test]
fn opaque_ports_and_required_identity() {
    // The pod's list (a range and a port name); the install's default list for the ports a pod
    // exposes when neither the pod nor the namespace has one.
    let yaml = format!(
        "{NS}{}{}",
        deployment(
            "api",
            "config.linkerd.io/opaque-ports: \"4000-4001,db\", config.linkerd.io/default-inbound-policy: all-unauthenticated, config.linkerd.io/proxy-require-identity-inbound-ports: \"4001\"",
            "{containerPort: 4000}, {containerPort: 4001}, {name: db, containerPort: 5000}, {containerPort: 6000}"
        ),
        deployment("cache", "", "{containerPort: 6379}, {containerPort: 8080}")
    );
    let objs = objects(&yaml);
    let rows = answer(&objs, "api", DefaultPolicy::Deny);
    let got: Vec<(Option<u16>, &str, &str)> =
        rows.iter().map(|r| (r.port, r.protocol.as_str(), r.access.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (Some(4000), "opaque", "plaintext"),
            (Some(4001), "opaque", "mtls"),
            (Some(5000), "opaque", "plaintext"),
            (Some(6000), "detect", "plaintext"),
            (None, "detect", "plaintext"),
        ]
    );
    assert_eq!(rows[0].protocol_by.as_ref().unwrap().level, "pod");
    let cache = answer(&objs, "cache", DefaultPolicy::Deny);
    assert_eq!((cache[0].port, cache[0].protocol.as_str()), (Some(6379), "opaque"));
    assert_eq!(cache[0].protocol_by, Some(cluster()));
    assert_eq!((cache[1].port, cache[1].protocol.as_str()), (Some(8080), "detect"));
}

#[test]
fn port_lists_parse_as_linkerd_reads_them() {
    let names: BTreeMap<String, BTreeSet<u16>> = [("db".to_owned(), BTreeSet::from([5432]))].into();
    let ok = |s: &str| parse_ports(s, &names).unwrap().into_iter().collect::<Vec<_>>();
    assert_eq!(ok(""), Vec::<u16>::new());
    assert_eq!(ok("1"), vec![1]);
    assert_eq!(ok("1-3"), vec![1, 2, 3]);
    assert_eq!(ok("4,1-2"), vec![1, 2, 4]);
    assert_eq!(ok(" 25 , db"), vec![25, 5432]);
    for bad in ["0", "2-1", "2-", "65537", "mysql"] {
        assert!(parse_ports(bad, &names).is_err(), "{bad}");
    }
}

#[test]
fn policies_that_never_apply_grant_nothing() {
    let yaml = format!(
        "{NS}{}{}",
        deployment("api", "", "{containerPort: 8080}"),
        "---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: api, namespace: shop}
spec: {podSelector: {matchLabels: {app: api}}, port: 8080}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: missing-authn, namespace: shop}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: api}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: nope}]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: other-namespace, namespace: shop}
spec:
  targetRef: {kind: Namespace, name: kube-system}
  requiredAuthenticationRefs: []
---
apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata: {name: no-clients, namespace: shop}
spec:
  server: {name: api}
  client: {meshTLS: {}}
"
    );
    let objs = objects(&yaml);
    let rows = answer(&objs, "api", DefaultPolicy::AllUnauthenticated);
    assert_eq!(rows[0].access, Access::Deny);
    assert!(rows[0].authorizations.is_empty());
}

fn findings_of(yaml: &str) -> Vec<(String, String, String)> {
    let objs = objects(yaml);
    let mut got: Vec<(String, String, String)> = kguard_mesh::findings::findings(&objs)
        .into_iter()
        .map(|f| (f.rule_id, f.location.unwrap().to_string(), f.message))
        .collect();
    got.sort();
    got
}

#[test]
fn the_fixture_gives_each_finding_once_at_the_deciding_field() {
    let text = std::fs::read_to_string(kguard_testkit::repo_root().join("tests/fixtures/mesh/linkerd.yaml")).unwrap();
    let got = findings_of(&text);
    let ids: Vec<(&str, &str)> = got.iter().map(|(r, l, _)| (r.as_str(), l.as_str())).collect();
    assert_eq!(
        ids,
        vec![
            ("MESH008", "t.yaml:164:5"),
            ("MESH008", "t.yaml:50:9"),
            ("MESH010", "t.yaml:190:3"),
            ("MESH010", "t.yaml:195:7"),
            ("MESH011", "t.yaml:126:3"),
            ("MESH011", "t.yaml:176:3"),
            ("MESH012", "t.yaml:107:3"),
        ],
        "{got:#?}"
    );
    let msg = |id: &str, loc: &str| got.iter().find(|(r, l, _)| r == id && l == loc).unwrap().2.clone();
    assert_eq!(
        msg("MESH008", "t.yaml:50:9"),
        "Deployment/books/web: config.linkerd.io/default-inbound-policy: all-unauthenticated admits plaintext \
         (unauthenticated) clients on meshed Deployment/books/web port 8080, other ports"
    );
    assert_eq!(
        msg("MESH012", "t.yaml:107:3"),
        "Server/books/api-legacy: Server/books/api-http also selects Deployment/books/api port 8080; the controller \
         keeps the older Server/books/api-http and ignores this Server"
    );
    assert_eq!(
        msg("MESH008", "t.yaml:164:5"),
        "ServerAuthorization/books/api-admin-nodes: the authorization (from 10.0.0.0/8) admits plaintext \
         (unauthenticated) clients on meshed Deployment/books/api port 9990"
    );
    assert_eq!(
        msg("MESH010", "t.yaml:195:7"),
        "AuthorizationPolicy/books/api-metrics: MeshTLSAuthentication books/prometheus is not in the input: the \
         policy controller ignores it"
    );
}

#[test]
fn no_linkerd_no_findings_and_invalid_values_are_reported() {
    assert!(findings_of(&deployment("api", "", "{containerPort: 80}")).is_empty());
    let yaml = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations: {{linkerd.io/inject: \"yes\", config.linkerd.io/default-inbound-policy: strict}}\n{}",
        deployment("api", "config.linkerd.io/opaque-ports: \"mysql\"", "{containerPort: 80}")
    );
    let got = findings_of(&yaml);
    let ids: Vec<&str> = got.iter().map(|(r, _, _)| r.as_str()).collect();
    assert_eq!(ids, vec!["MESH013", "MESH013", "MESH013"], "{got:#?}");
}

#[test]
fn plaintext_through_an_invalid_default_policy_points_at_the_annotation() {
    let objs = objects(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations:\n    linkerd.io/inject: enabled\n    \
         config.linkerd.io/default-inbound-policy: All-Authenticated\n---\napiVersion: apps/v1\nkind: Deployment\n\
         metadata: {name: api, namespace: shop}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    \
         metadata: {labels: {app: api}}\n    spec:\n      containers:\n      - name: api\n        image: x\n        \
         ports: [{name: http, containerPort: 8080}]\n",
    );
    let plaintext: Vec<_> =
        kguard_mesh::findings::findings(&objs).into_iter().filter(|f| f.rule_id == "MESH008").collect();
    assert_eq!(plaintext.len(), 1, "{plaintext:#?}");
    let f = &plaintext[0];
    assert_eq!(f.object.as_ref().map(|o| o.kind.as_str()), Some("Namespace"));
    assert_eq!(f.pointer.as_deref(), Some("/metadata/annotations/config.linkerd.io~1default-inbound-policy"));
    assert!(
        f.message.contains("\"All-Authenticated\" (no policy, so the cluster's default all-unauthenticated)"),
        "{}",
        f.message
    );
}

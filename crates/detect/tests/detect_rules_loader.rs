//! Rules-file loading: overrides, appends, redefinition, exceptions, errors with file:line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_detect::{RuleMatching, k8saudit};

fn event(json: &str) -> k8saudit::AuditEvent {
    k8saudit::AuditEvent::new(serde_json::from_str(json).unwrap(), 1)
}

const BASE: &str = r#"
- list: ok_users
  items: [alice]
- macro: done
  condition: ka.stage = ResponseComplete
- rule: Unknown User
  desc: d
  condition: done and not ka.user.name in (ok_users)
  output: user=%ka.user.name verb=%ka.verb ns=%ka.target.namespace
  priority: WARNING
  source: k8s_audit
  tags: [t]
- rule: Any Event
  desc: d
  condition: done
  output: any %ka.verb
  priority: debug
  source: k8s_audit
- rule: Syscall Rule
  desc: d
  condition: evt.type = open and proc.name = x
  output: "%proc.name"
  priority: ERROR
"#;

const BOB: &str = r#"{"kind":"Event","stage":"ResponseComplete","verb":"get","user":{"username":"bob"},"objectRef":{"resource":"pods","namespace":"ns1","name":"p"}}"#;

fn rules_fired(files: &[(&str, &str)], ev: &str, all: bool) -> Vec<String> {
    let (mut e, _) = kguard_detect::load(files)
        .unwrap_or_else(|m| panic!("{}", m.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")));
    if all {
        e.rule_matching = RuleMatching::All;
    }
    e.process(&event(ev)).into_iter().map(|a| a.rule).collect()
}

#[test]
fn first_and_all_matching() {
    assert_eq!(rules_fired(&[("a.yaml", BASE)], BOB, false), ["Unknown User"]);
    assert_eq!(rules_fired(&[("a.yaml", BASE)], BOB, true), ["Unknown User", "Any Event"]);
}

#[test]
fn output_and_json_shape() {
    let (e, _) = kguard_detect::load(&[("a.yaml", BASE)]).unwrap();
    let a = &e.process(&event(BOB))[0];
    assert_eq!(a.message, "user=bob verb=get ns=ns1");
    let j = a.to_json("h");
    assert_eq!(j["rule"], "Unknown User");
    assert_eq!(j["priority"], "Warning");
    assert_eq!(j["source"], "k8s_audit");
    assert_eq!(j["output_fields"]["ka.user.name"], "bob");
    assert_eq!(j["tags"][0], "t");
    let (e, _) =
        kguard_detect::load(&[("a.yaml", &BASE.replace("ns=%ka.target.namespace", "sub=%ka.target.subresource"))])
            .unwrap();
    let a = &e.process(&event(BOB))[0];
    assert!(a.message.ends_with("sub=<NA>"), "{}", a.message);
    assert!(a.to_json("h")["output_fields"]["ka.target.subresource"].is_null());
}

#[test]
fn list_append_and_override() {
    let add = "- list: ok_users\n  items: [bob]\n  append: true\n";
    assert_eq!(rules_fired(&[("a.yaml", BASE), ("b.yaml", add)], BOB, false), ["Any Event"]);
    let ov = "- list: ok_users\n  items: [carol]\n  override:\n    items: replace\n";
    assert_eq!(rules_fired(&[("a.yaml", BASE), ("b.yaml", ov)], BOB, false), ["Unknown User"]);
}

#[test]
fn rule_override_enable_and_exceptions() {
    let disable = "- rule: Unknown User\n  enabled: false\n  override:\n    enabled: replace\n";
    assert_eq!(rules_fired(&[("a.yaml", BASE), ("b.yaml", disable)], BOB, false), ["Any Event"]);
    let cond = "- rule: Unknown User\n  condition: and ka.verb = delete\n  override:\n    condition: append\n";
    assert_eq!(rules_fired(&[("a.yaml", BASE), ("b.yaml", cond)], BOB, false), ["Any Event"]);
    let exc = r"
- rule: Unknown User
  exceptions:
  - name: ns_and_verb
    fields: [ka.target.namespace, ka.verb]
    comps: [=, in]
    values:
    - [ns1, [get, list]]
  override:
    exceptions: append
";
    assert_eq!(rules_fired(&[("a.yaml", BASE), ("b.yaml", exc)], BOB, false), ["Any Event"]);
    let exc1 = "- rule: Unknown User\n  exceptions:\n  - name: users\n    fields: ka.user.name\n    values: [bob]\n  append: true\n";
    assert_eq!(rules_fired(&[("a.yaml", BASE), ("b.yaml", exc1)], BOB, false), ["Any Event"]);
}

#[test]
fn redefinition_replaces() {
    let redef = "- macro: done\n  condition: ka.stage = ResponseStarted\n";
    assert!(rules_fired(&[("a.yaml", BASE), ("b.yaml", redef)], BOB, true).is_empty());
}

#[test]
fn errors_name_file_and_line() {
    let bad =
        "- rule: Broken\n  desc: d\n  condition: ka.verb = (\n  output: o\n  priority: INFO\n  source: k8s_audit\n";
    let errs = kguard_detect::load(&[("bad.yaml", bad)]).unwrap_err();
    let s = errs[0].to_string();
    assert!(s.starts_with("bad.yaml:1:3: error:"), "{s}");
    assert!(s.contains("rule 'Broken'"), "{s}");

    let missing = "- rule: NoOutput\n  desc: d\n  condition: ka.verb = get\n  priority: INFO\n";
    let s = kguard_detect::load(&[("m.yaml", missing)]).unwrap_err()[0].to_string();
    assert!(s.contains("no mapping for key 'output'"), "{s}");

    let unknown =
        "- rule: F\n  desc: d\n  condition: ka.nope = 1\n  output: o\n  priority: INFO\n  source: k8s_audit\n";
    let s = kguard_detect::load(&[("u.yaml", unknown)]).unwrap_err()[0].to_string();
    assert!(s.contains("nonexistent field ka.nope"), "{s}");

    let undefined =
        "- rule: F\n  desc: d\n  condition: nosuchmacro\n  output: o\n  priority: INFO\n  source: k8s_audit\n";
    let s = kguard_detect::load(&[("u.yaml", undefined)]).unwrap_err()[0].to_string();
    assert!(s.contains("Undefined macro 'nosuchmacro'"), "{s}");

    let before = "- list: nothing\n  items: [a]\n  append: true\n";
    assert!(kguard_detect::load(&[("x.yaml", before)]).is_err());

    let engine = "- required_engine_version: 9999\n";
    let s = kguard_detect::load(&[("v.yaml", engine)]).unwrap_err()[0].to_string();
    assert!(s.contains("engine version"), "{s}");

    let src = "- rule: Any Event\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n";
    let s = kguard_detect::load(&[("a.yaml", BASE), ("s.yaml", src)]).unwrap_err()[0].to_string();
    assert!(s.contains("different source"), "{s}");
}

#[test]
fn field_semantics() {
    let rule = |cond: &str| {
        format!("- rule: R\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n  source: k8s_audit\n")
    };
    let pod = r#"{"kind":"Event","stage":"ResponseComplete","verb":"create","requestURI":"/api/v1/namespaces/a/pods?dryRun=All","user":{"username":"u","groups":["g1","system:authenticated"]},"objectRef":{"resource":"pods","namespace":"a"},"requestObject":{"spec":{"securityContext":{"runAsUser":1000},"volumes":[{"name":"v","hostPath":{"path":"/var/run/docker.sock"}}],"containers":[{"name":"c1","image":"docker.io/nginx:1.25@sha256:abc","securityContext":{"privileged":true}},{"name":"c2","image":"busybox","securityContext":{"runAsUser":0}}]}}}"#;
    let fires = |cond: &str| !rules_fired(&[("r.yaml", &rule(cond))], pod, false).is_empty();
    assert!(fires("ka.req.pod.containers.privileged intersects (true)"));
    assert!(fires("ka.req.pod.containers.image.repository in (docker.io/nginx, busybox)"));
    assert!(!fires("ka.req.pod.containers.image.repository in (busybox)"));
    assert!(fires("ka.req.pod.containers.image[1] in (busybox)"));
    assert!(fires("ka.req.pod.containers.eff_run_as_user intersects (0)"));
    assert!(fires("ka.req.pod.containers.eff_run_as_user intersects (1000)"));
    assert!(fires("jevt.value[/requestObject/spec/volumes/0/hostPath/path] pmatch (/var/run)"));
    assert!(fires("ka.req.volume.hostpath[/var/run*] = true"));
    assert!(fires("ka.uri.param[dryRun] = All"));
    assert!(fires("ka.user.groups intersects (g1)"));
    assert!(!fires("ka.user.groups in (g1)"));
    assert!(fires("jevt.value[/requestObject/spec/containers/0/name] = c1"));
    assert!(fires("ka.uri glob '/api/v1/*/a/pods*'"));
    assert!(fires("ka.uri regex '/api/v1/.*'"));
    assert!(!fires("ka.uri regex 'v1'"));
    assert!(fires("ka.verb = oneof (create, delete)"));
    assert!(fires("toupper(ka.verb) = CREATE"));
    assert!(fires("len(ka.verb) = 6"));
    assert!(fires("ka.verb icontains REA"));
    // a missing field makes every comparison false, `!=` included
    assert!(!fires("ka.target.subresource != exec"));
    assert!(fires("not ka.target.subresource = exec"));
    assert!(fires("ka.target.namespace = val(ka.target.namespace)"));
}

#[test]
fn bundled_rules_load_and_fire() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/kguard_k8s_audit_rules.yaml"))
        .unwrap();
    let (e, msgs) = kguard_detect::load(&[("kguard_k8s_audit_rules.yaml", &text)]).unwrap();
    assert!(msgs.is_empty(), "{msgs:?}");
    assert!(e.rules().len() >= 10);
    let Some(dir) = kguard_testkit::shared_path("oracles/falco-k8saudit/test/trace_files/k8s_audit") else { return };
    let cases = [
        ("create_nginx_pod_privileged.json", "kguard Privileged Container Created"),
        ("create_nginx_pod_hostnetwork.json", "kguard Host Namespace Pod Created"),
        ("create_nginx_pod_sensitive_mount.json", "kguard Sensitive HostPath Mounted"),
        ("exec_pod.json", "kguard Interactive Container Access"),
        ("attach_cluster_admin_role.json", "kguard Cluster-Admin Binding Created"),
        ("create_cluster_role_wildcard_verbs.json", "kguard Wildcard Role Created"),
        ("anonymous_creates_namespace_foo.json", "kguard Anonymous Request Allowed"),
        ("create_nginx_service_nodeport.json", "kguard NodePort Service Created"),
    ];
    for (file, rule) in cases {
        let (evs, _) = k8saudit::parse_events(&std::fs::read_to_string(dir.join(file)).unwrap(), 1);
        let fired: Vec<String> = evs.iter().flat_map(|ev| e.process(ev)).map(|a| a.rule).collect();
        assert!(fired.iter().any(|r| r == rule), "{file}: {fired:?}");
    }
}

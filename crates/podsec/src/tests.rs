//! Exact-message tests, from upstream's `policy/check_*_test.go` expectations.

use super::*;
use kguard_model::pod::{self as model, ObjectMeta, PodSpec};
use kguard_model::workload::TemplateKind;
use serde_json::{Value, json};

fn view_with(meta: Value, spec: Value) -> PodView {
    let metadata: ObjectMeta = model::from_json(meta).unwrap();
    let spec: PodSpec = model::from_json(spec).unwrap();
    PodView { kind: TemplateKind::Pod, name: "p".into(), prefix: String::new(), metadata, spec }
}

fn view(spec: Value) -> PodView {
    view_with(json!({}), spec)
}

/// Runs one check (by id) at a version, returning `(reason, detail)` when it fails.
fn run(id: &str, minor: u64, v: &PodView) -> Option<(String, String)> {
    let def = checks::CHECKS.iter().find(|c| c.id == id).unwrap();
    (def.run)(v, minor).map(|r| (r.reason, r.detail))
}

fn expect(id: &str, minor: u64, v: &PodView, reason: &str, detail: &str) {
    let got = run(id, minor, v);
    assert_eq!(got, Some((reason.to_owned(), detail.to_owned())), "{id} at v1.{minor}");
}

#[test]
fn registry_order_and_ids() {
    let ids: Vec<&str> = checks::CHECKS.iter().map(|c| c.id).collect();
    for level in [Level::Baseline, Level::Restricted] {
        let group: Vec<&str> = checks::CHECKS.iter().filter(|c| c.level == level).map(|c| c.id).collect();
        let mut sorted = group.clone();
        sorted.sort_unstable();
        assert_eq!(group, sorted, "{level} checks sorted bytewise");
    }
    assert_eq!(RULES.len(), ids.len());
    for (i, (rule, id)) in RULES.iter().zip(&ids).enumerate() {
        assert_eq!(rule.name, *id);
        assert_eq!(rule.id, format!("PSS{:03}", i + 1));
        assert_eq!(rule.family, "pss");
    }
    assert_eq!(check_ids(Level::Privileged, Version::Latest), Vec::<&str>::new());
    assert_eq!(check_ids(Level::Baseline, Version::V1(0)).len(), 11);
    let r21 = check_ids(Level::Restricted, Version::V1(21));
    assert!(r21.contains(&"capabilities_baseline") && !r21.contains(&"capabilities_restricted"));
    assert!(!r21.contains(&"seccompProfile_baseline") && !r21.contains(&"hostPathVolumes"));
    let r22 = check_ids(Level::Restricted, Version::V1(22));
    assert!(!r22.contains(&"capabilities_baseline") && r22.contains(&"capabilities_restricted"));
    let r34 = check_ids(Level::Restricted, Version::V1(34));
    assert!(r34.contains(&"procMount") && !r34.contains(&"procMount_restricted"));
    let latest = check_ids(Level::Restricted, Version::Latest);
    assert!(!latest.contains(&"procMount") && latest.contains(&"procMount_restricted"));
    assert_eq!(latest, check_ids(Level::Restricted, Version::V1(99)));
}

#[test]
fn versions_and_levels_parse_like_upstream() {
    for (s, want) in [
        ("latest", Version::Latest),
        ("v1.0", Version::V1(0)),
        ("v1.20", Version::V1(20)),
        ("v1.10000", Version::V1(10000)),
    ] {
        assert_eq!(Version::parse(s), Ok(want), "{s}");
        assert_eq!(want.to_string(), s);
    }
    for s in
        ["foo", "", "v2.0", "v1", "1.1", "v1.01", "v1.", "v1.-1", "V1.2", "v1.2 ", "latest ", "v1.99999999999999999999"]
    {
        assert_eq!(Version::parse(s), Err(InvalidVersion), "{s:?}");
    }
    assert_eq!(Version::V1(40).effective_minor(), 37);
    assert_eq!(Version::Latest.effective_minor(), 37);
    assert_eq!(Level::parse("Restricted"), Err(InvalidLevel));
    assert_eq!("baseline".parse::<Level>(), Ok(Level::Baseline));
}

#[test]
fn namespace_labels_like_policy_to_evaluate() {
    let lv = |level, version| LevelVersion { level, version };
    let p = LevelVersion::PRIVILEGED;
    let parse = |kvs: &[(&str, &str)]| {
        let labels: Vec<(String, String)> = kvs
            .iter()
            .map(|(k, v)| (format!("{LABEL_PREFIX}{k}"), (*v).to_owned()))
            .chain([("other".into(), "x".into())])
            .collect();
        NamespacePolicy::from_labels(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    };
    use Level::{Baseline, Privileged, Restricted};
    type Case<'a> = (&'a [(&'a str, &'a str)], LevelVersion, LevelVersion, LevelVersion, bool);
    let cases: Vec<Case<'_>> = vec![
        (&[("enforce", "baseline")], lv(Baseline, Version::Latest), lv(Baseline, Version::Latest), p, false),
        (&[("warn", "restricted")], p, lv(Restricted, Version::Latest), p, false),
        (&[("audit", "baseline")], p, p, lv(Baseline, Version::Latest), false),
        (
            &[("enforce", "baseline"), ("warn", "restricted")],
            lv(Baseline, Version::Latest),
            lv(Restricted, Version::Latest),
            p,
            false,
        ),
        (
            &[("enforce", "baseline"), ("enforce-version", "v1.22")],
            lv(Baseline, Version::V1(22)),
            lv(Baseline, Version::V1(22)),
            p,
            false,
        ),
        (
            &[("enforce", "baseline"), ("enforce-version", "v1.22"), ("warn-version", "latest")],
            lv(Baseline, Version::V1(22)),
            lv(Baseline, Version::Latest),
            p,
            false,
        ),
        (
            &[("enforce", "baseline"), ("warn-version", "v1.23")],
            lv(Baseline, Version::Latest),
            lv(Baseline, Version::V1(23)),
            p,
            false,
        ),
        (&[("enforce", "baseline"), ("warn", "privileged")], lv(Baseline, Version::Latest), p, p, false),
        (&[("enforce", "baseline"), ("warn", "foo")], lv(Baseline, Version::Latest), p, p, true),
        (&[("enforce", "foo")], lv(Restricted, Version::Latest), p, p, true),
        (&[("audit", "foo"), ("audit-version", "v1")], p, p, lv(Privileged, Version::Latest), true),
    ];
    for (kvs, enforce, warn, audit, err) in cases {
        let (policy, errors) = parse(kvs);
        assert_eq!((policy.enforce, policy.warn, policy.audit), (enforce, warn, audit), "{kvs:?}");
        assert_eq!(!errors.is_empty(), err, "{kvs:?}: {errors:?}");
        assert!(policy.has_labels());
    }
    let (_, errors) = parse(&[("enforce", "foo"), ("enforce-version", "v2")]);
    assert_eq!(
        errors,
        [
            (
                ENFORCE_LEVEL_LABEL.to_owned(),
                r#"metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "foo": must be one of privileged, baseline, restricted"#
                    .to_owned()
            ),
            (
                ENFORCE_VERSION_LABEL.to_owned(),
                r#"metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "v2": must be "latest" or "v1.x""#.to_owned()
            ),
        ]
    );
    let (policy, errors) = NamespacePolicy::from_labels([("app", "x")]);
    assert!(!policy.has_labels() && errors.is_empty() && policy.modes(true).is_empty());
    let (policy, _) =
        parse(&[("enforce", "restricted"), ("audit", "restricted"), ("warn", "baseline"), ("warn-version", "v1.20")]);
    assert_eq!(policy.modes(true), [("enforce", Restricted, Version::Latest), ("warn", Baseline, Version::V1(20))]);
    assert_eq!(default_modes(Baseline, Version::V1(30), false), [("enforce", Baseline, Version::V1(30))]);
    assert!(default_modes(Privileged, Version::Latest, true).is_empty());
}

#[test]
fn sysctls_messages() {
    let pod = |names: &[&str]| {
        view(
            json!({"securityContext": {"sysctls": names.iter().map(|n| json!({"name": n, "value": "0"})).collect::<Vec<_>>()}}),
        )
    };
    expect("sysctls", 0, &pod(&["a", "b"]), "forbidden sysctls", "a, b");
    expect(
        "sysctls",
        26,
        &pod(&["net.ipv4.ip_local_reserved_ports"]),
        "forbidden sysctls",
        "net.ipv4.ip_local_reserved_ports",
    );
    assert_eq!(run("sysctls", 27, &pod(&["net.ipv4.ip_local_reserved_ports"])), None);
    expect(
        "sysctls",
        28,
        &pod(&[
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ]),
        "forbidden sysctls",
        "net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout, net.ipv4.tcp_keepalive_intvl, net.ipv4.tcp_keepalive_probes",
    );
    assert_eq!(run("sysctls", 29, &pod(&["net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout"])), None);
    expect(
        "sysctls",
        31,
        &pod(&["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"]),
        "forbidden sysctls",
        "net.ipv4.tcp_rmem, net.ipv4.tcp_wmem",
    );
    assert_eq!(run("sysctls", 32, &pod(&["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"])), None);
    expect("sysctls", 36, &pod(&["net.ipv4.tcp_notsent_lowat"]), "forbidden sysctls", "net.ipv4.tcp_notsent_lowat");
    assert_eq!(run("sysctls", 37, &pod(&["net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"])), None);
    assert_eq!(run("sysctls", 0, &pod(&["kernel.shm_rmid_forced", "net.ipv4.ip_unprivileged_port_start"])), None);
}

#[test]
fn capabilities_restricted_messages() {
    let v = view(json!({"containers": [
        {"name": "a", "securityContext": null},
        {"name": "b", "securityContext": {}},
        {"name": "c", "securityContext": {"capabilities": {}}},
        {"name": "d", "securityContext": {"capabilities": {"drop": ["NET_BIND_SERVICE"]}}},
        {"name": "e", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "FOO"]}}},
        {"name": "f", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["BAR", "FOO"]}}},
        {"name": "g", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}},
    ]}));
    expect(
        "capabilities_restricted",
        22,
        &v,
        "unrestricted capabilities",
        r#"containers "a", "b", "c", "d" must set securityContext.capabilities.drop=["ALL"]; containers "e", "f" must not include "BAR", "FOO" in securityContext.capabilities.add"#,
    );
    let one = view(json!({"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]}));
    expect(
        "capabilities_restricted",
        22,
        &one,
        "unrestricted capabilities",
        r#"container "c" must set securityContext.capabilities.drop=["ALL"]; container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add"#,
    );
    let windows = view(json!({"os": {"name": "windows"}, "containers": [{"name": "a"}]}));
    assert!(run("capabilities_restricted", 24, &windows).is_some());
    assert_eq!(run("capabilities_restricted", 25, &windows), None);
    let baseline = view(json!({"containers": [
        {"name": "a", "securityContext": {"capabilities": {"add": ["CHOWN", "SYS_ADMIN"]}}},
        {"name": "b", "securityContext": {"capabilities": {"add": ["NET_RAW", "SYS_ADMIN"]}}},
    ]}));
    expect(
        "capabilities_baseline",
        0,
        &baseline,
        "non-default capabilities",
        r#"containers "a", "b" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add"#,
    );
}

#[test]
fn run_as_non_root_messages() {
    let v = view(json!({"securityContext": {"runAsNonRoot": false}, "containers": [
        {"name": "a"},
        {"name": "b", "securityContext": {"runAsNonRoot": false}},
        {"name": "c", "securityContext": {"runAsNonRoot": false}},
        {"name": "d", "securityContext": {"runAsNonRoot": true}},
    ]}));
    expect(
        "runAsNonRoot",
        0,
        &v,
        "runAsNonRoot != true",
        r#"pod and containers "b", "c" must not set securityContext.runAsNonRoot=false"#,
    );
    let implicit = view(
        json!({"containers": [{"name": "a"}, {"name": "b", "securityContext": {}}, {"name": "c", "securityContext": {"runAsNonRoot": true}}]}),
    );
    expect(
        "runAsNonRoot",
        0,
        &implicit,
        "runAsNonRoot != true",
        r#"pod or containers "a", "b" must set securityContext.runAsNonRoot=true"#,
    );
    let pod_true = view(json!({"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "a"}]}));
    assert_eq!(run("runAsNonRoot", 0, &pod_true), None);
    let userns =
        view(json!({"hostUsers": false, "containers": [{"name": "a", "securityContext": {"runAsNonRoot": false}}]}));
    expect(
        "runAsNonRoot",
        34,
        &userns,
        "runAsNonRoot != true",
        r#"container "a" must not set securityContext.runAsNonRoot=false"#,
    );
    assert_eq!(run("runAsNonRoot", 35, &userns), None);
    let user = view(
        json!({"securityContext": {"runAsUser": 0}, "containers": [{"name": "a", "securityContext": {"runAsUser": 0}}, {"name": "b", "securityContext": {"runAsUser": 1}}]}),
    );
    expect("runAsUser", 23, &user, "runAsUser=0", r#"pod and container "a" must not set runAsUser=0"#);
}

#[test]
fn se_linux_options_messages() {
    let v = view(json!({
        "securityContext": {"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}},
        "containers": [
            {"name": "a", "securityContext": {"seLinuxOptions": {}}},
            {"name": "b", "securityContext": {"seLinuxOptions": {"type": "container_init_t"}}},
            {"name": "c", "securityContext": {"seLinuxOptions": {"level": "somevalue"}}},
            {"name": "d", "securityContext": {"seLinuxOptions": {"type": "bar"}}},
            {"name": "e", "securityContext": {"seLinuxOptions": {"user": "bar"}}},
            {"name": "f", "securityContext": {"seLinuxOptions": {"role": "baz"}}},
        ]
    }));
    expect(
        "seLinuxOptions",
        0,
        &v,
        "seLinuxOptions",
        r#"pod and containers "d", "e", "f" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set"#,
    );
    let user_only = view(json!({"securityContext": {"seLinuxOptions": {"user": "u", "role": "r"}}}));
    expect(
        "seLinuxOptions",
        0,
        &user_only,
        "seLinuxOptions",
        "pod set forbidden securityContext.seLinuxOptions: user may not be set; role may not be set",
    );
    let engine = view(
        json!({"containers": [{"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}]}),
    );
    expect(
        "seLinuxOptions",
        30,
        &engine,
        "seLinuxOptions",
        r#"container "a" set forbidden securityContext.seLinuxOptions: type "container_engine_t""#,
    );
    assert_eq!(run("seLinuxOptions", 31, &engine), None);
}

#[test]
fn app_armor_profile_messages() {
    let v = view_with(
        json!({"annotations": {
            "container.apparmor.security.beta.kubernetes.io/c": "unconfined",
            "container.apparmor.security.beta.kubernetes.io/d": "runtime/default",
            "container.apparmor.security.beta.kubernetes.io/e": "localhost/foo",
            "container.apparmor.security.beta.kubernetes.io/f": "",
        }}),
        json!({"containers": [
            {"name": "a", "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}},
            {"name": "c", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
        ]}),
    );
    expect(
        "appArmorProfile",
        0,
        &v,
        "forbidden AppArmor profiles",
        r#"container "c" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/c="unconfined"""#,
    );
    let pod =
        view(json!({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}, "containers": [{"name": "a"}]}));
    expect(
        "appArmorProfile",
        0,
        &pod,
        "forbidden AppArmor profile",
        r#"pod must not set AppArmor profile type to "Unconfined""#,
    );
    let annotations = view_with(
        json!({"annotations": {
            "container.apparmor.security.beta.kubernetes.io/b": "unconfined",
            "container.apparmor.security.beta.kubernetes.io/a": "foo\"bar",
        }}),
        json!({}),
    );
    expect(
        "appArmorProfile",
        0,
        &annotations,
        "forbidden AppArmor profiles",
        r#"annotations must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/a="foo\"bar"", "container.apparmor.security.beta.kubernetes.io/b="unconfined"""#,
    );
}

/// kube-apiserver copies a Pod's `unconfined` container annotation into the container's field
/// before PodSecurity runs (unless the container has a field, or the pod's field says the same),
/// so the container is named too; not for a workload's template, not for Windows pods, and
/// never from a field into an annotation (found by the live oracle against kube-apiserver v1.36).
#[test]
fn app_armor_annotation_synced_into_the_field_of_a_pod() {
    let key = |c: &str| format!("container.apparmor.security.beta.kubernetes.io/{c}");
    let annotated = |spec: Value| view_with(json!({"annotations": {key("a"): "unconfined"}}), spec);
    let both = r#"container "a" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/a="unconfined"""#;
    let only = r#"annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/a="unconfined"""#;
    let pod = annotated(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
    expect("appArmorProfile", 0, &pod, "forbidden AppArmor profiles", both);
    let result = (checks::CHECKS.iter().find(|c| c.id == "appArmorProfile").unwrap().run)(&pod, 37).unwrap();
    assert_eq!(result.pointers, ["/metadata/annotations/container.apparmor.security.beta.kubernetes.io~1a"]);
    assert_eq!(result.containers, ["a"]);
    let mut template = pod.clone();
    template.kind = TemplateKind::Workload;
    template.prefix = "/spec/template".into();
    expect("appArmorProfile", 0, &template, "forbidden AppArmor profile", only);
    let windows = annotated(json!({"os": {"name": "windows"}, "containers": [{"name": "a"}]}));
    expect("appArmorProfile", 0, &windows, "forbidden AppArmor profile", only);
    let pod_field = annotated(
        json!({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}, "containers": [{"name": "a"}]}),
    );
    expect(
        "appArmorProfile",
        0,
        &pod_field,
        "forbidden AppArmor profiles",
        r#"pod and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/a="unconfined"""#,
    );
    let field_only = view(
        json!({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}, "containers": [{"name": "a"}, {"name": "b", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]}),
    );
    expect(
        "appArmorProfile",
        0,
        &field_only,
        "forbidden AppArmor profile",
        r#"pod and container "b" must not set AppArmor profile type to "Unconfined""#,
    );
}

#[test]
fn host_ports_and_namespaces_messages() {
    let v = view(json!({"containers": [
        {"name": "a", "ports": [{"containerPort": 80}]},
        {"name": "b", "ports": [{"containerPort": 80, "hostPort": 0}, {"hostPort": 10}, {"hostPort": 20}]},
        {"name": "c", "ports": [{"hostPort": 30}]},
    ]}));
    expect("hostPorts", 0, &v, "hostPort", r#"containers "b", "c" use hostPorts 10, 20, 30"#);
    let one = view(json!({"containers": [{"name": "a", "ports": [{"hostPort": 8080}]}]}));
    expect("hostPorts", 0, &one, "hostPort", r#"container "a" uses hostPort 8080"#);
    let ns = view(json!({"hostNetwork": true, "hostPID": true, "hostIPC": false}));
    expect("hostNamespaces", 0, &ns, "host namespaces", "hostNetwork=true, hostPID=true");
    let ipc = view(json!({"hostIPC": true}));
    expect("hostNamespaces", 0, &ipc, "host namespaces", "hostIPC=true");
}

#[test]
fn other_check_messages() {
    let probes = view(json!({"containers": [
        {"name": "valid"},
        {"name": "invalid1", "livenessProbe": {"httpGet": {"host": "a.com", "port": 80}}},
        {"name": "invalid2", "lifecycle": {"preStop": {"tcpSocket": {"host": "b.com", "port": "p"}}},
            "startupProbe": {"httpGet": {"host": "a.com"}}},
    ]}));
    expect(
        "hostProbesAndHostLifecycle",
        34,
        &probes,
        "probe or lifecycle host",
        r#"containers "invalid1", "invalid2" use probe or lifecycle hosts "a.com", "b.com""#,
    );
    let vols = view(json!({"volumes": [
        {"name": "a", "emptyDir": {}},
        {"name": "b", "hostPath": {"path": "/"}},
        {"name": "c", "nfs": {"server": "x", "path": "/"}},
        {"name": "d"},
    ]}));
    expect("hostPathVolumes", 0, &vols, "hostPath volumes", r#"volume "b""#);
    expect(
        "restrictedVolumes",
        0,
        &vols,
        "restricted volume types",
        r#"volumes "b", "c" use restricted volume types "hostPath", "nfs""#,
    );
    let priv_ = view(
        json!({"initContainers": [{"name": "i", "securityContext": {"privileged": true}}], "containers": [{"name": "c", "securityContext": {"privileged": false}}]}),
    );
    expect("privileged", 0, &priv_, "privileged", r#"container "i" must not set securityContext.privileged=true"#);
    let pm = view(json!({"containers": [
        {"name": "a", "securityContext": {"procMount": "Default"}},
        {"name": "d", "securityContext": {"procMount": "Unmasked"}},
        {"name": "e", "securityContext": {"procMount": "other"}},
    ]}));
    expect(
        "procMount",
        0,
        &pm,
        "procMount",
        r#"containers "d", "e" must not set securityContext.procMount to "Unmasked", "other""#,
    );
    let hp = view(
        json!({"securityContext": {"windowsOptions": {"hostProcess": true}}, "containers": [{"name": "a", "securityContext": {"windowsOptions": {"hostProcess": true}}}]}),
    );
    expect(
        "windowsHostProcess",
        0,
        &hp,
        "hostProcess",
        r#"pod and container "a" must not set securityContext.windowsOptions.hostProcess=true"#,
    );
    let ape = view(json!({"containers": [
        {"name": "a"},
        {"name": "b", "securityContext": {"allowPrivilegeEscalation": null}},
        {"name": "c", "securityContext": {"allowPrivilegeEscalation": true}},
        {"name": "d", "securityContext": {"allowPrivilegeEscalation": false}},
    ]}));
    expect(
        "allowPrivilegeEscalation",
        8,
        &ape,
        "allowPrivilegeEscalation != false",
        r#"containers "a", "b", "c" must set securityContext.allowPrivilegeEscalation=false"#,
    );
}

#[test]
fn seccomp_messages() {
    let v = view(json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": [
        {"name": "a"},
        {"name": "c", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
        {"name": "d", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
        {"name": "e", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
    ]}));
    expect(
        "seccompProfile_restricted",
        19,
        &v,
        "seccompProfile",
        r#"containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined""#,
    );
    let unset = view(
        json!({"containers": [{"name": "a"}, {"name": "b", "securityContext": {}}, {"name": "d", "securityContext": {"seccompProfile": {"type": "Localhost"}}}]}),
    );
    expect(
        "seccompProfile_restricted",
        19,
        &unset,
        "seccompProfile",
        r#"pod or containers "a", "b" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#,
    );
    assert_eq!(run("seccompProfile_baseline", 19, &unset), None);
    let ann = view_with(
        json!({"annotations": {
            "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
            "container.seccomp.security.alpha.kubernetes.io/a": "docker/default",
            "container.seccomp.security.alpha.kubernetes.io/b": "bad",
        }}),
        json!({"containers": [{"name": "a"}, {"name": "b"}]}),
    );
    expect(
        "seccompProfile_baseline",
        18,
        &ann,
        "seccompProfile",
        r#"forbidden annotations container.seccomp.security.alpha.kubernetes.io/b="bad", seccomp.security.alpha.kubernetes.io/pod="unconfined""#,
    );
    assert_eq!(run("seccompProfile_baseline", 19, &ann), None);
}

#[test]
fn aggregate_and_messages() {
    let v = view(json!({"containers": [{"name": "nginx", "securityContext": {"privileged": true}}]}));
    let results = evaluate(&v, Level::Restricted, Version::Latest);
    let ids: Vec<&str> = results.iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        [
            "privileged",
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "runAsNonRoot",
            "seccompProfile_restricted"
        ]
    );
    assert_eq!(results[0].pointers, ["/spec/containers/0/securityContext/privileged"]);
    assert_eq!(results[0].containers, ["nginx"]);
    assert_eq!(
        enforce_message("nginx", Level::Restricted, Version::Latest, &results),
        concat!(
            r#"pods "nginx" is forbidden: violates PodSecurity "restricted:latest": privileged (container "nginx" must not set securityContext.privileged=true), "#,
            r#"allowPrivilegeEscalation != false (container "nginx" must set securityContext.allowPrivilegeEscalation=false), "#,
            r#"unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), "#,
            r#"runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), "#,
            r#"seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
        )
    );
    assert!(
        warn_message(Level::Baseline, Version::V1(32), &results[..1])
            .starts_with("would violate PodSecurity \"baseline:v1.32\": privileged (")
    );
    let odd = [
        CheckResult { id: "x", reason: String::new(), detail: String::new(), pointers: vec![], containers: vec![] },
        CheckResult { id: "y", reason: "r".into(), detail: String::new(), pointers: vec![], containers: vec![] },
    ];
    assert_eq!(aggregate(&odd), "unknown forbidden reason, r");
    assert!(evaluate(&v, Level::Privileged, Version::Latest).is_empty());
}

#[test]
fn go_quote_escapes() {
    assert_eq!(go_quote("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\x01é""#);
}

#[test]
fn findings_point_at_fields() {
    use std::sync::Arc;
    let yaml = r"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec:
  template:
    spec:
      containers:
      - name: app
        securityContext:
          privileged: true
";
    let parsed = kguard_model::load::parse_text(&Arc::from("d.yaml"), yaml);
    let obj = &parsed.objects[0];
    let view = kguard_model::workload::pod_view(obj).unwrap().unwrap();
    let found = findings(obj, &view, Level::Baseline, Version::V1(30), "warn");
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(f.rule_id, "PSS007");
    assert_eq!(f.severity, kguard_report::Severity::Critical);
    assert_eq!(f.title, "Privileged container (PodSecurity warn baseline:v1.30)");
    assert_eq!(
        f.message,
        r#"would violate PodSecurity "baseline:v1.30": privileged (container "app" must not set securityContext.privileged=true)"#
    );
    assert_eq!(f.pointer.as_deref(), Some("/spec/template/spec/containers/0/securityContext/privileged"));
    assert_eq!(f.container.as_deref(), Some("app"));
    let loc = f.location.as_ref().unwrap();
    let pos = loc.pos.unwrap();
    assert_eq!((pos.line, pos.column), (10, 11));
    assert_eq!(f.object.as_ref().unwrap().to_string(), "Deployment/prod/web");

    let pod_yaml =
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: true\n  containers: [{name: a}]\n";
    let parsed = kguard_model::load::parse_text(&Arc::from("p.yaml"), pod_yaml);
    let obj = &parsed.objects[0];
    let view = kguard_model::workload::pod_view(obj).unwrap().unwrap();
    let found = findings(obj, &view, Level::Baseline, Version::Latest, "enforce");
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].message,
        r#"pods "p" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostPID=true)"#
    );
    assert_eq!(found[0].pointer.as_deref(), Some("/spec/hostPID"));
    assert_eq!(found[0].container, None);
    assert!(found[0].title.contains("enforce baseline:latest"));
    assert_eq!(rule_for("hostNamespaces").map(|r| r.id), Some("PSS003"));
}

use super::*;
use serde_json::json;

use kguard_podsec::{Level, LevelVersion, NamespacePolicy, Version};

fn request(resource: &str, kind: &str, op: Operation, object: Value) -> Request {
    let (group, version) = if matches!(resource, "deployments") { ("apps", "v1") } else { ("", "v1") };
    Request {
        uid: "u-1".into(),
        kind: Gvk { group: group.into(), version: version.into(), name: kind.into() },
        resource: Gvk { group: group.into(), version: version.into(), name: resource.into() },
        sub_resource: String::new(),
        name: object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_owned(),
        namespace: object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_owned(),
        operation: op,
        user: UserInfo::new("alice", ["dev"]),
        object: Some(object),
        old_object: None,
        dry_run: false,
        pod_cache: PodCache::default(),
    }
}

fn root_pod(name: &str, ns: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
           "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}})
}

fn inventory() -> Inventory {
    let mut inv = Inventory::default();
    let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    inv.namespaces.insert("strict".into(), labels(&[("pod-security.kubernetes.io/enforce", "restricted")]));
    inv.namespaces.insert(
        "base".into(),
        labels(&[
            ("pod-security.kubernetes.io/enforce", "baseline"),
            ("pod-security.kubernetes.io/warn", "restricted"),
        ]),
    );
    inv.namespaces.insert("bad".into(), labels(&[("pod-security.kubernetes.io/enforce", "bogus")]));
    inv
}

fn pss() -> Policies {
    Policies { pod_security: Some(podsecurity::Config::default()), ..Policies::default() }
}

#[test]
fn enforce_denies_with_upstream_message() {
    let r = validate(
        &pss(),
        &inventory(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, root_pod("web", "strict")),
    );
    assert!(!r.allowed);
    let s = r.status.unwrap();
    assert_eq!((s.code, s.reason), (403, "Forbidden"));
    assert_eq!(
        s.message,
        "pods \"web\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false \
         (container \"nginx\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities \
         (container \"nginx\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or \
         container \"nginx\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"nginx\" \
         must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
    );
    assert_eq!(r.audit_annotations.get("enforce-policy").map(String::as_str), Some("restricted:latest"));
    assert!(r.warnings.is_empty(), "no warnings on a denied request");
}

#[test]
fn warn_and_audit_without_enforce() {
    let r = validate(
        &pss(),
        &inventory(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, root_pod("web", "base")),
    );
    assert!(r.allowed, "{r:?}");
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].starts_with("would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation"));
    assert_eq!(r.audit_annotations.get("enforce-policy").map(String::as_str), Some("baseline:latest"));
    assert!(!r.audit_annotations.contains_key("audit-violations"), "audit is privileged");
}

#[test]
fn workloads_are_warned_never_enforced() {
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "strict"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1", "securityContext": {"privileged": true}}]}}}});
    let r = validate(
        &pss(),
        &inventory(),
        &kguard_authz::AlwaysAllow,
        &request("deployments", "Deployment", Operation::Create, deploy),
    );
    assert!(r.allowed);
    assert!(
        r.warnings[0].contains("privileged (container \"c\" must not set securityContext.privileged=true)"),
        "{r:?}"
    );
    assert!(!r.audit_annotations.contains_key("enforce-policy"));
}

#[test]
fn exemptions_and_ignored_subresources() {
    let mut policies = pss();
    let config = policies.pod_security.as_mut().unwrap();
    config.exempt_namespaces.push("strict".into());
    let r = validate(
        &policies,
        &inventory(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, root_pod("web", "strict")),
    );
    assert!(r.allowed);
    assert_eq!(r.audit_annotations.get("exempt").map(String::as_str), Some("namespace"));

    let mut policies = pss();
    policies.pod_security.as_mut().unwrap().exempt_usernames.push("alice".into());
    let r = validate(
        &policies,
        &inventory(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, root_pod("web", "strict")),
    );
    assert_eq!(r.audit_annotations.get("exempt").map(String::as_str), Some("user"));

    let mut policies = pss();
    policies.pod_security.as_mut().unwrap().exempt_runtime_classes.push("kata".into());
    let mut pod = root_pod("web", "strict");
    pod["spec"]["runtimeClassName"] = json!("kata");
    let r =
        validate(&policies, &inventory(), &kguard_authz::AlwaysAllow, &request("pods", "Pod", Operation::Create, pod));
    assert_eq!(r.audit_annotations.get("exempt").map(String::as_str), Some("runtimeClass"));

    let mut req = request("pods", "Pod", Operation::Create, root_pod("web", "strict"));
    req.sub_resource = "exec".into();
    assert!(validate(&pss(), &inventory(), &kguard_authz::AlwaysAllow, &req).allowed);
    req.sub_resource = "ephemeralcontainers".into();
    assert!(
        !validate(&pss(), &inventory(), &kguard_authz::AlwaysAllow, &req).allowed,
        "ephemeralcontainers is evaluated"
    );
}

#[test]
fn delete_and_connect_are_allowed() {
    for op in [Operation::Delete, Operation::Connect] {
        let r = validate(
            &pss(),
            &inventory(),
            &kguard_authz::AlwaysAllow,
            &request("pods", "Pod", op, root_pod("web", "strict")),
        );
        assert!(r.allowed);
    }
}

#[test]
fn insignificant_pod_updates_are_allowed() {
    let mut req = request("pods", "Pod", Operation::Update, root_pod("web", "strict"));
    let mut old = root_pod("web", "strict");
    old["metadata"]["labels"] = json!({"a": "b"});
    req.old_object = Some(old.clone());
    assert!(validate(&pss(), &inventory(), &kguard_authz::AlwaysAllow, &req).allowed, "label-only update");
    old["spec"]["containers"][0]["image"] = json!("nginx:1.26");
    req.old_object = Some(old);
    assert!(!validate(&pss(), &inventory(), &kguard_authz::AlwaysAllow, &req).allowed, "image change is significant");
}

#[test]
fn invalid_enforce_label_fails_closed_with_error_annotation() {
    let mut pod = root_pod("web", "bad");
    pod["spec"]["containers"][0]["securityContext"] = json!({"allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    let r = validate(&pss(), &inventory(), &kguard_authz::AlwaysAllow, &request("pods", "Pod", Operation::Create, pod));
    assert!(r.allowed, "a restricted pod passes the fail-closed restricted level");
    assert!(
        r.audit_annotations["error"].starts_with(
            "Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"bogus\""
        ),
        "{r:?}"
    );
    let r = validate(
        &pss(),
        &inventory(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, root_pod("web", "bad")),
    );
    assert!(!r.allowed);
}

#[test]
fn namespace_labels_are_validated_and_tightening_warns() {
    let ns = |labels: Value| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": labels}});
    let r = validate(
        &pss(),
        &inventory(),
        &kguard_authz::AlwaysAllow,
        &request(
            "namespaces",
            "Namespace",
            Operation::Create,
            ns(
                json!({"pod-security.kubernetes.io/enforce": "strict", "pod-security.kubernetes.io/warn-version": "v2"}),
            ),
        ),
    );
    let s = r.status.unwrap();
    assert_eq!((s.code, s.reason), (422, "Invalid"));
    assert!(
        s.message.starts_with("Namespace \"team\" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]"),
        "{}",
        s.message
    );

    let mut inv = inventory();
    inv.pods.insert("team".into(), vec![root_pod("b", "team"), root_pod("a", "team"), root_pod("c", "team")]);
    let mut req = request(
        "namespaces",
        "Namespace",
        Operation::Update,
        ns(json!({"pod-security.kubernetes.io/enforce": "restricted"})),
    );
    req.old_object = Some(ns(json!({})));
    let r = validate(&pss(), &inv, &kguard_authz::AlwaysAllow, &req);
    assert!(r.allowed);
    assert_eq!(r.warnings, vec![
        "existing pods in namespace \"team\" violate the new PodSecurity enforce level \"restricted:latest\"".to_owned(),
        "a (and 2 other pods): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile".to_owned(),
    ]);
    // Relaxing is not checked.
    let mut req = request(
        "namespaces",
        "Namespace",
        Operation::Update,
        ns(json!({"pod-security.kubernetes.io/enforce": "baseline"})),
    );
    req.old_object = Some(ns(json!({"pod-security.kubernetes.io/enforce": "restricted"})));
    assert!(validate(&pss(), &inv, &kguard_authz::AlwaysAllow, &req).warnings.is_empty());
}

#[test]
fn configured_defaults_apply_to_unlabelled_namespaces() {
    let config = podsecurity::Config {
        defaults: NamespacePolicy::new(
            LevelVersion { level: Level::Baseline, version: Version::Latest },
            LevelVersion::PRIVILEGED,
            LevelVersion::PRIVILEGED,
        ),
        ..podsecurity::Config::default()
    };
    let policies = Policies { pod_security: Some(config), ..Policies::default() };
    let mut pod = root_pod("web", "unknown");
    pod["spec"]["hostNetwork"] = json!(true);
    let r =
        validate(&policies, &inventory(), &kguard_authz::AlwaysAllow, &request("pods", "Pod", Operation::Create, pod));
    assert!(
        r.status
            .unwrap()
            .message
            .contains("violates PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true)")
    );
}

#[test]
fn pod_security_configuration_parses_and_rejects_bad_values() {
    let parse = |text: &str| {
        let doc = kguard_model::yaml::parse_documents(text).into_iter().next().unwrap();
        podsecurity::Config::parse(doc.root.as_ref().unwrap().as_ref().unwrap())
    };
    let c = parse("apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  configuration:\n    apiVersion: pod-security.admission.config.k8s.io/v1\n    kind: PodSecurityConfiguration\n    defaults: {enforce: baseline, warn: restricted, warn-version: v1.30}\n    exemptions: {namespaces: [kube-system], usernames: [admin]}\n").unwrap();
    assert_eq!(c.defaults.enforce.level, Level::Baseline);
    assert_eq!(c.defaults.warn.version.to_string(), "v1.30");
    assert_eq!(c.exempt_namespaces, vec!["kube-system"]);
    let e = parse("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults: {enforce: strict}\n").unwrap_err();
    assert!(e.to_string().starts_with("defaults.enforce: Invalid value: \"strict\""), "{e}");
    assert_eq!((e.field.as_str(), e.pos.map(|p| (p.line, p.column))), ("defaults.enforce", Some((3, 21))));
    assert_eq!(parse("kind: Other\n").unwrap_err().field, "kind");
    let e = parse("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\nexemptions: {namespaces: x}\n").unwrap_err();
    assert_eq!(e.field, "exemptions.namespaces");
}

#[test]
fn hardening_denies_or_warns_at_severity() {
    let mut pod = root_pod("web", "default");
    pod["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    let deny = Policies {
        hardening: Some(Hardening { min_severity: Severity::Critical, deny: true, ignore: vec![] }),
        ..Policies::default()
    };
    let r = validate(
        &deny,
        &Inventory::default(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, pod.clone()),
    );
    assert!(!r.allowed);
    let msg = r.status.unwrap().message;
    assert!(msg.starts_with("pods \"web\" is forbidden: kguard hardening"), "{msg}");
    assert!(msg.contains("critical"), "{msg}");
    let r = validate(
        &deny,
        &Inventory::default(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, root_pod("ok", "default")),
    );
    assert!(r.allowed, "a pod without critical findings passes: {r:?}");
    // The object under review cannot exempt itself: neither kguard's annotation nor another tool's
    // exemption (on the pod or on a workload's template) is read by admission.
    let rule = kguard_hardening::RULES.iter().find(|r| r.severity == Severity::Critical && msg.contains(r.id)).unwrap();
    for annotations in [
        json!({"kguard.io/ignore": rule.id}),
        json!({"kguard.io/ignore": "ALL"}),
        json!({"polaris.fairwinds.com/exempt": "true"}),
        json!({"kube-linter.io/ignore-all": "x"}),
        json!({"checkov.io/skip1": "CKV_K8S_16=x"}),
    ] {
        pod["metadata"]["annotations"] = annotations.clone();
        let r = validate(
            &deny,
            &Inventory::default(),
            &kguard_authz::AlwaysAllow,
            &request("pods", "Pod", Operation::Create, pod.clone()),
        );
        assert!(!r.allowed, "{annotations} must not exempt the pod: {r:?}");
    }
    // Only the operator's configuration does.
    let operator = Policies {
        hardening: Some(Hardening { min_severity: Severity::Critical, deny: true, ignore: vec![rule.id.to_owned()] }),
        ..Policies::default()
    };
    let r = validate(
        &operator,
        &Inventory::default(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, pod.clone()),
    );
    assert!(r.allowed, "the only critical finding is ignored by configuration: {r:?}");
    let warn = Policies {
        hardening: Some(Hardening { min_severity: Severity::High, deny: false, ignore: vec![] }),
        ..Policies::default()
    };
    pod["metadata"]["annotations"] = json!({});
    let r = validate(
        &warn,
        &Inventory::default(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, pod),
    );
    assert!(r.allowed && r.warnings.len() == 1 && r.warnings[0].contains(rule.id), "{r:?}");
}

#[test]
fn image_policy_on_pods_and_ephemeral_containers() {
    let policies = Policies {
        images: Some(image::Policy { forbid_latest: true, ..image::Policy::default() }),
        ..Policies::default()
    };
    let mut pod = root_pod("web", "default");
    assert!(
        validate(
            &policies,
            &Inventory::default(),
            &kguard_authz::AlwaysAllow,
            &request("pods", "Pod", Operation::Create, pod.clone())
        )
        .allowed
    );
    pod["spec"]["initContainers"] = json!([{"name": "i", "image": "busybox"}]);
    let r = validate(
        &policies,
        &Inventory::default(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, pod.clone()),
    );
    assert_eq!(
        r.status.unwrap().message,
        "pods \"web\" is forbidden: image policy: image \"busybox\" has no tag (means :latest); use a version tag or a digest"
    );
    let mut req = request("pods", "Pod", Operation::Update, pod);
    req.sub_resource = "ephemeralcontainers".into();
    assert!(
        validate(&policies, &Inventory::default(), &kguard_authz::AlwaysAllow, &req).allowed,
        "only ephemeral containers are reviewed"
    );
}

#[test]
fn mutate_returns_a_patch_that_applies() {
    let policies = Policies {
        mutations: mutate::Mutations {
            seccomp_runtime_default: true,
            drop_all_capabilities: true,
            ..Default::default()
        },
        ..Policies::default()
    };
    let pod = root_pod("web", "default");
    let r = mutate(
        &policies,
        &Inventory::default(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, pod.clone()),
    );
    assert!(r.allowed && !r.patch.is_empty());
    let mut patched = pod;
    jsonpatch::apply(&mut patched, &r.patch).unwrap();
    assert_eq!(patched.pointer("/spec/securityContext/seccompProfile/type"), Some(&json!("RuntimeDefault")));
    assert_eq!(patched.pointer("/spec/containers/0/securityContext/capabilities/drop"), Some(&json!(["ALL"])));
    // No mutation configured: the pod the API server sends (with its empty security contexts)
    // gets no patch at all.
    let sent = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w", "namespace": "d"},
        "spec": {"securityContext": {}, "containers": [{"name": "a", "image": "x", "securityContext": {}}]}});
    let r = mutate(
        &Policies::default(),
        &Inventory::default(),
        &kguard_authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, sent),
    );
    assert!(r.allowed && r.patch.is_empty(), "{:?}", r.patch);
    // UPDATE is never mutated.
    assert!(
        mutate(
            &policies,
            &Inventory::default(),
            &kguard_authz::AlwaysAllow,
            &request("pods", "Pod", Operation::Update, root_pod("w", "d"))
        )
        .patch
        .is_empty()
    );
}

#[test]
fn malformed_objects_are_bad_requests_not_panics() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "strict"}, "spec": {"containers": "nope"}});
    let r = validate(&pss(), &inventory(), &kguard_authz::AlwaysAllow, &request("pods", "Pod", Operation::Create, pod));
    assert_eq!(r.status.unwrap().code, 400);
}

fn seccomp_policy(deny_weaker: bool) -> Policies {
    let files = [
        (
            "profiles/strict.json",
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ),
        ("profiles/weak.json", r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#),
        ("profiles/broken.json", "{\"defaultAction\": \"SCMP_ACT_NOPE\"}"),
    ];
    let node = kguard_seccomp::kubelet::NodeProfiles {
        root: "/var/lib/kubelet/seccomp".into(),
        display: "/etc/kguard/seccomp".into(),
        files: files.iter().map(|(k, v)| ((*k).to_owned(), Ok((*v).to_owned()))).collect(),
        arch: Some(kguard_seccomp::Arch::X86_64),
    };
    Policies {
        seccomp: Some(seccomp::Policy {
            profiles: std::sync::Arc::new(node.judge_all()),
            deny_weaker,
            exempt_namespaces: vec!["kube-system".into()],
        }),
        ..Policies::default()
    }
}

fn localhost(profile: &str) -> Value {
    json!({"seccompProfile": {"type": "Localhost", "localhostProfile": profile}})
}

fn check_seccomp(policies: &Policies, req: &Request) -> Response {
    validate(policies, &Inventory::default(), &kguard_authz::AlwaysAllow, req)
}

#[test]
fn seccomp_localhost_profiles_resolve_as_the_kubelet_does() {
    let p = seccomp_policy(false);
    let create = |pod: Value| check_seccomp(&p, &request("pods", "Pod", Operation::Create, pod));
    let message = |r: Response| r.status.map(|s| s.message).unwrap_or_default();
    // pod-level Localhost, present and valid
    let mut pod = root_pod("web", "default");
    pod["spec"]["securityContext"] = localhost("profiles/strict.json");
    assert!(create(pod.clone()).allowed);
    // the container's field wins over the pod's: a missing one is found on the container
    pod["spec"]["containers"][0]["securityContext"] = localhost("profiles/none.json");
    let r = create(pod.clone());
    assert_eq!(r.status.as_ref().map(|s| (s.code, s.reason)), Some((403, "Forbidden")));
    let denial = "pods \"web\" is forbidden: Localhost seccomp profile not usable: container \"nginx\": \
                  /var/lib/kubelet/seccomp/profiles/none.json does not exist (profiles/none.json not found in \
                  /etc/kguard/seccomp)";
    assert_eq!(r.audit_annotations.get(seccomp::ANNOTATION).map(String::as_str), denial.split("forbidden: ").nth(1));
    assert_eq!(message(r), denial);
    // ... and a RuntimeDefault container under a pod naming a missing profile is fine
    pod["spec"]["securityContext"] = localhost("profiles/none.json");
    pod["spec"]["containers"][0]["securityContext"] = json!({"seccompProfile": {"type": "RuntimeDefault"}});
    assert!(create(pod.clone()).allowed);
    // the kubelet's own errors
    pod["spec"]["containers"][0]["securityContext"] = json!({"seccompProfile": {"type": "Localhost"}});
    assert!(
        message(create(pod.clone()))
            .ends_with("container \"nginx\": localhostProfile must be set if seccompProfile type is Localhost")
    );
    pod["spec"]["containers"][0]["securityContext"] = json!({"seccompProfile": {"type": "Foo"}});
    assert!(message(create(pod.clone())).ends_with(
        "container \"nginx\": unsupported seccompProfile type \"Foo\" (supported: Unconfined, RuntimeDefault, Localhost)"
    ));
    // not a valid profile; a path leaving the directory (cleaned as filepath.Join does)
    pod["spec"]["containers"][0]["securityContext"] = localhost("profiles/broken.json");
    let m = message(create(pod.clone()));
    assert!(
        m.contains("profiles/broken.json is not a valid seccomp profile: /etc/kguard/seccomp/profiles/broken.json:1:"),
        "{m}"
    );
    pod["spec"]["containers"][0]["securityContext"] = localhost("../../../../etc/shadow");
    let m = message(create(pod.clone()));
    assert!(m.contains("localhostRef /etc/shadow is outside the profile directory /var/lib/kubelet/seccomp"), "{m}");
    // every container is named, init containers first; unconfined ones pass
    let mut two = root_pod("two", "default");
    two["spec"]["containers"] = json!([
        {"name": "a", "image": "x:1", "securityContext": localhost("a.json")},
        {"name": "b", "image": "x:1", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}
    ]);
    two["spec"]["initContainers"] = json!([{"name": "init", "image": "x:1", "securityContext": localhost("i.json")}]);
    let m = message(create(two));
    assert!(m.contains("container \"init\": ") && m.contains("; container \"a\": ") && !m.contains("\"b\""), "{m}");
    // the legacy annotations are ignored, as by the kubelet since v1.27
    let mut legacy = root_pod("legacy", "default");
    legacy["metadata"]["annotations"] = json!({"seccomp.security.alpha.kubernetes.io/pod": "localhost/none.json"});
    assert!(create(legacy).allowed);
}

#[test]
fn seccomp_weaker_profiles_warn_or_deny_and_scope() {
    let mut pod = root_pod("web", "default");
    pod["spec"]["containers"][0]["securityContext"] = localhost("profiles/weak.json");
    let r = check_seccomp(&seccomp_policy(false), &request("pods", "Pod", Operation::Create, pod.clone()));
    assert!(r.allowed, "{r:?}");
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].starts_with("Localhost seccomp profile weaker than RuntimeDefault: container \"nginx\": "));
    let strict = seccomp_policy(true);
    let r = check_seccomp(&strict, &request("pods", "Pod", Operation::Create, pod.clone()));
    assert!(!r.allowed && r.warnings.is_empty(), "{r:?}");
    assert!(r.status.unwrap().message.contains("/var/lib/kubelet/seccomp/profiles/weak.json"));
    // exempt namespace; pod updates (the field is immutable); workloads; DELETE
    let mut exempt = pod.clone();
    exempt["metadata"]["namespace"] = json!("kube-system");
    assert!(check_seccomp(&strict, &request("pods", "Pod", Operation::Create, exempt)).allowed);
    assert!(check_seccomp(&strict, &request("pods", "Pod", Operation::Update, pod.clone())).allowed);
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
        "spec": {"template": {"spec": pod["spec"].clone()}}});
    assert!(check_seccomp(&strict, &request("deployments", "Deployment", Operation::Create, deployment)).allowed);
    assert!(check_seccomp(&strict, &request("pods", "Pod", Operation::Delete, pod)).allowed);
}

#[test]
fn seccomp_reviews_only_the_ephemeral_containers_an_update_adds() {
    let p = seccomp_policy(true);
    let mut old = root_pod("web", "default");
    old["spec"]["containers"][0]["securityContext"] = localhost("gone.json");
    old["spec"]["ephemeralContainers"] =
        json!([{"name": "dbg1", "image": "busybox:1", "securityContext": localhost("gone.json")}]);
    let with = |added: Value| {
        let mut new = old.clone();
        new["spec"]["ephemeralContainers"].as_array_mut().unwrap().push(added);
        let mut req = request("pods", "Pod", Operation::Update, new);
        req.sub_resource = "ephemeralcontainers".into();
        req.old_object = Some(old.clone());
        check_seccomp(&p, &req)
    };
    assert!(
        with(json!({"name": "dbg2", "image": "busybox:1", "securityContext": localhost("profiles/strict.json")}))
            .allowed
    );
    let r = with(json!({"name": "dbg3", "image": "busybox:1", "securityContext": localhost("nope.json")}));
    let m = r.status.unwrap().message;
    assert!(m.contains("container \"dbg3\": /var/lib/kubelet/seccomp/nope.json does not exist"), "{m}");
    assert!(!m.contains("dbg1") && !m.contains("\"nginx\""), "containers already admitted are not judged again: {m}");
}

#[test]
fn localhost_profile_checks_answer_undecodable_pods_with_bad_request() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "team"}, "spec": {"containers": "nope"}});
    let req = request("pods", "Pod", Operation::Create, pod);
    let policy = apparmor::Policy {
        profiles: std::sync::Arc::new(kguard_apparmor::node::NodeProfiles::from_loaded(
            "profiles",
            "k8s-nginx (enforce)\n",
        )),
        deny_not_enforced: true,
        exempt_namespaces: vec![],
    };
    assert_eq!(apparmor::validate(&policy, &req).status.map(|s| s.code), Some(400));
}

use super::*;
use serde_json::json;

use crate::podsec::{Level, LevelVersion, NamespacePolicy, Version};

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
        &crate::authz::AlwaysAllow,
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
        &crate::authz::AlwaysAllow,
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
        &crate::authz::AlwaysAllow,
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
        &crate::authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, root_pod("web", "strict")),
    );
    assert!(r.allowed);
    assert_eq!(r.audit_annotations.get("exempt").map(String::as_str), Some("namespace"));

    let mut policies = pss();
    policies.pod_security.as_mut().unwrap().exempt_usernames.push("alice".into());
    let r = validate(
        &policies,
        &inventory(),
        &crate::authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, root_pod("web", "strict")),
    );
    assert_eq!(r.audit_annotations.get("exempt").map(String::as_str), Some("user"));

    let mut policies = pss();
    policies.pod_security.as_mut().unwrap().exempt_runtime_classes.push("kata".into());
    let mut pod = root_pod("web", "strict");
    pod["spec"]["runtimeClassName"] = json!("kata");
    let r =
        validate(&policies, &inventory(), &crate::authz::AlwaysAllow, &request("pods", "Pod", Operation::Create, pod));
    assert_eq!(r.audit_annotations.get("exempt").map(String::as_str), Some("runtimeClass"));

    let mut req = request("pods", "Pod", Operation::Create, root_pod("web", "strict"));
    req.sub_resource = "exec".into();
    assert!(validate(&pss(), &inventory(), &crate::authz::AlwaysAllow, &req).allowed);
    req.sub_resource = "ephemeralcontainers".into();
    assert!(
        !validate(&pss(), &inventory(), &crate::authz::AlwaysAllow, &req).allowed,
        "ephemeralcontainers is evaluated"
    );
}

#[test]
fn delete_and_connect_are_allowed() {
    for op in [Operation::Delete, Operation::Connect] {
        let r = validate(
            &pss(),
            &inventory(),
            &crate::authz::AlwaysAllow,
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
    assert!(validate(&pss(), &inventory(), &crate::authz::AlwaysAllow, &req).allowed, "label-only update");
    old["spec"]["containers"][0]["image"] = json!("nginx:1.26");
    req.old_object = Some(old);
    assert!(!validate(&pss(), &inventory(), &crate::authz::AlwaysAllow, &req).allowed, "image change is significant");
}

#[test]
fn invalid_enforce_label_fails_closed_with_error_annotation() {
    let mut pod = root_pod("web", "bad");
    pod["spec"]["containers"][0]["securityContext"] = json!({"allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    let r = validate(&pss(), &inventory(), &crate::authz::AlwaysAllow, &request("pods", "Pod", Operation::Create, pod));
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
        &crate::authz::AlwaysAllow,
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
        &crate::authz::AlwaysAllow,
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
    let r = validate(&pss(), &inv, &crate::authz::AlwaysAllow, &req);
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
    assert!(validate(&pss(), &inv, &crate::authz::AlwaysAllow, &req).warnings.is_empty());
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
        validate(&policies, &inventory(), &crate::authz::AlwaysAllow, &request("pods", "Pod", Operation::Create, pod));
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
    assert!(e.starts_with("defaults.enforce: Invalid value: \"strict\""), "{e}");
    assert!(parse("kind: Other\n").is_err());
    assert!(parse("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\nexemptions: {namespaces: x}\n").unwrap_err().contains("exemptions.namespaces"));
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
        &crate::authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, pod.clone()),
    );
    assert!(!r.allowed);
    let msg = r.status.unwrap().message;
    assert!(msg.starts_with("pods \"web\" is forbidden: kguard hardening"), "{msg}");
    assert!(msg.contains("critical"), "{msg}");
    let r = validate(
        &deny,
        &Inventory::default(),
        &crate::authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, root_pod("ok", "default")),
    );
    assert!(r.allowed, "a pod without critical findings passes: {r:?}");
    // Suppressed through the annotation.
    let rule = checks::RULES.iter().find(|r| r.severity == Severity::Critical && msg.contains(r.id)).unwrap();
    pod["metadata"]["annotations"] = json!({"kguard.io/ignore": rule.id});
    let r = validate(
        &deny,
        &Inventory::default(),
        &crate::authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, pod.clone()),
    );
    assert!(r.allowed, "the only critical finding is suppressed: {r:?}");
    let warn = Policies {
        hardening: Some(Hardening { min_severity: Severity::High, deny: false, ignore: vec![] }),
        ..Policies::default()
    };
    pod["metadata"]["annotations"] = json!({});
    let r = validate(
        &warn,
        &Inventory::default(),
        &crate::authz::AlwaysAllow,
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
            &crate::authz::AlwaysAllow,
            &request("pods", "Pod", Operation::Create, pod.clone())
        )
        .allowed
    );
    pod["spec"]["initContainers"] = json!([{"name": "i", "image": "busybox"}]);
    let r = validate(
        &policies,
        &Inventory::default(),
        &crate::authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, pod.clone()),
    );
    assert_eq!(
        r.status.unwrap().message,
        "pods \"web\" is forbidden: image policy: image \"busybox\" has no tag (means :latest); use a version tag or a digest"
    );
    let mut req = request("pods", "Pod", Operation::Update, pod);
    req.sub_resource = "ephemeralcontainers".into();
    assert!(
        validate(&policies, &Inventory::default(), &crate::authz::AlwaysAllow, &req).allowed,
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
        &crate::authz::AlwaysAllow,
        &request("pods", "Pod", Operation::Create, pod.clone()),
    );
    assert!(r.allowed && !r.patch.is_empty());
    let mut patched = pod;
    jsonpatch::apply(&mut patched, &r.patch).unwrap();
    assert_eq!(patched.pointer("/spec/securityContext/seccompProfile/type"), Some(&json!("RuntimeDefault")));
    assert_eq!(patched.pointer("/spec/containers/0/securityContext/capabilities/drop"), Some(&json!(["ALL"])));
    // UPDATE is never mutated.
    assert!(
        mutate(
            &policies,
            &Inventory::default(),
            &crate::authz::AlwaysAllow,
            &request("pods", "Pod", Operation::Update, root_pod("w", "d"))
        )
        .patch
        .is_empty()
    );
}

#[test]
fn malformed_objects_are_bad_requests_not_panics() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "strict"}, "spec": {"containers": "nope"}});
    let r = validate(&pss(), &inventory(), &crate::authz::AlwaysAllow, &request("pods", "Pod", Operation::Create, pod));
    assert_eq!(r.status.unwrap().code, 400);
}

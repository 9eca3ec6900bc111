//! Live: the commands that read a cluster (`--kubeconfig`, `--context`) against a real
//! kube-apiserver v1.36 (`../shared/bench/kube-apiserver.sh`) populated with `../shared/corpus`
//! (every object the server accepts; the namespaces and service accounts they name are created
//! first).
//!
//! The oracle for what is read is kubectl: `kubectl get` of every listable resource (Events
//! aside) in every namespace, written to a file. `kguard scan`, `rbac risks`, `who-can` and
//! `netpol list` over the cluster must answer exactly as over that file (same objects, same
//! findings); paging (`--chunk-size 7`) must not change a thing; `-n` reads one namespace;
//! `can-i --cluster` must agree with `kubectl auth can-i` (the server's SubjectAccessReview); a
//! user who may only `view` gets warnings for what they may not list and the rest scanned; an
//! unreachable server and refused credentials are clear errors (exit 2).
//!
//! Skips (visibly) without the harness; under `KGUARD_REQUIRE_SHARED` it must run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use kguard_model::load;
use kguard_testkit::TempDir;
use kguard_testkit::kube::KubeApiserver;
use serde_json::Value;

const TEST: &str = "cluster_live";

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard")).args(args).output().expect("runs kguard")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A finding without its position (line numbers differ between a List file and single objects).
fn findings(report: &Value) -> BTreeMap<(String, String, String), usize> {
    let mut out = BTreeMap::new();
    for f in report["findings"].as_array().unwrap() {
        let key = (
            f["ruleId"].as_str().unwrap_or("").to_owned(),
            f["object"].as_str().unwrap_or("").to_owned(),
            f["message"].as_str().unwrap_or("").to_owned(),
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

fn json(o: &Output, what: &str) -> Value {
    assert!(o.status.code().is_some_and(|c| c < 2), "{what}: exit {:?}: {}", o.status.code(), err(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", text(o)))
}

/// Creates the namespaces and service accounts the corpus names, then the corpus itself, with
/// several kubectl processes at once (kubectl paces its own requests). Returns the objects created.
fn populate(kube: &KubeApiserver, dir: &Path) -> usize {
    let corpus = kguard_testkit::shared_path("corpus").unwrap();
    let (inputs, _) = load::expand_paths(std::slice::from_ref(&corpus));
    let mut namespaces = BTreeSet::new();
    let mut accounts = BTreeSet::new();
    for input in &inputs {
        for o in load::load_input(input).objects {
            let ns = o.id.namespace.clone();
            if let Some(ns) = &ns {
                namespaces.insert(ns.clone());
            }
            if o.kind() == "Namespace" {
                namespaces.insert(o.id.name.clone());
            }
            let root = o.root.to_json();
            let spec = if o.kind() == "Pod" { &root["spec"] } else { &root["spec"]["template"]["spec"] };
            if let Some(sa) = spec["serviceAccountName"].as_str().or(spec["serviceAccount"].as_str()) {
                accounts.insert((ns.clone().unwrap_or_else(|| "default".to_owned()), sa.to_owned()));
            }
        }
    }
    let mut setup = String::new();
    for ns in &namespaces {
        setup.push_str(&format!("---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns:?}}}\n"));
    }
    for (ns, sa) in &accounts {
        setup.push_str(&format!(
            "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {sa:?}, namespace: {ns:?}}}\n"
        ));
    }
    let setup_file = dir.join("setup.yaml");
    std::fs::write(&setup_file, setup).unwrap();
    let o = kube.kubectl(&["create", "-f", &setup_file.display().to_string()]);
    assert!(o.status.success() || err(&o).contains("AlreadyExists"), "setup: {}", err(&o));
    // one kubectl per top folder, at once (refusals are expected: see the module doc)
    let children: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| {
            Command::new(kube.env("KUBECTL"))
                .args(["create", "-R", "-f"])
                .arg(&p)
                .env("KUBECONFIG", kube.env("KUBECONFIG"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("run kubectl")
        })
        .collect();
    children.into_iter().map(|c| String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).lines().count()).sum()
}

/// Every resource kubectl can list, Events aside (what `kguard scan --cluster` reads).
fn listable(kube: &KubeApiserver) -> Vec<String> {
    let o = kube.kubectl(&["api-resources", "--verbs=list", "-o", "name"]);
    assert!(o.status.success(), "api-resources: {}", err(&o));
    text(&o)
        .lines()
        .filter(|r| !matches!(*r, "events" | "events.events.k8s.io" | "componentstatuses"))
        .map(str::to_owned)
        .collect()
}

/// `kubectl get RESOURCES -A -o json` into a file.
fn dump(kube: &KubeApiserver, resources: &[String], file: &Path) {
    let o = kube.kubectl(&["get", &resources.join(","), "-A", "-o", "json"]);
    assert!(o.status.success(), "kubectl get: {}", err(&o));
    std::fs::write(file, &o.stdout).unwrap();
}

/// A kubeconfig for one token user.
fn kubeconfig(kube: &KubeApiserver, dir: &Path, name: &str, server: &str, token: &str) -> String {
    let file = dir.join(format!("{name}.kubeconfig"));
    std::fs::write(
        &file,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: {server:?}, certificate-authority: {ca:?}}}\n\
             users:\n- name: u\n  user: {{token: {token:?}}}\ncontexts:\n- name: {name}\n  context: {{cluster: c, user: u}}\n\
             current-context: {name}\n",
            ca = kube.env("KUBE_CA_CERT")
        ),
    )
    .unwrap();
    file.display().to_string()
}

#[test]
fn cluster_commands_read_what_kubectl_reads() {
    let Some(kube) =
        KubeApiserver::start(TEST, &[], &[("KGUARD_KUBE_EXTRA_TOKENS", "carol-token,carol,carol-uid,viewers")])
    else {
        return;
    };
    let dir = TempDir::new("kguard-cluster-live");
    let started = std::time::Instant::now();
    let created = populate(&kube, dir.path());
    eprintln!("{created} corpus objects created in {:.1} s", started.elapsed().as_secs_f64());
    assert!(created > 500, "the corpus was not applied: {created} objects");
    let kc = kube.env("KUBECONFIG");

    // scan: the cluster against kubectl's dump of it
    let resources = listable(&kube);
    let dumped = dir.path().join("dump.json");
    dump(&kube, &resources, &dumped);
    let dumped = dumped.display().to_string();
    let from_file = json(&kguard(&["scan", "--no-config", "-o", "json", &dumped]), "scan of the dump");
    let live = kguard(&["scan", "--no-config", "-o", "json", "--kubeconfig", kc]);
    let from_cluster = json(&live, "scan --kubeconfig");
    let read = err(&live);
    assert!(read.contains("kguard: read "), "the read is summarised: {read}");
    let objects = |r: &Value| r["summary"]["objects"].as_u64().unwrap();
    assert_eq!(objects(&from_cluster), objects(&from_file), "the same objects");
    assert_eq!(from_cluster["summary"]["cluster"].as_str(), Some(format!("{}/", kube.env("KUBE_SERVER")).as_str()));
    let (a, b) = (findings(&from_cluster), findings(&from_file));
    assert_eq!(a, b, "scan --kubeconfig and the scan of `kubectl get` disagree");
    let total: usize = a.values().sum();
    assert!(total > 1000, "the corpus has many findings: {total}");

    // paging changes nothing
    let paged = kguard(&["scan", "--no-config", "-o", "json", "--kubeconfig", kc, "--chunk-size", "7"]);
    assert_eq!(findings(&json(&paged, "scan --chunk-size 7")), a, "paging changed the findings");
    let summary = err(&paged);
    let count = |what: &str| -> usize {
        let before = summary.split(&format!(" {what}")).next().unwrap();
        before.rsplit(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    assert!(count("requests") > count("resources") + 20, "pages of 7: {summary}");

    // -n: one namespace's objects and the Namespace itself
    let one = json(
        &kguard(&["scan", "--no-config", "-o", "json", "--kubeconfig", kc, "-n", "monitoring"]),
        "scan -n monitoring",
    );
    let mut in_ns = 0;
    for f in one["findings"].as_array().unwrap() {
        // a finding on an object, or on a namespace as a whole (its file names the object)
        let object = f["object"].as_str().or(f["location"]["file"].as_str()).unwrap_or_default();
        assert!(
            object.contains("/monitoring/") || object.ends_with("Namespace/monitoring"),
            "outside -n: {object} ({f})"
        );
        in_ns += 1;
    }
    assert!(in_ns > 50, "monitoring has findings: {in_ns}");

    // rbac risks, who-can, netpol list: the same answers from the cluster and from the dump
    let risks_live = json(&kguard(&["rbac", "risks", "-o", "json", "--kubeconfig", kc]), "rbac risks --kubeconfig");
    let risks_file = json(&kguard(&["rbac", "risks", "-o", "json", "-f", &dumped]), "rbac risks -f");
    assert_eq!(findings(&risks_live), findings(&risks_file), "rbac risks");
    for (verb, resource, ns) in
        [("get", "secrets", "kube-system"), ("create", "pods/exec", "monitoring"), ("list", "nodes", "")]
    {
        let live = kguard(&["who-can", verb, resource, "-n", ns, "--kubeconfig", kc]);
        let file = kguard(&["who-can", verb, resource, "-n", ns, "-f", &dumped]);
        assert!(live.status.success(), "who-can: {}", err(&live));
        assert!(
            text(&live) == text(&file),
            "who-can {verb} {resource} -n {ns}:\n{}\n---\n{}",
            text(&live),
            text(&file)
        );
    }
    let np_live = kguard(&["netpol", "list", "--kubeconfig", kc]);
    let np_file = kguard(&["netpol", "list", "-f", &dumped]);
    assert!(np_live.status.success(), "netpol list: {}", err(&np_live));
    assert!(
        text(&np_live) == text(&np_file),
        "netpol list: {} lines from the cluster, {} from the dump",
        text(&np_live).lines().count(),
        text(&np_file).lines().count()
    );
    assert!(text(&np_live).lines().count() > 10, "connections are listed");

    let pair = text(&np_file)
        .lines()
        .filter_map(|l| l.split(" : ").next()?.split_once(" => "))
        .find(|(a, b)| !a.contains("[External]") && !b.contains("[External]"))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .expect("a connection between workloads");
    let reach_live = kguard(&["netpol", "reach", "--kubeconfig", kc, &pair.0, &pair.1, "-o", "json"]);
    let reach_file = kguard(&["netpol", "reach", "-f", &dumped, &pair.0, &pair.1, "-o", "json"]);
    assert_eq!(reach_live.status.code(), reach_file.status.code(), "netpol reach {pair:?}: {}", err(&reach_live));
    let verdict = |o: &Output| json(o, "netpol reach")["allowed"].clone();
    assert_eq!(verdict(&reach_live), verdict(&reach_file), "netpol reach {pair:?}");

    // can-i --kubeconfig against the server's own answer
    let users = [
        "alice",
        "system:kube-scheduler",
        "system:serviceaccount:monitoring:prometheus-k8s",
        "system:serviceaccount:ingress-nginx:ingress-nginx",
        "system:serviceaccount:argocd:argocd-application-controller",
    ];
    let requests = [
        ("get", "pods", "default"),
        ("list", "secrets", "monitoring"),
        ("create", "deployments.apps", "argocd"),
        ("watch", "configmaps", "ingress-nginx"),
        ("update", "leases.coordination.k8s.io", "kube-system"),
        ("delete", "nodes", ""),
    ];
    let mut agree = 0;
    for user in users {
        for (verb, resource, ns) in requests {
            let mut server = vec!["auth", "can-i", verb, resource, "--as", user];
            let mut ours = vec!["can-i", verb, resource, "--as", user, "--kubeconfig", kc];
            if ns.is_empty() {
                server.push("--all-namespaces=false");
            } else {
                server.extend(["-n", ns]);
                ours.extend(["-n", ns]);
            }
            let s = kube.kubectl(&server);
            let k = kguard(&ours);
            assert_eq!(text(&k).trim(), text(&s).trim(), "can-i {verb} {resource} -n {ns:?} --as {user}: {}", err(&k));
            agree += 1;
        }
    }

    // a user who may read only some resources: warnings for the others, the rest scanned
    let role = dir.path().join("carol.yaml");
    std::fs::write(
        &role,
        // not `view`: it is aggregated, and this server runs no controller to fill it
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: carol-reader}\nrules:\n\
         - {apiGroups: [\"\"], resources: [pods, services, configmaps, namespaces, serviceaccounts], verbs: [get, list]}\n\
         - {apiGroups: [apps, batch, networking.k8s.io], resources: [\"*\"], verbs: [get, list]}\n\
         ---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: carol-reader}\n\
         roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: carol-reader}\n\
         subjects: [{kind: User, name: carol, apiGroup: rbac.authorization.k8s.io}]\n",
    )
    .unwrap();
    let o = kube.kubectl(&["create", "-f", &role.display().to_string()]);
    assert!(o.status.success(), "{}", err(&o));
    let carol = kubeconfig(&kube, dir.path(), "carol", kube.env("KUBE_SERVER"), "carol-token");
    let viewed = kguard(&["scan", "--no-config", "-o", "json", "--kubeconfig", &carol]);
    let report = json(&viewed, "scan as carol");
    let warnings = err(&viewed);
    assert!(
        warnings.contains("cluster:secrets: warning: not read: secrets is forbidden: User \"carol\" cannot list"),
        "{warnings}"
    );
    let seen = findings(&report);
    for (rule, object, _) in seen.keys() {
        assert!(!object.starts_with("Secret/") && !object.contains("Role"), "{rule} on {object} read as carol");
    }
    let workloads = |m: &BTreeMap<(String, String, String), usize>| -> BTreeMap<(String, String, String), usize> {
        m.iter().filter(|((_, o, _), _)| o.starts_with("Deployment/")).map(|(k, v)| (k.clone(), *v)).collect()
    };
    assert_eq!(workloads(&seen), workloads(&a), "carol sees the Deployments' findings the admin sees");

    // clear errors
    let refused = kubeconfig(&kube, dir.path(), "bad", kube.env("KUBE_SERVER"), "not-a-token");
    let o = kguard(&["scan", "--kubeconfig", &refused]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("refused the credentials (401 Unauthorized)"), "{}", err(&o));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let gone = kubeconfig(&kube, dir.path(), "gone", &format!("https://127.0.0.1:{port}"), "x");
    let o = kguard(&["can-i", "get", "pods", "--as", "alice", "--kubeconfig", &gone]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains(&format!("cannot reach the API server at https://127.0.0.1:{port}")), "{}", err(&o));
    let o = kguard(&["scan", "--kubeconfig", kc, "--context", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("nope"), "{}", err(&o));

    println!(
        "cluster live oracle: {} checks agree of {} (scan: {} objects and {} findings equal to the scan of \
         `kubectl get`, paged and not; -n; rbac risks, 3 who-can, netpol list and reach equal; can-i {agree} of {agree} \
         equal to kubectl auth can-i; a partial reader scanned; 3 clear errors)",
        agree + 10,
        agree + 10,
        objects(&from_cluster),
        total
    );
}

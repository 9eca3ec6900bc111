//! `kguard detect --live` end to end (the `live` feature; root or CAP_BPF + CAP_PERFMON): Falco's
//! periodic metrics snapshots (`metrics:` in the `-c` file) to the outputs and to
//! `output_file`, `--min-priority` hiding them from the outputs only, and the ring buffer size
//! from `engine.modern_ebpf.buf_size_preset`. Skipped, visibly, where the probe cannot load.
#![cfg(feature = "live")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::Command;

fn rules() -> Option<std::path::PathBuf> {
    kguard_testkit::shared_path("oracles/falco-syscall/rules/falco_rules.current.yaml")
}

#[test]
fn metrics_snapshots_go_to_the_outputs_and_the_file() {
    let Some(rules) = rules() else { return };
    let dir = std::env::temp_dir().join(format!("kguard-detect-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let jsonl = dir.join("metrics.jsonl");
    let cfg = dir.join("falco.yaml");
    std::fs::write(
        &cfg,
        format!(
            "metrics:\n  enabled: true\n  interval: 300ms\n  output_rule: true\n  output_file: {}\n\
             engine:\n  modern_ebpf:\n    buf_size_preset: 1\n",
            jsonl.display()
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kguard"))
            .args(["detect", "--live", "-r", rules.to_str().unwrap(), "-c", cfg.to_str().unwrap()])
            .args(["--duration", "2", "-o", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    if stderr.contains("error: --live:") {
        kguard_testkit::skip("kguard detect --live metrics", stderr.lines().last().unwrap_or_default());
        return;
    }
    // 1 when a stable rule fired on something else the machine did meanwhile
    assert!(matches!(o.status.code(), Some(0 | 1)), "{stderr}");
    let snaps: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["rule"] == "Falco internal: metrics snapshot")
        .collect();
    // 2 s at 300 ms, counted from before the probe loads: about 6 to 8 snapshots
    assert!((4..=8).contains(&snaps.len()), "{} snapshots: {snaps:?}", snaps.len());
    let mut prev = 0;
    for s in &snaps {
        let f = &s["output_fields"];
        assert_eq!((s["priority"].as_str(), s["source"].as_str()), (Some("Informational"), Some("internal")));
        assert_eq!(f["scap.engine_name"], "modern_bpf");
        assert_eq!(f["falco.num_evts_prev"].as_u64(), Some(prev), "each snapshot follows the previous one");
        prev = f["falco.num_evts"].as_u64().unwrap();
        for k in ["falco.cpu_usage_perc", "falco.memory_rss_mb", "falco.n_threads", "scap.n_evts", "scap.n_drops_perc"]
        {
            assert!(f[k].is_number(), "{k} in {f}");
        }
        assert!(f["falco.n_threads"].as_u64().unwrap() > 1, "threads from /proc");
    }
    let file: Vec<String> = std::fs::read_to_string(&jsonl).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(file.len(), snaps.len(), "every snapshot also appended to output_file");

    // --min-priority above Informational: nothing on stdout, the file still grows
    let o = run(&["--min-priority", "warning"]);
    assert!(matches!(o.status.code(), Some(0 | 1)));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("metrics snapshot"));
    let grown = std::fs::read_to_string(&jsonl).unwrap().lines().count();
    assert!(grown >= file.len() + 4, "{grown} lines after the second run");

    // a bad preset is a configuration error, exit 2
    std::fs::write(&cfg, "engine:\n  modern_ebpf:\n    buf_size_preset: 11\n").unwrap();
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("buf_size_preset must be a whole number from 1"));
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("detect --live metrics: {} snapshots in 2 s at 300 ms, on stdout and in output_file", snaps.len());
}

/// The DaemonSet's pod, as an OCI runtime gets it: `runc` runs `kguard detect --live` with the
/// manifest's exact privileges (its capabilities and nothing else, no new privileges, read-only
/// root, the host's PID namespace, its hostPath volumes read-only, the rules ConfigMap as a
/// file, its environment), and it sees a program on the host read `/etc/shadow`. Without
/// `CAP_BPF` or `CAP_PERFMON` it stops with exit 2 and names the missing capability.
#[test]
fn the_daemonset_privileges_suffice_and_are_needed() {
    use kguard_model::yaml::{YamlNode, parse_documents};
    let Some(rules) = rules() else { return };
    let Some(runc) = ["/usr/sbin/runc", "/usr/bin/runc"].iter().map(std::path::Path::new).find(|p| p.exists()) else {
        kguard_testkit::skip("DaemonSet under runc", "no runc (Debian: runc)");
        return;
    };
    let root = kguard_testkit::repo_root();
    let text = std::fs::read_to_string(root.join("deploy/node/daemonset.yaml")).unwrap();
    let docs = parse_documents(&text);
    let ds = docs
        .iter()
        .filter_map(|d| d.root.as_ref().ok().and_then(Option::as_ref))
        .find(|r| r.get("kind").and_then(YamlNode::as_str) == Some("DaemonSet"))
        .expect("a DaemonSet");
    let pod = ds.get("spec").and_then(|s| s.get("template")).and_then(|t| t.get("spec")).unwrap();
    assert_eq!(pod.get("hostPID").and_then(YamlNode::as_bool), Some(true));
    let c = &pod.get("containers").and_then(YamlNode::as_seq).unwrap()[0];
    let sc = c.get("securityContext").unwrap();
    let strs = |n: Option<&YamlNode>| -> Vec<String> {
        n.and_then(YamlNode::as_seq).unwrap_or_default().iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    let caps: Vec<String> =
        strs(sc.get("capabilities").and_then(|c| c.get("add"))).iter().map(|c| format!("CAP_{c}")).collect();
    assert_eq!(strs(sc.get("capabilities").and_then(|c| c.get("drop"))), ["ALL"]);
    assert_eq!(sc.get("privileged").and_then(YamlNode::as_bool), Some(false));
    let no_new_privs = sc.get("allowPrivilegeEscalation").and_then(YamlNode::as_bool) == Some(false);
    let ro_root = sc.get("readOnlyRootFilesystem").and_then(YamlNode::as_bool) == Some(true);
    let mut args = strs(c.get("args"));
    args.extend(["--duration".into(), "6".into()]);
    let env: Vec<String> = c
        .get("env")
        .and_then(YamlNode::as_seq)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            format!(
                "{}={}",
                e.get("name").and_then(YamlNode::as_str).unwrap(),
                e.get("value").and_then(YamlNode::as_str).unwrap()
            )
        })
        .collect();
    let volumes = pod.get("volumes").and_then(YamlNode::as_seq).unwrap();

    let dir = std::env::temp_dir().join(format!("kguard-ds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rootfs = dir.join("rootfs");
    for d in ["usr/local/bin", "proc", "dev", "sys", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    // the image: the binary (bound in) and the libraries it links
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_kguard"));
    std::fs::write(rootfs.join("usr/local/bin/kguard"), b"").unwrap();
    let ldd = String::from_utf8(Command::new("ldd").arg(&bin).output().unwrap().stdout).unwrap();
    for lib in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
        let to = rootfs.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(lib, &to).unwrap();
    }
    let bind = |src: &std::path::Path, dst: &str| serde_json::json!({"destination": dst, "type": "bind", "source": src, "options": ["rbind", "ro", "nosuid", "nodev"]});
    let mut mounts = vec![
        serde_json::json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        serde_json::json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        serde_json::json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        bind(&bin, "/usr/local/bin/kguard"),
    ];
    for m in c.get("volumeMounts").and_then(YamlNode::as_seq).unwrap() {
        let name = m.get("name").and_then(YamlNode::as_str).unwrap();
        let path = m.get("mountPath").and_then(YamlNode::as_str).unwrap();
        assert_eq!(m.get("readOnly").and_then(YamlNode::as_bool), Some(true), "{name} is read-only");
        let v = volumes.iter().find(|v| v.get("name").and_then(YamlNode::as_str) == Some(name)).unwrap();
        let source = if let Some(h) = v.get("hostPath") {
            let p = std::path::PathBuf::from(h.get("path").and_then(YamlNode::as_str).unwrap());
            if h.get("type").and_then(YamlNode::as_str) == Some("DirectoryOrCreate") {
                std::fs::create_dir_all(&p).unwrap();
            }
            p
        } else {
            // the rules ConfigMap: a folder with the current stable rules under the key the args name
            let cm = dir.join("configmap");
            std::fs::create_dir_all(&cm).unwrap();
            let key = args.iter().position(|a| a == "-r").map(|i| args[i + 1].clone()).unwrap();
            std::fs::copy(&rules, cm.join(std::path::Path::new(&key).file_name().unwrap())).unwrap();
            cm
        };
        let target = rootfs.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(&target).unwrap();
        mounts.push(bind(&source, path));
    }
    let spec = |caps: &[String]| {
        let mut a = vec!["/usr/local/bin/kguard".to_owned()];
        a.extend(args.iter().cloned());
        let mut e = vec!["PATH=/usr/local/bin:/usr/bin:/bin".to_owned()];
        e.extend(env.iter().cloned());
        serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false, "user": {"uid": 0, "gid": 0}, "args": a, "cwd": "/",
                "env": e,
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                "noNewPrivileges": no_new_privs,
            },
            "root": {"path": rootfs, "readonly": ro_root},
            "hostname": "kguard-detect",
            "mounts": mounts,
            // hostPID: no pid namespace; the pod has its own network, IPC, UTS and mounts
            "linux": {"namespaces": [{"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]},
        })
    };
    let run = |caps: &[String], id: &str| -> (i32, String, String) {
        let bundle = dir.join(id);
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::write(bundle.join("config.json"), spec(caps).to_string()).unwrap();
        let child = Command::new(runc)
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(format!("kguard-ds-{id}-{}", std::process::id()))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // a program on the host reads /etc/shadow while it watches
        std::thread::sleep(std::time::Duration::from_secs(3));
        let reader = dir.join("kgdsreader");
        std::fs::copy("/bin/cat", &reader).unwrap();
        let _ = Command::new(&reader).arg("/etc/shadow").output();
        let o = child.wait_with_output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&caps, "full");
    if err.contains("the probe needs a kernel") || err.contains("cannot load") {
        kguard_testkit::skip("DaemonSet under runc", err.lines().last().unwrap_or_default());
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    assert_eq!(code, 1, "alerts: exit 1\n{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("\"rule\":\"Read sensitive file untrusted\"") && l.contains("process=kgdsreader")),
        "the host's read of /etc/shadow, seen from the pod: {out}\n{err}"
    );
    for missing in ["CAP_BPF", "CAP_PERFMON"] {
        let fewer: Vec<String> = caps.iter().filter(|c| *c != missing).cloned().collect();
        let (code, _, err) = run(&fewer, &missing.to_lowercase());
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&format!("missing {missing}")), "without {missing}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "DaemonSet under runc: {} with hostPID and read-only mounts sees the host; each of CAP_BPF, CAP_PERFMON is needed",
        caps.join(" ")
    );
}

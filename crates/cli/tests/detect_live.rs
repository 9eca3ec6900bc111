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
    assert_eq!(o.status.code(), Some(0), "{stderr}");
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
    assert_eq!(o.status.code(), Some(0));
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

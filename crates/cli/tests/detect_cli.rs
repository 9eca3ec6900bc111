//! End-to-end tests of `kguard detect`: upstream trace files, rule validation with file:line,
//! gzip and rotated inputs, bad lines, JSON alerts, `--output-file` and `--http-output` (against an
//! in-process server on 127.0.0.1 only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(args)
        .current_dir(kguard_testkit::repo_root())
        .output()
        .expect("runs kguard")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh temporary directory for one test.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kguard-detect-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn trace(name: &str) -> Option<PathBuf> {
    kguard_testkit::shared_path(&format!("oracles/falco-k8saudit/test/trace_files/k8s_audit/{name}"))
}

fn upstream_rules() -> Option<PathBuf> {
    kguard_testkit::shared_path("oracles/falco-k8saudit/rules/k8s_audit_rules.current.yaml")
}

/// One audit event that the bundled rules and upstream's both alert on (a privileged pod).
const PRIVILEGED: &str = "create_nginx_pod_privileged.json";

fn gzip(data: &[u8], to: &Path) {
    let mut e = flate2::write::GzEncoder::new(std::fs::File::create(to).unwrap(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap();
}

/// A minimal audit event creating a ConfigMap named `name` (fires upstream's
/// "Create/Modify Configmap With Private Credentials" when `data` holds a password).
fn configmap_event(name: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"{name}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/configmaps","verb":"create","user":{{"username":"admin"}},"objectRef":{{"resource":"configmaps","namespace":"default","name":"{name}","apiVersion":"v1"}},"responseStatus":{{"code":201}},"requestObject":{{"kind":"ConfigMap","apiVersion":"v1","metadata":{{"name":"{name}"}},"data":{{"db_password":"hunter2"}}}},"stageTimestamp":"2024-05-01T10:00:00.000000Z"}}"#
    )
}

#[test]
fn upstream_trace_fires_upstream_rule_as_text_and_json() {
    let (Some(ev), Some(rules)) = (trace(PRIVILEGED), upstream_rules()) else { return };
    let (ev, rules) = (ev.to_str().unwrap(), rules.to_str().unwrap());
    let o = kguard(&["detect", "--rules", rules, ev]);
    assert_eq!(code(&o), 1, "alerts → exit 1\n{}", err(&o));
    assert!(out(&o).contains(": Warning Pod started with privileged container"), "{}", out(&o));
    assert!(err(&o).contains("Events detected: 1"), "{}", err(&o));

    let o = kguard(&["detect", "--rules", rules, "-o", "json", ev]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let a: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    // Falco's JSON alert: exactly these keys
    let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time"]);
    assert_eq!(a["rule"], "Create Privileged Pod");
    assert_eq!(a["priority"], "Warning");
    assert_eq!(a["source"], "k8s_audit");
    assert!(a["output_fields"]["ka.user.name"].is_string(), "{a}");
    assert!(a["time"].as_str().unwrap().ends_with('Z'), "{a}");
    assert!(a["tags"].as_array().unwrap().iter().any(|t| t == "k8s"), "{a}");
}

#[test]
fn every_upstream_trace_file_is_read_without_input_errors() {
    let (Some(dir), Some(rules)) =
        (kguard_testkit::shared_path("oracles/falco-k8saudit/test/trace_files/k8s_audit"), upstream_rules())
    else {
        return;
    };
    let o = kguard(&["detect", "--all", "--rules", rules.to_str().unwrap(), dir.to_str().unwrap()]);
    // fal_01_003.json is upstream's deliberately bad trace ({"kind": 0}): one skipped line, exit 2
    assert_eq!(code(&o), 2, "{}", err(&o));
    let e = err(&o);
    let bad: Vec<&str> = e.lines().filter(|l| l.contains("skipped")).collect();
    assert_eq!(bad.len(), 1, "{e}");
    assert!(bad[0].contains("fal_01_003.json:1: Data not recognized as a k8s audit event"), "{e}");
    assert!(out(&o).lines().count() > 20, "{}", out(&o));
}

#[test]
fn validate_reports_file_and_line_of_a_broken_rule() {
    let d = tmp("validate");
    let f = d.join("broken.yaml");
    std::fs::write(
        &f,
        "- list: users\n  items: [a, b]\n\n- rule: Fine\n  desc: ok\n  condition: ka.verb=create\n  output: \"%ka.user.name\"\n  priority: WARNING\n  source: k8s_audit\n\n- rule: Broken\n  desc: bad\n  condition: ka.verb=create and (\n  output: x\n  priority: WARNING\n  source: k8s_audit\n",
    )
    .unwrap();
    let o = kguard(&["detect", "--validate", f.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", out(&o));
    let e = err(&o);
    assert!(e.contains(&format!("{}:11", f.display())), "file:line of the rule:\n{e}");
    assert!(e.contains("Broken"), "{e}");
    let o = kguard(&["detect", "--validate", "rules/kguard_k8s_audit_rules.yaml"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains(": ok"), "{}", out(&o));
}

#[test]
fn gzip_input_bad_lines_and_rotation_order() {
    let Some(rules) = upstream_rules() else { return };
    let d = tmp("rotation");
    // rotated logs: the oldest events are in the highest-numbered / earliest-stamped backups
    std::fs::write(d.join("audit.log"), format!("{}\n", configmap_event("cm-4"))).unwrap();
    std::fs::write(d.join("audit.log.1"), format!("{}\nnot json at all\n", configmap_event("cm-3"))).unwrap();
    gzip(format!("{}\n", configmap_event("cm-2")).as_bytes(), &d.join("audit.log.2.gz"));
    gzip(format!("{}\n", configmap_event("cm-1")).as_bytes(), &d.join("audit-2024-05-01T10-00-00.000.log.gz"));
    gzip(format!("{}\n", configmap_event("cm-0")).as_bytes(), &d.join("audit-2024-04-30T10-00-00.000.log.gz"));
    std::fs::write(d.join("notes.txt"), "not an event file\n").unwrap();
    let o = kguard(&["detect", "--rules", rules.to_str().unwrap(), "--format", "json", d.to_str().unwrap()]);
    let e = err(&o);
    assert_eq!(code(&o), 2, "a bad line is an input error\n{e}");
    assert!(e.contains(&format!("{}:2: Could not read k8s audit event", d.join("audit.log.1").display())), "{e}");
    assert!(!e.contains("notes.txt"), "{e}");
    let names: Vec<String> = out(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|a| a["output_fields"]["ka.req.configmap.name"].as_str().unwrap_or("?").to_owned())
        .collect();
    assert_eq!(names, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"], "{}", out(&o));

    // a .gz file named on the command line, and gzip on stdin
    let o = kguard(&["detect", "--rules", rules.to_str().unwrap(), d.join("audit.log.2.gz").to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(out(&o).contains("cm-2"), "{}", out(&o));
    let mut child = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["detect", "--rules", rules.to_str().unwrap(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(d.join("audit.log.2.gz")).unwrap()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(out(&o).contains("cm-2"), "{}", out(&o));
}

#[test]
fn output_file_appends_json_lines() {
    let Some(rules) = upstream_rules() else { return };
    let d = tmp("outfile");
    let ev = d.join("events.jsonl");
    std::fs::write(&ev, format!("{}\n{}\n", configmap_event("a"), configmap_event("b"))).unwrap();
    let file = d.join("alerts.jsonl");
    let args =
        ["detect", "--rules", rules.to_str().unwrap(), "--output-file", file.to_str().unwrap(), ev.to_str().unwrap()];
    for _ in 0..2 {
        let o = kguard(&args);
        assert_eq!(code(&o), 1, "{}", err(&o));
        assert!(out(&o).contains("Warning"), "stdout keeps the text alerts: {}", out(&o));
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let alerts: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(alerts.len(), 4, "appended, not truncated:\n{text}");
    assert_eq!(alerts[0]["rule"], "Create/Modify Configmap With Private Credentials");
    assert_eq!(alerts[3]["output_fields"]["ka.req.configmap.name"], "b");
}

/// One HTTP/1.1 request read from a test client: (request line, headers, body).
#[test]
fn http_output_retries_and_posts_falco_json() {
    let Some(rules) = upstream_rules() else { return };
    let d = tmp("http");
    let ev = d.join("events.jsonl");
    std::fs::write(&ev, format!("{}\n", configmap_event("posted"))).unwrap();
    // loopback only: the server answers 500 to the first request and 200 to the second
    let (base, server) = kguard_testkit::http_receiver(vec![500, 200]);
    let url = format!("{base}/falco");
    let o = kguard(&["detect", "--rules", rules.to_str().unwrap(), "--http-output", &url, ev.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "delivered on the second try → only the alert's exit code\n{}", err(&o));
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 2);
    for kguard_testkit::Received { line, headers, body } in &seen {
        assert_eq!(line, "POST /falco HTTP/1.1");
        assert!(headers.iter().any(|(k, v)| k == "content-type" && v == "application/json"), "{headers:?}");
        let a: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(a["rule"], "Create/Modify Configmap With Private Credentials");
        assert_eq!(a["priority"], "Warning");
        assert_eq!(a["source"], "k8s_audit");
        assert_eq!(a["output_fields"]["ka.req.configmap.name"], "posted");
        for k in ["hostname", "output", "output_fields", "tags", "time"] {
            assert!(a.get(k).is_some(), "{k} missing in {a}");
        }
    }
    assert_eq!(seen[0].body, seen[1].body, "the retry sends the same body");
}

#[test]
fn http_output_gives_up_after_three_tries_and_rejects_other_schemes() {
    let Some(rules) = upstream_rules() else { return };
    let d = tmp("http-fail");
    let ev = d.join("events.jsonl");
    std::fs::write(&ev, format!("{}\n", configmap_event("x"))).unwrap();
    let (base, server) = kguard_testkit::http_receiver(vec![503; 3]);
    let url = format!("{base}/");
    let o = kguard(&["detect", "--rules", rules.to_str().unwrap(), "--http-output", &url, ev.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(err(&o).contains("not delivered after 3 tries: HTTP 503"), "{}", err(&o));
    assert_eq!(server.join().unwrap().len(), 3);

    let o = kguard(&["detect", "--http-output", "file:///etc/passwd", ev.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("only http:// and https://"), "{}", err(&o));
}

/// A rules file that fires once per `create` event, naming its object (no oracle needed).
fn any_create_rules(d: &Path) -> PathBuf {
    let p = d.join("rules.yaml");
    std::fs::write(
        &p,
        "- rule: Any Create\n  desc: d\n  condition: ka.verb = create\n  output: created %ka.target.name\n  priority: INFO\n  source: k8s_audit\n",
    )
    .unwrap();
    p
}

/// Runs kguard with stdout/stderr in files; `None` when it is still running after `secs` (killed).
fn kguard_within(args: &[&str], secs: u64, d: &Path) -> Option<Output> {
    let (o, e) = (d.join("stdout"), d.join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(Output { status, stdout: std::fs::read(&o).unwrap(), stderr: std::fs::read(&e).unwrap() });
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn mkfifo(p: &Path) -> bool {
    Command::new("mkfifo").arg(p).status().is_ok_and(|s| s.success())
}

/// Reproduction: a gzip that expands to one line of gigabytes was read whole into memory. A line
/// longer than the cap is now an error naming its file, line and the cap, and reading goes on.
#[test]
fn a_line_longer_than_the_cap_is_skipped_with_its_line_and_the_cap() {
    let d = tmp("longline");
    let rules = any_create_rules(&d);
    let cap = kguard_detect::k8saudit::LineReader::MAX_LINE_BYTES;
    // One gzip member of 1 MiB of `x`, repeated: a small file that expands to one line over the cap
    // (gzip members concatenate).
    let mut member = Vec::new();
    {
        let mut e = flate2::write::GzEncoder::new(&mut member, flate2::Compression::fast());
        e.write_all(&vec![b'x'; 1 << 20]).unwrap();
        e.finish().unwrap();
    }
    let mut gz = Vec::new();
    let head = |gz: &mut Vec<u8>, text: &str| {
        let mut e = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap();
    };
    head(&mut gz, &format!("{}\n", configmap_event("before")));
    for _ in 0..(cap >> 20) + 1 {
        gz.extend_from_slice(&member);
    }
    head(&mut gz, &format!("\n{}\n", configmap_event("after")));
    let file = d.join("audit.log.gz");
    std::fs::write(&file, &gz).unwrap();
    assert!(gz.len() < 1 << 20, "the input is small ({} bytes)", gz.len());
    let o = kguard(&["detect", "--rules", rules.to_str().unwrap(), file.to_str().unwrap()]);
    let e = err(&o);
    assert_eq!(code(&o), 2, "a skipped line is an input error\n{e}");
    let want = format!(
        "{}:2: Could not read k8s audit event: line of {} bytes is longer than the limit of {} MiB, skipped",
        file.display(),
        cap + (1 << 20),
        cap >> 20
    );
    assert!(e.contains(&want), "{e}");
    assert!(out(&o).contains("created before"), "{}", out(&o));
    assert!(out(&o).contains("created after"), "reading goes on after the long line: {}", out(&o));

    // The same line, plain (not gzipped), ending the input without a newline.
    let plain = d.join("plain.jsonl");
    let mut text = format!("{}\n", configmap_event("before")).into_bytes();
    text.extend(std::iter::repeat_n(b'y', cap + 1));
    std::fs::write(&plain, &text).unwrap();
    let o = kguard(&["detect", "--rules", rules.to_str().unwrap(), plain.to_str().unwrap()]);
    let e = err(&o);
    assert_eq!(code(&o), 2, "{e}");
    assert!(
        e.contains(&format!("{}:2: Could not read k8s audit event: line of {} bytes", plain.display(), cap + 1)),
        "{e}"
    );
    assert!(out(&o).contains("created before"), "{}", out(&o));
    // its 65 MB input is not left behind
    let _ = std::fs::remove_dir_all(&d);
}

/// Reproduction: a FIFO named like an audit log in an events directory made `kguard detect` wait
/// forever for a writer. Directory scans skip what is not a regular file, with a warning.
#[test]
fn a_fifo_in_an_events_directory_is_skipped_not_waited_on() {
    let d = tmp("fifodir");
    let rules = any_create_rules(&d);
    let events = d.join("events");
    std::fs::create_dir_all(&events).unwrap();
    std::fs::write(events.join("audit.log.1"), format!("{}\n", configmap_event("cm-1"))).unwrap();
    if !mkfifo(&events.join("audit.log")) {
        eprintln!("mkfifo unavailable: skipped");
        return;
    }
    let o = kguard_within(&["detect", "--rules", rules.to_str().unwrap(), events.to_str().unwrap()], 30, &d)
        .expect("kguard detect must not wait on a FIFO found in a directory");
    let e = err(&o);
    assert_eq!(code(&o), 1, "{e}");
    assert!(e.contains(&format!("warning: {}: not a regular file", events.join("audit.log").display())), "{e}");
    assert!(out(&o).contains("created cm-1"), "{}", out(&o));
}

/// A FIFO named on the command line is read like stdin: until its writer closes it.
#[test]
fn a_fifo_named_on_the_command_line_is_read_like_stdin() {
    let d = tmp("fifoarg");
    let rules = any_create_rules(&d);
    let fifo = d.join("pipe");
    if !mkfifo(&fifo) {
        eprintln!("mkfifo unavailable: skipped");
        return;
    }
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            writeln!(f, "{}", configmap_event("piped")).unwrap();
        })
    };
    let o = kguard_within(&["detect", "--rules", rules.to_str().unwrap(), fifo.to_str().unwrap()], 30, &d)
        .expect("kguard detect ends when the FIFO's writer closes it");
    writer.join().unwrap();
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(out(&o).contains("created piped"), "{}", out(&o));
}

/// A directory that links to itself is entered once.
#[cfg(unix)]
#[test]
fn a_symlink_loop_in_an_events_directory_ends() {
    let d = tmp("symloop");
    let rules = any_create_rules(&d);
    let events = d.join("events");
    std::fs::create_dir_all(&events).unwrap();
    std::fs::write(events.join("audit.log"), format!("{}\n", configmap_event("once"))).unwrap();
    std::os::unix::fs::symlink(&events, events.join("again")).unwrap();
    let o = kguard_within(&["detect", "--rules", rules.to_str().unwrap(), events.to_str().unwrap()], 30, &d)
        .expect("the scan ends");
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert_eq!(out(&o).matches("created once").count(), 1, "{}", out(&o));
}

#[test]
fn rule_selection_flags_follow_falco() {
    let Some(ev) = trace(PRIVILEGED) else { return };
    let ev = ev.to_str().unwrap();
    // the bundled rules fire on a privileged pod
    let o = kguard(&["detect", ev]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(out(&o).contains("Privileged"), "{}", out(&o));
    // -D: a substring of the name disables the rule
    let o = kguard(&["detect", "-D", "Privileged Container", ev]);
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));
    // -T: a tag it carries disables it; another tag does not
    let o = kguard(&["detect", "-T", "privilege", ev]);
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));
    let o = kguard(&["detect", "-T", "rbac", ev]);
    assert_eq!(code(&o), 1, "{}{}", out(&o), err(&o));
    // -t: only rules with the tag run
    let o = kguard(&["detect", "-t", "rbac", ev]);
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));
    let o = kguard(&["detect", "-t", "privilege", ev]);
    assert_eq!(code(&o), 1, "{}{}", out(&o), err(&o));
    // -t with -D or -T is refused, in Falco's words
    let o = kguard(&["detect", "-t", "privilege", "-T", "rbac", ev]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("You can not specify both disabled (-D/-T) and enabled (-t) rules"), "{}", err(&o));
}

fn syscall_oracle(rel: &str) -> Option<PathBuf> {
    kguard_testkit::shared_path(&format!("oracles/falco-syscall/test/{rel}"))
}

#[test]
fn capture_alerts_are_falcos_lines_in_order() {
    let (Some(cap), Some(rules), Some(want)) = (
        syscall_oracle("trace_files/cat_write.scap"),
        syscall_oracle("rules/single_rule.yaml"),
        syscall_oracle("output_files/single_rule_with_cat_write.txt"),
    ) else {
        return;
    };
    let (cap, rules) = (cap.to_str().unwrap(), rules.to_str().unwrap());
    let o = kguard(&["detect", "-r", rules, "-e", cap]);
    assert_eq!(code(&o), 1, "alerts → exit 1\n{}", err(&o));
    // Falco's stdout_output_strict case: the expected lines, in order
    let want = std::fs::read_to_string(want).unwrap();
    assert_eq!(out(&o).trim_end(), want.trim_end());
    assert!(err(&o).contains("Events detected: 8"), "{}", err(&o));

    let o = kguard(&["detect", "-r", rules, "--capture", cap, "-o", "json"]);
    let first: serde_json::Value = serde_json::from_str(out(&o).lines().next().unwrap()).unwrap();
    assert_eq!(first["rule"], "open_from_cat");
    assert_eq!(first["source"], "syscall");
    assert_eq!(first["output_fields"]["proc.cmdline"], "cat /dev/null");
    assert_eq!(first["time"], "2016-08-04T16:17:57.881781397Z");
}

#[test]
fn a_corrupt_capture_is_an_error_naming_it_and_rules_are_required() {
    let (Some(cap), Some(rules)) =
        (syscall_oracle("trace_files/cat_write.scap"), syscall_oracle("rules/single_rule.yaml"))
    else {
        return;
    };
    let d = tmp("corrupt-capture");
    // the capture, decompressed and cut in the middle of a block
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(std::fs::File::open(&cap).unwrap()), &mut raw)
        .unwrap();
    let cut = d.join("cut.scap");
    std::fs::write(&cut, &raw[..raw.len() / 2 + 3]).unwrap();
    let o = kguard(&["detect", "-r", rules.to_str().unwrap(), "-e", cut.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(err(&o).contains(&format!("error: {}: ", cut.display())), "{}", err(&o));
    // not a capture at all
    let junk = d.join("junk.scap");
    std::fs::write(&junk, b"not a capture").unwrap();
    let o = kguard(&["detect", "-r", rules.to_str().unwrap(), "-e", junk.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    // captures need syscall rules
    let o = kguard(&["detect", "-e", cap.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("--capture needs rules files"), "{}", err(&o));
}

#[test]
fn validate_reports_falcos_load_results_per_file() {
    let (Some(base), Some(bad)) =
        (syscall_oracle("rules/invalid_base_macro.yaml"), syscall_oracle("rules/invalid_append_macro.yaml"))
    else {
        return;
    };
    let o =
        kguard(&["detect", "--validate", base.to_str().unwrap(), "--validate", bad.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    let results = v["falco_load_results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    // the base file loads; appending to its macro breaks the second
    assert_eq!(results[0]["successful"], true);
    assert_eq!(results[0]["warnings"][0]["code"], "LOAD_UNUSED_MACRO");
    assert_eq!(results[1]["successful"], false);
    let e = &results[1]["errors"][0];
    assert_eq!(e["code"], "LOAD_ERR_COMPILE_CONDITION");
    assert_eq!(e["message"], "unexpected token after 'execve', expecting 'or', 'and'");
    assert_eq!(e["context"]["locations"][0]["item_type"], "macro");
    assert_eq!(e["context"]["locations"][0]["item_name"], "some macro");
    // text: every message with file:line:column and its code
    let o = kguard(&["detect", "--validate", base.to_str().unwrap(), "--validate", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("invalid_base_macro.yaml:1:3: error: unexpected token after 'execve'"), "{}", err(&o));
    assert!(err(&o).contains("[LOAD_ERR_COMPILE_CONDITION]"), "{}", err(&o));
}

#[test]
fn write_capture_gives_a_capture_that_reads_back_the_same() {
    let (Some(cap), Some(rules), Some(want)) = (
        syscall_oracle("trace_files/cat_write.scap"),
        syscall_oracle("rules/single_rule.yaml"),
        syscall_oracle("output_files/single_rule_with_cat_write.txt"),
    ) else {
        return;
    };
    let d = tmp("write-capture");
    let want = std::fs::read_to_string(want).unwrap();
    for name in ["out.scap", "out.scap.gz"] {
        let out_path = d.join(name);
        let o = kguard(&[
            "detect",
            "-r",
            rules.to_str().unwrap(),
            "-e",
            cap.to_str().unwrap(),
            "-w",
            out_path.to_str().unwrap(),
        ]);
        assert_eq!(code(&o), 1, "{}", err(&o));
        let bytes = std::fs::read(&out_path).unwrap();
        assert_eq!(bytes.starts_with(&[0x1f, 0x8b]), name.ends_with(".gz"), "{name}");
        // the written capture gives the same alerts
        let o = kguard(&["detect", "-r", rules.to_str().unwrap(), "-e", out_path.to_str().unwrap()]);
        assert_eq!(out(&o).trim_end(), want.trim_end(), "{name}");
    }
    // it needs a capture to read
    let o = kguard(&["detect", "-w", d.join("x.scap").to_str().unwrap(), "-r", rules.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
}

#[test]
fn syscall_event_drops_follow_falcos_configuration() {
    let (Some(cap), Some(rules), Some(confs)) = (
        syscall_oracle("trace_files/ping_sendto.scap"),
        syscall_oracle("rules/single_rule.yaml"),
        syscall_oracle("confs"),
    ) else {
        return;
    };
    let (cap, rules) = (cap.to_str().unwrap(), rules.to_str().unwrap());
    let conf = |n: &str| confs.join(format!("drops_{n}.yaml")).to_str().unwrap().to_owned();
    // alert: one a second of capture time (simulated drops), Falco's text line on stdout
    let o = kguard(&["detect", "-r", rules, "-e", cap, "-c", &conf("alert")]);
    assert_eq!(code(&o), 0, "drop alerts are not rule alerts\n{}", err(&o));
    let stdout = out(&o);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 9, "{stdout}");
    assert!(
        lines[0].starts_with("2019-03-26T17:13:48.559488399+0000: Debug Falco internal: syscall event drop. 1 system calls dropped in last second. (ebpf_enabled=\"0\" n_drops=\"1\" "),
        "{}",
        lines[0]
    );
    assert!(
        err(&o).contains("   - event drop detected: 9 occurrences\n   - num times actions taken: 9\n"),
        "{}",
        err(&o)
    );
    // JSON: Falco's internal message shape
    let o = kguard(&["detect", "-r", rules, "-e", cap, "-c", &conf("alert"), "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(out(&o).lines().next().unwrap()).unwrap();
    assert_eq!(v["rule"], "Falco internal: syscall event drop");
    assert_eq!(v["priority"], "Debug");
    assert_eq!(v["source"], "internal");
    assert_eq!(v["output"], "Falco internal: syscall event drop. 1 system calls dropped in last second.");
    assert_eq!(v["output_fields"]["n_drops"], "1");
    assert_eq!(v["output_fields"]["n_evts"], "0");
    assert_eq!(v["output_fields"]["ebpf_enabled"], "0");
    assert_eq!(v["output_fields"].as_object().unwrap().len(), 19);
    assert!(v.get("tags").is_none());
    // log: a debug message (the configuration sets log_level: debug)
    let o = kguard(&["detect", "-r", rules, "-e", cap, "-c", &conf("log")]);
    assert_eq!(code(&o), 0);
    assert!(out(&o).is_empty());
    assert_eq!(err(&o).matches("Falco internal: syscall event drop. 1 system calls dropped").count(), 9, "{}", err(&o));
    // exit: stops at the first check, with an error
    let o = kguard(&["detect", "-r", rules, "-e", cap, "-c", &conf("exit")]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(err(&o).contains("Exiting.") && err(&o).contains("event drop detected: 1 occurrences"), "{}", err(&o));
    // Falco's configuration errors
    let o = kguard(&["detect", "-r", rules, "-e", cap, "-c", &conf("threshold_oor")]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("syscall event drops threshold must be a double in the range [0, 1]"), "{}", err(&o));
    let o = kguard(&["detect", "-r", rules, "-e", cap, "-c", &conf("ignore_log")]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("syscall event drop action \"log\" does not make sense with the \"ignore\" action"));
    // no simulated drops: nothing
    let o = kguard(&["detect", "-r", rules, "-e", cap, "-c", &conf("none")]);
    assert_eq!(code(&o), 0);
    assert!(out(&o).is_empty() && err(&o).contains("event drop detected: 0 occurrences"), "{}", err(&o));
}

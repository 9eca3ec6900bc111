//! Live behaviour suite: Falco's current stable rules (`falco_rules.current.yaml`, loaded
//! unchanged) over live eBPF events while shell steps trigger the rules that can fire outside a
//! container. Each expected rule must fire exactly once for its step, with the right
//! `proc.name`, `fd.name` and `user.name`; a quiet baseline must fire nothing. Alerts are counted
//! only for processes descended from this test (the machine may be busy with other work).
//!
//! Needs root (or CAP_BPF + CAP_PERFMON) and a kernel with BTF; skipped with the reason otherwise.
#![cfg(feature = "live")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kguard_ebpf::{Error, Live, Options};
use kguard_runtime::fields::SyscallFields;

#[derive(Debug, Clone)]
struct Hit {
    rule: String,
    proc_name: String,
    fd_name: String,
    user_name: String,
}

fn field(ev: &kguard_runtime::EventView<'_>, name: &str) -> String {
    ev.field(name, None).and_then(|v| v.into_iter().next()).unwrap_or_else(|| "<NA>".into())
}

fn descends_from(ev: &kguard_runtime::EventView<'_>, root: i64) -> bool {
    let mut t = ev.thread();
    for _ in 0..32 {
        let Some(th) = t else { return false };
        if th.pid == root || th.tid == root {
            return true;
        }
        t = ev.inspector.parent(th);
    }
    false
}

/// Runs `cmd` and processes events until it has exited and `settle` has passed.
fn step(live: &mut Live, engine: &kguard_detect::Engine, cmd: &mut Command, settle: Duration) -> Vec<Hit> {
    let me = i64::from(std::process::id());
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn step");
    let mut exited: Option<Instant> = None;
    let mut hits = Vec::new();
    loop {
        if exited.is_none() && child.try_wait().expect("wait").is_some() {
            exited = Some(Instant::now());
        }
        if exited.is_some_and(|t| t.elapsed() >= settle) {
            break;
        }
        while let Some(ev) = live.next_event(Duration::from_millis(20)).expect("poll") {
            if !descends_from(&ev, me) {
                continue;
            }
            for a in engine.process_event("syscall", &ev) {
                hits.push(Hit {
                    rule: a.rule.clone(),
                    proc_name: field(&ev, "proc.name"),
                    fd_name: field(&ev, "fd.name"),
                    user_name: field(&ev, "user.name"),
                });
            }
        }
    }
    hits
}

fn rules_path() -> Option<PathBuf> {
    kguard_testkit::shared_path("oracles/falco-syscall/rules/falco_rules.current.yaml")
}

fn helper(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("kgptrace.c");
    std::fs::write(
        &src,
        r#"#include <sys/ptrace.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "traceme") == 0) return ptrace(PTRACE_TRACEME, 0, 0, 0) == 0 ? 0 : 1;
    if (argc > 2 && strcmp(argv[1], "attach") == 0) {
        int pid = atoi(argv[2]);
        if (ptrace(PTRACE_ATTACH, pid, 0, 0) != 0) return 1;
        waitpid(pid, 0, 0);
        ptrace(PTRACE_DETACH, pid, 0, 0);
        return 0;
    }
    return 2;
}
"#,
    )
    .ok()?;
    let out = dir.join("kgptrace");
    let ok = Command::new("cc").arg("-O1").arg("-o").arg(&out).arg(&src).status().is_ok_and(|s| s.success());
    ok.then_some(out)
}

#[test]
#[allow(clippy::too_many_lines)]
fn stable_rules_fire_on_live_events() {
    let Some(rules) = rules_path() else { return };
    let dir = std::env::temp_dir().join(format!("kguard-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let copy = |from: &str, name: &str| {
        let to = dir.join(name);
        std::fs::copy(from, &to).unwrap();
        to
    };
    let kgcat = copy("/bin/cat", "kgcat");
    let kgln = copy("/bin/ln", "kgln");
    let ptrace = helper(&dir);

    let text = std::fs::read_to_string(&rules).unwrap();
    let (engine, _) = kguard_detect::load_with(&[(rules.to_str().unwrap(), text.as_str())], &[&SyscallFields])
        .unwrap_or_else(|m| panic!("rules do not load: {m:?}"));

    let mut live = match Live::start(&Options::default()) {
        Ok(l) => l,
        Err(e @ (Error::Permission(_) | Error::Kernel(_) | Error::Unsupported)) => {
            kguard_testkit::skip("live eBPF behaviour suite", &format!("the probe cannot load here: {e}"));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    // let the events of the start settle
    while live.next_event(Duration::from_millis(50)).unwrap().is_some() {}
    let settle = Duration::from_millis(400);
    let mut report = Vec::new();
    let mut failures = Vec::new();

    // baseline: nothing from any rule
    for args in [vec!["true"], vec!["ls", "/tmp"], vec!["cat", "/etc/hostname"]] {
        let hits = step(&mut live, &engine, Command::new(args[0]).args(&args[1..]), settle);
        report.push(format!("baseline {args:?}: {} alerts", hits.len()));
        if !hits.is_empty() {
            failures.push(format!("baseline {args:?} fired {hits:?}"));
        }
    }

    let shm = Path::new("/dev/shm/kgshm");
    let _ = std::fs::copy("/bin/true", shm);
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let sleeper_pid = sleeper.id().to_string();

    // (rule, command, proc.name, fd.name or None when the event has no fd)
    let mut cases: Vec<(&str, Command, &str, Option<String>)> = Vec::new();
    let mut c = Command::new(&kgcat);
    c.arg("/etc/shadow");
    cases.push(("Read sensitive file untrusted", c, "kgcat", Some("/etc/shadow".into())));
    let mut c = Command::new(&kgln);
    c.arg("-s").arg("/etc/shadow").arg(dir.join("shadow-sym"));
    cases.push(("Create Symlink Over Sensitive Files", c, "kgln", None));
    let mut c = Command::new(&kgln);
    c.arg("/etc/shadow").arg(dir.join("shadow-hard"));
    cases.push(("Create Hardlink Over Sensitive Files", c, "kgln", None));
    let mut c = Command::new(shm);
    c.current_dir(&dir);
    cases.push(("Execution from /dev/shm", c, "kgshm", None));
    let mut c = Command::new("find");
    c.arg(&dir).arg("-name").arg("id_rsa");
    cases.push(("Search Private Keys or Passwords", c, "find", None));
    if let Some(p) = &ptrace {
        let mut c = Command::new(p);
        c.arg("attach").arg(&sleeper_pid);
        cases.push(("PTRACE attached to process", c, "kgptrace", None));
        let mut c = Command::new(p);
        c.arg("traceme");
        cases.push(("PTRACE anti-debug attempt", c, "kgptrace", None));
    } else {
        report.push("ptrace steps skipped: no C compiler (cc) to build the helper".into());
    }

    for (rule, mut cmd, proc_name, fd_name) in cases {
        let hits = step(&mut live, &engine, &mut cmd, settle);
        let mine: Vec<&Hit> = hits.iter().filter(|h| h.rule == rule).collect();
        let others: Vec<&Hit> = hits.iter().filter(|h| h.rule != rule).collect();
        report.push(format!("{rule}: {} alert(s) {mine:?}; other alerts: {others:?}", mine.len()));
        if mine.len() != 1 {
            failures.push(format!("{rule}: expected exactly one alert, got {} ({hits:?})", mine.len()));
            continue;
        }
        let h = mine[0];
        if h.proc_name != proc_name {
            failures.push(format!("{rule}: proc.name {} != {proc_name}", h.proc_name));
        }
        if let Some(f) = &fd_name
            && &h.fd_name != f
        {
            failures.push(format!("{rule}: fd.name {} != {f}", h.fd_name));
        }
        if h.user_name != "root" {
            failures.push(format!("{rule}: user.name {} != root", h.user_name));
        }
        if !others.is_empty() {
            failures.push(format!("{rule}: unexpected other alerts {others:?}"));
        }
    }
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = std::fs::remove_file(shm);
    let _ = std::fs::remove_dir_all(&dir);
    let m = live.metrics();
    eprintln!("live suite metrics: {m}");
    for r in &report {
        eprintln!("  {r}");
    }
    assert!(m.drops == 0, "the ring buffer dropped {} records", m.drops);
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// `Options::record` (what `kguard detect --live -w FILE` writes): the blocks the live state was
/// fed, written as a scap capture and read back, give the same state and the same alerts. A
/// program reading /etc/shadow under a name Falco does not trust fires "Read sensitive file
/// untrusted" live; the capture replayed fires it once more, with the same output.
#[test]
fn recorded_live_events_replay_to_the_same_alerts() {
    let Some(rules) = rules_path() else { return };
    let dir = std::env::temp_dir().join(format!("kguard-live-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let kgcat = dir.join("kgreader");
    std::fs::copy("/bin/cat", &kgcat).unwrap();
    let text = std::fs::read_to_string(&rules).unwrap();
    let (engine, _) = kguard_detect::load_with(&[(rules.to_str().unwrap(), text.as_str())], &[&SyscallFields])
        .unwrap_or_else(|m| panic!("rules do not load: {m:?}"));
    let mut live = match Live::start(&Options { record: true, ..Options::default() }) {
        Ok(l) => l,
        Err(e @ (Error::Permission(_) | Error::Kernel(_) | Error::Unsupported)) => {
            kguard_testkit::skip("live eBPF recording", &format!("the probe cannot load here: {e}"));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let mut blocks = live.take_recorded();
    assert!(
        blocks.iter().any(|b| matches!(b, kguard_runtime::scap::Block::Threads(t) if !t.is_empty())),
        "the process list read from /proc is recorded first"
    );
    let mut child = Command::new(&kgcat).arg("/etc/shadow").stdout(Stdio::null()).spawn().unwrap();
    let mut exited: Option<Instant> = None;
    let mut live_alerts = Vec::new();
    loop {
        if exited.is_none() && child.try_wait().unwrap().is_some() {
            exited = Some(Instant::now());
        }
        if exited.is_some_and(|t| t.elapsed() >= Duration::from_millis(400)) {
            break;
        }
        while let Some(ev) = live.next_event(Duration::from_millis(20)).unwrap() {
            for a in engine.process_event("syscall", &ev) {
                if a.rule == "Read sensitive file untrusted" && a.output().contains("kgreader") {
                    live_alerts.push(a.output());
                }
            }
        }
        blocks.extend(live.take_recorded());
    }
    assert_eq!(live_alerts.len(), 1, "live: {live_alerts:?}");

    // write the capture, read it back, replay it
    let mut bytes = Vec::new();
    {
        let mut w = kguard_runtime::writer::Writer::new(&mut bytes).unwrap();
        for b in &blocks {
            w.write_block(b).unwrap();
        }
    }
    let mut capture = kguard_runtime::Capture::new(bytes.as_slice()).expect("the recorded capture opens");
    let mut replayed = Vec::new();
    let mut events = 0usize;
    while let Some(block) = capture.reader.next_block().expect("the recorded capture reads") {
        if !capture.inspector.feed(block) {
            continue;
        }
        let Some(ev) = capture.inspector.view() else { continue };
        events += 1;
        for a in engine.process_event("syscall", &ev) {
            if a.rule == "Read sensitive file untrusted" && a.output().contains("kgreader") {
                replayed.push(a.output());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(events > 10, "events replayed: {events}");
    assert_eq!(replayed, live_alerts, "the replayed capture fires as the live events did");
    eprintln!(
        "live recording: {} blocks ({} bytes as scap) replay {events} events to the same alert",
        blocks.len(),
        bytes.len()
    );
}

/// The live source's counters as libscap's (what `kguard detect --live` gives the drop monitor).
fn drop_stats(m: &kguard_ebpf::Metrics) -> kguard_runtime::drops::DropStats {
    let n_drops = m.drops + m.drops_oversize;
    kguard_runtime::drops::DropStats {
        n_evts: m.records + n_drops,
        n_drops,
        n_drops_buffer: m.drops,
        n_drops_scratch_map: m.drops_oversize,
        ..Default::default()
    }
}

/// A one-page ring buffer that nobody reads during a burst of system calls overflows: the probe
/// counts each record it could not write, nothing crashes, the source goes on delivering events
/// (a program started afterwards is seen), and Falco's drop monitor turns the counters into its
/// `syscall event drop` alert.
#[test]
fn a_full_ring_buffer_counts_drops_and_the_source_recovers() {
    use kguard_runtime::drops::{DropConfig, DropEffect, DropMonitor};
    let mut live = match Live::start(&Options { ring_bytes: 4096, ..Options::default() }) {
        Ok(l) => l,
        Err(e @ (Error::Permission(_) | Error::Kernel(_) | Error::Unsupported)) => {
            kguard_testkit::skip("live eBPF drops", &format!("the probe cannot load here: {e}"));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    // whatever the machine did while the probe started
    let settle = Instant::now();
    while live.next_event(Duration::from_millis(50)).unwrap().is_some() && settle.elapsed() < Duration::from_secs(5) {}
    let before = live.metrics();
    // a burst while nobody reads: each `: < /dev/null` is an open, a dup and a close
    let st = Command::new("sh")
        .arg("-c")
        .arg("i=0; while [ $i -lt 3000 ]; do : < /dev/null; i=$((i+1)); done")
        .status()
        .unwrap();
    assert!(st.success());
    let mut events = 0u64;
    let drain = Instant::now();
    while live.next_event(Duration::from_millis(100)).unwrap().is_some() && drain.elapsed() < Duration::from_secs(10) {
        events += 1;
    }
    let after = live.metrics();
    assert!(after.drops > before.drops, "a one-page ring buffer overflowed: {before} → {after}");
    assert!(events > 0, "some events arrived");
    assert_eq!(after.bad_records, 0, "every record that arrived decoded: {after}");

    // the source recovers: a program started now is seen (read while it runs; a one-page ring
    // buffer can still overflow when the machine is busy, so it is started again, up to 20
    // times, until one of its runs gets through)
    let marker = std::env::temp_dir().join(format!("kgdrop{}", std::process::id()));
    std::fs::copy("/bin/true", &marker).unwrap();
    let name = marker.file_name().unwrap().to_str().unwrap().to_owned();
    let mut seen = false;
    let mut runs = 0;
    while !seen && runs < 20 {
        runs += 1;
        let mut child = Command::new(&marker).spawn().unwrap();
        let look = Instant::now();
        while !seen && look.elapsed() < Duration::from_millis(500) {
            if let Some(ev) = live.next_event(Duration::from_millis(20)).unwrap() {
                seen = field(&ev, "proc.name") == name.get(..15.min(name.len())).unwrap();
            }
        }
        assert!(child.wait().unwrap().success());
    }
    let _ = std::fs::remove_file(&marker);
    assert!(seen, "events of {name} after the overflow ({runs} runs)");

    // Falco's drop monitor over these counters: the alert, with the buffer drops
    let mut mon = DropMonitor::new(DropConfig::shipped(), drop_stats(&before), true);
    let t0 = 1_000_000_000_000u64;
    assert!(mon.on_event(t0, || drop_stats(&before)).is_empty());
    let effects = mon.on_event(t0 + 2_000_000_000, || drop_stats(&after));
    let alert = effects
        .iter()
        .find_map(|e| match e {
            DropEffect::Alert(a) => Some(a),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no drop alert for {before} → {after}: {effects:?}"));
    let buffer = alert.output_fields.iter().find(|(k, _)| k == "n_drops_buffer_total").map(|(_, v)| v.clone());
    assert_eq!(buffer, Some((after.drops - before.drops).to_string().into()));
    eprintln!(
        "live drops: a 4 KiB ring buffer, 3,000 × (open, dup, close) unread: {} records dropped, {} delivered, {events} events; the source recovered",
        after.drops - before.drops,
        after.records - before.records
    );
}

/// The Docker CLI and a running daemon, or why not.
fn docker() -> Result<PathBuf, String> {
    let cli = ["/usr/bin/docker", "/usr/local/bin/docker"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or("no docker CLI (Debian: docker.io)")?;
    let ok = Command::new(&cli).args(["info", "--format", "{{.ServerVersion}}"]).output().map_err(|e| e.to_string())?;
    if !ok.status.success() {
        return Err(format!("no Docker daemon: {}", String::from_utf8_lossy(&ok.stderr).trim()));
    }
    Ok(cli)
}

/// A one-binary image (`kguard-test/busybox:1`) imported from the static busybox of Debian's
/// `busybox-static`, with an `/etc/shadow` to read.
fn busybox_image(cli: &Path) -> Result<&'static str, String> {
    const IMAGE: &str = "kguard-test/busybox:1";
    if Command::new(cli).args(["image", "inspect", IMAGE]).output().is_ok_and(|o| o.status.success()) {
        return Ok(IMAGE);
    }
    let bb = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .find(|p| Path::new(p).exists())
        .ok_or("no busybox (Debian: busybox-static)")?;
    let dir = std::env::temp_dir().join(format!("kguard-bb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::copy(bb, dir.join("bin/busybox")).unwrap();
    for a in ["sh", "cat", "sleep"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(a)).unwrap();
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(dir.join("etc/shadow"), "root:*:1::::::\n").unwrap();
    let tar = dir.with_extension("tar");
    let st = Command::new("tar").arg("-C").arg(&dir).arg("-cf").arg(&tar).arg(".").status().unwrap();
    assert!(st.success());
    let o = Command::new(cli).arg("import").arg(&tar).arg(IMAGE).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&tar);
    if o.status.success() { Ok(IMAGE) } else { Err(format!("docker import: {}", String::from_utf8_lossy(&o.stderr))) }
}

/// Processes live events until `child` has exited and half a second more has passed (a minute
/// at most), keeping the alert outputs `keep` accepts; `tick` runs after each poll.
fn alerts_until_exit(
    live: &mut Live,
    engine: &kguard_detect::Engine,
    child: &mut std::process::Child,
    keep: &dyn Fn(&str) -> bool,
    tick: &mut dyn FnMut(&mut Live),
) -> Vec<String> {
    let mut exited: Option<Instant> = None;
    let mut alerts = Vec::new();
    let start = Instant::now();
    loop {
        if exited.is_none() && child.try_wait().unwrap().is_some() {
            exited = Some(Instant::now());
        }
        if exited.is_some_and(|t| t.elapsed() >= Duration::from_millis(500))
            || start.elapsed() > Duration::from_secs(60)
        {
            return alerts;
        }
        while let Some(ev) = live.next_event(Duration::from_millis(20)).unwrap() {
            for a in engine.process_event("syscall", &ev) {
                let out = a.output();
                if keep(&out) {
                    alerts.push(out);
                }
            }
        }
        tick(live);
    }
}

/// Runs `cat /etc/shadow` in a Docker container with a kubelet's pod labels under a live source
/// started with `opts`; the alerts of `engine` and the recorded blocks. `None` (skipped) when the
/// probe cannot load.
fn shadow_read_in_docker(
    cli: &Path,
    image: &str,
    engine: &kguard_detect::Engine,
    opts: &Options,
    suffix: &str,
) -> Option<(Vec<String>, Vec<kguard_runtime::scap::Block>)> {
    let mut live = match Live::start(opts) {
        Ok(l) => l,
        Err(e @ (Error::Permission(_) | Error::Kernel(_) | Error::Unsupported)) => {
            kguard_testkit::skip("live container metadata", &format!("the probe cannot load here: {e}"));
            return None;
        }
        Err(e) => panic!("{e}"),
    };
    let mut blocks = live.take_recorded();
    let name = format!("kgtest-{}{suffix}", std::process::id());
    let mut child = Command::new(cli)
        .args(["run", "--rm", "--network", "none", "--name", &name])
        .args(["--label", "io.kubernetes.pod.namespace=kg-ns", "--label", "io.kubernetes.pod.name=kg-pod"])
        .args(["--label", "io.kubernetes.pod.uid=0b5e-uid", image, "/bin/cat", "/etc/shadow"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // this test's container only (the other container tests run beside it)
    let mine = format!("name={name} ");
    let alerts = alerts_until_exit(&mut live, engine, &mut child, &|o| o.contains(&mine), &mut |l| {
        blocks.extend(l.take_recorded());
    });
    assert!(child.wait().unwrap().success(), "docker run");
    Some((alerts, blocks))
}

/// A process in a Docker container gets its container's metadata from Docker's state on disk:
/// `container.*` (id, name, image and its parts, type, privileged, start time) and the `k8s.*`
/// fields from the `io.kubernetes.pod.*` labels a kubelet sets. A rule over those fields fires
/// with them in its output, and a recording (`-w`) carries the `container` event, so its replay
/// gives the same output. Without `/proc` the cgroup paths the probe reads give the container.
#[test]
fn container_metadata_from_the_docker_state() {
    let cli = match docker() {
        Ok(c) => c,
        Err(why) => {
            kguard_testkit::skip("live container metadata", &why);
            return;
        }
    };
    let image = match busybox_image(&cli) {
        Ok(i) => i,
        Err(why) => {
            kguard_testkit::skip("live container metadata", &why);
            return;
        }
    };
    let rule = r"
- rule: Shadow read in a container
  desc: test
  condition: evt.type in (open, openat, openat2) and evt.is_open_read=true and fd.name=/etc/shadow and container.id != host
  output: shadow read (id=%container.id name=%container.name image=%container.image repo=%container.image.repository tag=%container.image.tag image_id=%container.image.id type=%container.type privileged=%container.privileged ns=%k8s.ns.name pod=%k8s.pod.name uid=%k8s.pod.uid)
  priority: WARNING
";
    let (engine, _) =
        kguard_detect::load_with(&[("container.yaml", rule)], &[&SyscallFields]).unwrap_or_else(|m| panic!("{m:?}"));
    let opts = Options { record: true, ..Options::default() };
    let Some((live_alerts, blocks)) = shadow_read_in_docker(&cli, image, &engine, &opts, "") else { return };
    assert_eq!(live_alerts.len(), 1, "{live_alerts:?}");
    let out = &live_alerts[0];
    let image_id = String::from_utf8(
        Command::new(&cli).args(["image", "inspect", "--format", "{{.Id}}", image]).output().unwrap().stdout,
    )
    .unwrap();
    let image_id = image_id.trim().trim_start_matches("sha256:");
    let name = format!("kgtest-{}", std::process::id());
    for want in [
        format!("name={name} "),
        format!("image={image} "),
        "repo=kguard-test/busybox tag=1 ".to_owned(),
        format!("image_id={image_id} "),
        "type=docker privileged=false ns=kg-ns pod=kg-pod uid=0b5e-uid)".to_owned(),
    ] {
        assert!(out.contains(&want), "{want:?} in {out}");
    }

    // the recording replays to the same output: the container event comes with it
    let mut bytes = Vec::new();
    {
        let mut w = kguard_runtime::writer::Writer::new(&mut bytes).unwrap();
        for b in &blocks {
            w.write_block(b).unwrap();
        }
    }
    let mut capture = kguard_runtime::Capture::new(bytes.as_slice()).unwrap();
    let mut replayed = Vec::new();
    while let Some(block) = capture.reader.next_block().unwrap() {
        if !capture.inspector.feed(block) {
            continue;
        }
        let Some(ev) = capture.inspector.view() else { continue };
        for a in engine.process_event("syscall", &ev) {
            if a.output().contains(&format!("name={name} ")) {
                replayed.push(a.output());
            }
        }
    }
    assert_eq!(replayed, live_alerts);

    // the same with no /proc to read (an empty folder): the container comes from the cgroup
    // paths the probe reads in the kernel, which a process that has already exited still has
    let empty = std::env::temp_dir().join(format!("kguard-noproc-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let opts = Options { proc_root: empty.clone(), ..Options::default() };
    let Some((alerts, _)) = shadow_read_in_docker(&cli, image, &engine, &opts, "-noproc") else { return };
    let _ = std::fs::remove_dir_all(&empty);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains(&format!("name={name}-noproc ")), "{}", alerts[0]);
    assert!(alerts[0].contains("type=docker privileged=false ns=kg-ns pod=kg-pod uid=0b5e-uid)"), "{}", alerts[0]);
    eprintln!("live container metadata: {out}");
}

/// A Kubernetes container under containerd: containerd writes the task bundle
/// (`/run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/config.json`) with the
/// annotations the CRI plugin sets (given here with `ctr run --annotation`, as there is no
/// kubelet), under a 64-hex-digit id in the `k8s.io` namespace as a kubelet's containers have;
/// the container's fields come from that bundle.
#[test]
fn container_metadata_from_the_containerd_state() {
    let ctr = Path::new("/usr/bin/ctr");
    let up = ctr.exists() && Command::new(ctr).arg("version").output().is_ok_and(|o| o.status.success());
    if !up {
        kguard_testkit::skip("live containerd metadata", "no ctr, or no containerd at /run/containerd/containerd.sock");
        return;
    }
    let cli = match docker() {
        Ok(c) => c,
        Err(why) => {
            kguard_testkit::skip("live containerd metadata", &why);
            return;
        }
    };
    let image = match busybox_image(&cli) {
        Ok(i) => i,
        Err(why) => {
            kguard_testkit::skip("live containerd metadata", &why);
            return;
        }
    };
    let reference = format!("docker.io/{image}");
    // the image, from Docker into containerd's k8s.io namespace
    let saved = Command::new(&cli).args(["save", image]).output().unwrap();
    assert!(saved.status.success());
    let mut import = Command::new(ctr)
        .args(["-n", "k8s.io", "images", "import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(import.stdin.as_mut().unwrap(), &saved.stdout).unwrap();
    drop(import.stdin.take());
    assert!(import.wait().unwrap().success(), "ctr images import");

    let rule = r"
- rule: Shadow read in a container
  desc: test
  condition: evt.type in (open, openat, openat2) and evt.is_open_read=true and fd.name=/etc/shadow and container.id != host
  output: shadow read (id=%container.id name=%container.name image=%container.image repo=%container.image.repository tag=%container.image.tag type=%container.type privileged=%container.privileged ns=%k8s.ns.name pod=%k8s.pod.name uid=%k8s.pod.uid)
  priority: WARNING
";
    let (engine, _) =
        kguard_detect::load_with(&[("container.yaml", rule)], &[&SyscallFields]).unwrap_or_else(|m| panic!("{m:?}"));
    let mut live = match Live::start(&Options::default()) {
        Ok(l) => l,
        Err(e @ (Error::Permission(_) | Error::Kernel(_) | Error::Unsupported)) => {
            kguard_testkit::skip("live containerd metadata", &format!("the probe cannot load here: {e}"));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    // 64 hex digits, as a kubelet's container ids are
    let seed = u64::from(std::process::id()).wrapping_mul(0x9e37_79b9_7f4a_7c15) | (1 << 63);
    let id = format!("{seed:016x}").repeat(4);
    let mut child = Command::new(ctr)
        .args(["-n", "k8s.io", "run", "--rm"])
        .args(["--annotation", "io.kubernetes.cri.container-type=container"])
        .args(["--annotation", "io.kubernetes.cri.container-name=app"])
        .args(["--annotation", &format!("io.kubernetes.cri.image-name={reference}")])
        .args(["--annotation", "io.kubernetes.cri.sandbox-name=kg-pod"])
        .args(["--annotation", "io.kubernetes.cri.sandbox-namespace=kg-ns"])
        .args(["--annotation", "io.kubernetes.cri.sandbox-uid=0b5e-uid"])
        .args([reference.as_str(), id.as_str(), "/bin/cat", "/etc/shadow"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // this test's container only (the Docker test runs beside it)
    let mine = format!("(id={} ", &id[..12]);
    let alerts = alerts_until_exit(&mut live, &engine, &mut child, &|o| o.contains(&mine), &mut |_| {});
    assert!(child.wait().unwrap().success(), "ctr run");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let want = format!(
        "(id={} name=app image={reference} repo=docker.io/kguard-test/busybox tag=1 type=containerd privileged=false ns=kg-ns pod=kg-pod uid=0b5e-uid)",
        &id[..12]
    );
    assert!(alerts[0].ends_with(&want), "{}\nwant {want}", alerts[0]);
    eprintln!("live containerd metadata: {}", alerts[0]);
}

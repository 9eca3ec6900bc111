//! `kguard seccomp` end to end with the real binary: lint exit codes, bad input (exit 2, no
//! panic), compile, `run` enforcing a filter on a real command (errno, ENOSYS, kill, allowed
//! calls, a profile that would block the exec), `record` on a shell pipeline, a threaded
//! program and a static binary (when `cc -static` works), and `scan --seccomp-root`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::{Command, Output};

use kguard_testkit::TempDir;

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard")).args(args).output().expect("runs kguard")
}

fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn lint_and_bad_input() {
    let d = TempDir::new("seccomp-lint");
    let weak = write(
        &d,
        "weak.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["bpf"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let o = kguard(&["seccomp", "lint", &weak, "--arch", "x86_64", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for id in ["SCMP001", "SCMP002", "SCMP003"] {
        assert!(out.contains(id), "{id} missing: {out}");
    }
    let cases = [
        ("broken.json", "{\"defaultAction\": ", "syntax error"),
        (
            "unknown.json",
            "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"opne\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
            "unknown syscall \"opne\"",
        ),
        (
            "index.json",
            "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":7,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
            "argument index 7 is out of range",
        ),
    ];
    for (name, text, want) in cases {
        let p = write(&d, name, text);
        for cmd in [vec!["seccomp", "lint", &p], vec!["seccomp", "compile", &p, "--arch", "x86_64"]] {
            let o = kguard(&cmd);
            assert_eq!(o.status.code(), Some(2), "{cmd:?}");
            let e = format!("{}{}", err(&o), String::from_utf8_lossy(&o.stdout));
            assert!(e.contains(want) && e.contains(name) && !e.contains("panicked"), "{cmd:?}: {e}");
        }
    }
    let o = kguard(&["seccomp", "compile", &weak, "--arch", "vax"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("unknown architecture \"vax\""));
    let o = kguard(&["explain", "SCMP002"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("ptrace"));
}

#[test]
fn compile_writes_a_verified_program() {
    let Some(moby) = kguard_testkit::shared_path("oracles/profiles/seccomp/default.json") else { return };
    let d = TempDir::new("seccomp-compile");
    let out = d.path().join("moby.bpf");
    let moby = moby.to_str().unwrap();
    let o = kguard(&["seccomp", "compile", moby, "--arch", "aarch64", "--output-file", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(o.stdout.is_empty());
    let bytes = std::fs::read(&out).unwrap();
    let prog = kguard_seccomp::bpf::from_bytes(&bytes, kguard_seccomp::arch::Endian::Little).unwrap();
    kguard_seccomp::bpf::verify(&prog).unwrap();
    // -o bpf (the default) on stdout: the same bytes.
    let o = kguard(&["seccomp", "compile", moby, "--arch", "aarch64", "-o", "bpf"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(o.stdout, bytes);
    // -o text: one line per instruction; --format, the old spelling, still works.
    for flag in ["-o", "--format"] {
        let o = kguard(&["seccomp", "compile", moby, "--arch", "aarch64", flag, "text"]);
        assert!(o.status.success(), "{}", err(&o));
        let text = String::from_utf8(o.stdout).unwrap();
        assert_eq!(text.lines().count(), prog.len());
        assert!(text.starts_with("   0: ld  [4]\n"), "{text}");
    }
    // -o json: the instructions' fields, equal to the raw program's.
    let o = kguard(&["seccomp", "compile", moby, "--arch", "aarch64", "-o", "json"]);
    assert!(o.status.success(), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["architecture"], "SCMP_ARCH_AARCH64");
    assert_eq!(v["instructions"], prog.len());
    let insns = v["program"].as_array().unwrap();
    assert_eq!(insns.len(), prog.len());
    for (j, i) in insns.iter().zip(&prog) {
        assert_eq!((j["code"].as_u64(), j["jt"].as_u64()), (Some(u64::from(i.code)), Some(u64::from(i.jt))));
        assert_eq!((j["jf"].as_u64(), j["k"].as_u64()), (Some(u64::from(i.jf)), Some(u64::from(i.k))));
        assert_eq!(j["text"], i.to_string());
    }
}

/// `-o` is the output format on every seccomp command (kubectl's convention, docs/cli.md); `-o FILE`,
/// the old spelling, is refused with the flag that writes a file.
#[test]
fn output_is_a_format_and_output_file_a_file() {
    let d = TempDir::new("seccomp-output");
    let p = write(
        &d,
        "p.json",
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let cases: [&[&str]; 3] = [
        &["seccomp", "compile", &p, "--arch", "x86_64", "-o", "filter.bpf"],
        &["seccomp", "record", "-o", "filter.bpf", "--", "true"],
        &["seccomp", "lint", &p, "-o", "filter.bpf"],
    ];
    for args in cases {
        let o = kguard(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = err(&o);
        assert!(
            e.contains("\"filter.bpf\" is not an output format") && e.contains("use --output-file filter.bpf"),
            "{args:?}: {e}"
        );
        assert!(!d.path().join("filter.bpf").exists() && !std::path::Path::new("filter.bpf").exists());
    }
    // A format the command does not write.
    let o = kguard(&["seccomp", "compile", &p, "--arch", "x86_64", "-o", "sarif"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("does not write sarif; expected one of bpf, table, json"), "{}", err(&o));
    // record: -o json is the OCI profile, -o yaml the SeccompProfile object; the old names work.
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        let prof = d.path().join("true.prof");
        for (flag, format, want) in [
            ("-o", "json", "\"defaultAction\": \"SCMP_ACT_ERRNO\""),
            ("-o", "yaml", "kind: SeccompProfile\n"),
            ("--format", "oci", "\"defaultAction\": \"SCMP_ACT_ERRNO\""),
            ("--format", "seccompprofile", "kind: SeccompProfile\n"),
        ] {
            let o = kguard(&["seccomp", "record", flag, format, "--output-file", prof.to_str().unwrap(), "--", "true"]);
            assert!(o.status.success(), "{format}: {}", err(&o));
            let text = std::fs::read_to_string(&prof).unwrap();
            assert!(text.contains(want), "{format}: {text}");
        }
    }
    // record needs --output-file: the recorded command's own output goes to stdout.
    let o = kguard(&["seccomp", "record", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("--output-file <FILE>"), "{}", err(&o));
    // lint: -f names a profile (repeatable, beside PROFILE arguments); `-f json` is explained.
    let report = d.path().join("lint.json");
    let o = kguard(&["seccomp", "lint", "-f", &p, "-f", &p, "-o", "json", "--output-file", report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(o.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["summary"]["files"], 2);
    let o = kguard(&["seccomp", "lint", "-f", "json", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("For the output format use -o json"), "{}", err(&o));
    let o = kguard(&["seccomp", "lint", &p, "--format", "sarif"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["version"], "2.1.0");
    // scan's other report formats.
    let o = kguard(&["seccomp", "lint", &p, "-o", "yaml"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let doc = kguard_model::yaml::parse_documents(&text).into_iter().next().unwrap().root.unwrap().unwrap();
    assert_eq!(doc.to_json()["schemaVersion"], "kguard.report/v1", "{text}");
    let o = kguard(&["seccomp", "lint", &p, "-o", "html"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("<!DOCTYPE html>"));
    let o = kguard(&["seccomp", "lint", &p, "-o", "markdown"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("## "), "{}", String::from_utf8_lossy(&o.stdout));
}

fn seccomp_enforced() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.contains("Seccomp:"))
}

#[test]
fn run_enforces_the_profile() {
    if !seccomp_enforced() || kguard_seccomp::Arch::native().is_none() {
        kguard_testkit::skip("run_enforces_the_profile", "this kernel does not do seccomp filters");
        return;
    }
    let d = TempDir::new("seccomp-run");
    let target = d.path().join("made");
    let t = target.to_str().unwrap();
    let eacces = write(
        &d,
        "eacces.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    );
    let o = kguard(&["seccomp", "run", "--profile", &eacces, "--", "mkdir", t]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("Permission denied"), "{}", err(&o));
    assert!(!target.exists());
    let o = kguard(&["seccomp", "run", "--profile", &eacces, "--", "sh", "-c", "echo allowed"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout) == "allowed\n", "{}", err(&o));
    let enosys = write(
        &d,
        "enosys.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
    );
    let o = kguard(&["seccomp", "run", "--profile", &enosys, "--", "mkdir", t]);
    assert!(err(&o).contains("Function not implemented"), "{}", err(&o));
    let kill = write(
        &d,
        "kill.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
    );
    let o = kguard(&["seccomp", "run", "--profile", &kill, "--", "mkdir", t]);
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(o.status.signal(), Some(31), "killed by SIGSYS: {:?}", o.status);
    let noexec = write(
        &d,
        "noexec.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["execve"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let o = kguard(&["seccomp", "run", "--profile", &noexec, "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("the profile blocks execve"), "{}", err(&o));
    let other = write(&d, "other.json", r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_S390X"]}"#);
    let o = kguard(&["seccomp", "run", "--profile", &other, "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("SCMP_ARCH_S390X") && err(&o).contains("this machine is"), "{}", err(&o));
    // complain mode: the blocked call runs
    let o = kguard(&["seccomp", "run", "--log", "--profile", &eacces, "--", "mkdir", t]);
    assert!(o.status.success() && target.exists(), "{}", err(&o));
}

fn record_and_rerun(d: &TempDir, name: &str, cmd: &[&str], blocked: &[&str]) {
    let prof = d.path().join(format!("{name}.json"));
    let mut args = vec!["seccomp", "record", "--output-file", prof.to_str().unwrap(), "--"];
    args.extend(cmd);
    let o = kguard(&args);
    assert!(o.status.success(), "{name}: {}", err(&o));
    let mut args = vec!["seccomp", "run", "--profile", prof.to_str().unwrap(), "--"];
    args.extend(cmd);
    let o = kguard(&args);
    assert!(o.status.success(), "{name} under its recorded profile: {}", err(&o));
    let mut args = vec!["seccomp", "run", "--profile", prof.to_str().unwrap(), "--"];
    args.extend(blocked);
    let o = kguard(&args);
    assert!(!o.status.success(), "{name}: {blocked:?} should be blocked");
}

#[test]
fn record_writes_a_profile_that_runs_the_command() {
    if !seccomp_enforced() || !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        kguard_testkit::skip("record_writes_a_profile_that_runs_the_command", "no seccomp or unsupported arch");
        return;
    }
    let d = TempDir::new("seccomp-record");
    let dir = d.path().join("nope");
    let mk = format!("mkdir {}", dir.display());
    record_and_rerun(
        &d,
        "pipeline",
        &["sh", "-c", "ls / | wc -l >/dev/null; cat /etc/hostname >/dev/null"],
        &["sh", "-c", &mk],
    );
    if Command::new("python3").arg("-c").arg("1").status().is_ok_and(|s| s.success()) {
        let py = "import threading,os\nt=[threading.Thread(target=lambda: open('/etc/hostname').read()) for _ in range(4)]\n[x.start() for x in t]\n[x.join() for x in t]";
        let pymk = format!("import os; os.mkdir('{}')", dir.display());
        record_and_rerun(&d, "threads", &["python3", "-c", py], &["python3", "-c", &pymk]);
    }
    let src = d.path().join("st.c");
    std::fs::write(&src, "#include <stdio.h>\n#include <sys/stat.h>\nint main(int c, char **v) { if (c > 1) return mkdir(v[1], 0700) ? 3 : 0; puts(\"ok\"); return 0; }\n").unwrap();
    let bin = d.path().join("st");
    let built = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success());
    if built {
        let b = bin.to_str().unwrap();
        let target = dir.to_str().unwrap();
        record_and_rerun(&d, "static", &[b], &[b, target]);
    } else {
        kguard_testkit::skip("record static binary", "`cc -static` does not work here");
    }
}

#[test]
fn scan_checks_localhost_profiles() {
    let d = TempDir::new("seccomp-scan");
    let root = d.path().join("seccomp");
    std::fs::create_dir_all(root.join("profiles")).unwrap();
    std::fs::write(root.join("profiles/weak.json"), r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    std::fs::write(root.join("profiles/bad.json"), r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
    let pod = |name: &str, prof: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: app\n    image: app:1\n    securityContext:\n      seccompProfile:\n        type: Localhost\n        localhostProfile: {prof}\n"
        )
    };
    let manifest =
        [pod("missing", "profiles/none.json"), pod("weak", "profiles/weak.json"), pod("bad", "profiles/bad.json")]
            .join("---\n");
    let m = write(&d, "pods.yaml", &manifest);
    let o = kguard(&["scan", &m, "--seccomp-root", root.to_str().unwrap(), "--select", "seccomp", "-o", "json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", err(&o));
    for id in ["SCMP010", "SCMP011", "SCMP012"] {
        assert!(out.contains(id), "{id}: {out}");
    }
    assert!(
        out.contains("\"line\": 12") || out.contains("\"line\":12"),
        "the finding points at localhostProfile: {out}"
    );
}

// ---- record --pid / --cgroup: real running processes ----

/// A program with three threads making mkdir/rmdir, a forked child making symlink/unlink (it
/// exits when its parent does), and a main thread renaming a heartbeat file into place every
/// 20 ms: each family of calls comes from one kind of task, and the heartbeat shows whether it
/// still runs.
const BUSY: &str = r#"import os, sys, threading, time
d = sys.argv[1]
def worker(i):
    p = os.path.join(d, "t%d" % i)
    while True:
        os.mkdir(p); os.rmdir(p); time.sleep(0.01)
for i in range(3):
    threading.Thread(target=worker, args=(i,), daemon=True).start()
parent = os.getpid()
if os.fork() == 0:
    l = os.path.join(d, "link")
    while os.getppid() == parent:
        os.symlink("x", l); os.unlink(l); time.sleep(0.01)
    os._exit(0)
hb = os.path.join(d, "heartbeat")
n = 0
while True:
    n += 1
    with open(hb + ".tmp", "w") as f:
        f.write(str(n))
    os.rename(hb + ".tmp", hb)
    time.sleep(0.02)
"#;

fn python3() -> bool {
    Command::new("python3").args(["-c", "1"]).status().is_ok_and(|s| s.success())
}

fn can_record_running(test: &str) -> bool {
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        kguard_testkit::skip(test, "recording is implemented for x86_64 and aarch64");
        return false;
    }
    if !python3() {
        kguard_testkit::skip(test, "python3 is not installed (the traced program is a Python script)");
        return false;
    }
    true
}

/// A child process killed (and reaped) when dropped, so that a failing test leaves nothing
/// running.
struct Running(std::process::Child);

impl Running {
    fn id(&self) -> u32 {
        self.0.id()
    }

    fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts [`BUSY`] in `dir` (first joining `cgroup`, so that its child is born there too) and
/// waits for its first heartbeat.
fn start_busy(dir: &std::path::Path, cgroup: Option<&std::path::Path>) -> Running {
    let prog = dir.join("busy.py");
    std::fs::write(&prog, BUSY).unwrap();
    let child = match cgroup {
        None => Command::new("python3").arg(&prog).arg(dir).spawn().unwrap(),
        Some(cg) => Command::new("sh")
            .arg("-c")
            .arg(r#"echo $$ > "$1/cgroup.procs" && exec python3 "$2" "$3""#)
            .args(["sh", cg.to_str().unwrap(), prog.to_str().unwrap(), dir.to_str().unwrap()])
            .spawn()
            .unwrap(),
    };
    let running = Running(child);
    assert!(wait_for(Duration::from_secs(10), || heartbeat(dir).is_some()), "the program did not start");
    running
}

fn heartbeat(dir: &std::path::Path) -> Option<u64> {
    std::fs::read_to_string(dir.join("heartbeat")).ok()?.trim().parse().ok()
}

use std::time::{Duration, Instant};

fn wait_for(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    ok()
}

/// Whether the heartbeat moves within `limit`.
fn advances(dir: &std::path::Path, limit: Duration) -> bool {
    let Some(first) = heartbeat(dir) else { return false };
    wait_for(limit, || heartbeat(dir).is_some_and(|n| n > first))
}

fn status_field(tid: &str, key: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')).map(|v| v.trim().to_owned())
}

/// Every thread of `pid`: (tid, state letter, tracer pid).
fn threads(pid: u32) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let tid = e.file_name().to_string_lossy().into_owned();
        let state = status_field(&tid, "State").unwrap_or_default();
        let tracer = status_field(&tid, "TracerPid").unwrap_or_default();
        out.push((tid, state.chars().next().map(String::from).unwrap_or_default(), tracer));
    }
    out
}

/// The children of `pid` (from every process's parent in /proc).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let p: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid: u32 = stat.get(stat.rfind(')')? + 2..)?.split(' ').nth(1)?.parse().ok()?;
            (ppid == pid).then_some(p)
        })
        .collect()
}

fn profile_names(path: &std::path::Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["syscalls"][0]["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect()
}

fn has_any(names: &[String], any: &[&str]) -> bool {
    names.iter().any(|n| any.contains(&n.as_str()))
}

/// Untraced and running (not stopped): what "unharmed after detach" means for each thread.
fn assert_untraced_and_running(pid: u32, what: &str) {
    let ts = threads(pid);
    assert!(!ts.is_empty(), "{what}: {pid} is gone");
    for (tid, state, tracer) in ts {
        assert_eq!(tracer, "0", "{what}: thread {tid} is still traced");
        assert!(!matches!(state.as_str(), "t" | "T" | "Z" | "X"), "{what}: thread {tid} is in state {state}");
    }
}

fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()), sig).unwrap();
}

#[test]
fn record_pid_follows_threads_and_children_then_detaches() {
    let test = "record_pid_follows_threads_and_children_then_detaches";
    if !can_record_running(test) {
        return;
    }
    let d = TempDir::new("seccomp-pid");
    let mut busy = start_busy(d.path(), None);
    let pid = busy.id();
    let kids = children(pid);
    assert_eq!(kids.len(), 1, "the forked child runs before recording starts");
    let prof = d.path().join("pid.json");
    let started = Instant::now();
    let o = kguard(&[
        "seccomp",
        "record",
        "--pid",
        &pid.to_string(),
        "--duration",
        "1.5",
        "--output-file",
        prof.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    assert!(o.status.success(), "{}", err(&o));
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_secs(10), "--duration 1.5 took {took:?}");
    let names = profile_names(&prof);
    // from threads that existed before the attach, from the child forked before it, from main
    assert!(has_any(&names, &["mkdir", "mkdirat"]) && has_any(&names, &["rmdir", "unlinkat"]), "threads: {names:?}");
    assert!(has_any(&names, &["symlink", "symlinkat"]), "the forked child: {names:?}");
    assert!(has_any(&names, &["rename", "renameat", "renameat2"]), "the main thread: {names:?}");
    // the interpreter's start-up happened before the attach: nothing of it is recorded
    assert!(!has_any(&names, &["mprotect", "arch_prctl", "set_tid_address"]), "start-up recorded: {names:?}");
    let e = err(&o);
    assert!(e.contains("of 2 process(es)") && e.contains("--duration elapsed") && e.contains("detached"), "{e}");
    // unharmed: every thread untraced and running, the heartbeat moving, the child too
    assert_untraced_and_running(pid, "after detach");
    for k in &kids {
        assert_untraced_and_running(*k, "the forked child after detach");
    }
    assert!(advances(d.path(), Duration::from_secs(3)), "the process works after detach");
    assert!(busy.alive(), "still alive");
}

#[test]
fn record_pid_keeps_job_control_and_ends_at_sigint() {
    let test = "record_pid_keeps_job_control_and_ends_at_sigint";
    if !can_record_running(test) {
        return;
    }
    use nix::sys::signal::Signal;
    let d = TempDir::new("seccomp-sigint");
    let busy = start_busy(d.path(), None);
    let pid = busy.id();
    let prof = d.path().join("sigint.yaml");
    let rec = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["seccomp", "record", "--pid", &pid.to_string(), "-o", "yaml", "--output-file"])
        .arg(&prof)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let me = rec.id().to_string();
    assert!(
        wait_for(Duration::from_secs(10), || threads(pid).iter().all(|(_, _, t)| *t == me)),
        "every thread traced by kguard: {:?}",
        threads(pid)
    );
    assert!(advances(d.path(), Duration::from_secs(3)), "runs while traced");
    // SIGSTOP while traced: the process stops, and stays stopped
    signal(pid, Signal::SIGSTOP);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!advances(d.path(), Duration::from_millis(400)), "a stopped process must not run while traced");
    // SIGCONT while traced: it runs again
    signal(pid, Signal::SIGCONT);
    assert!(advances(d.path(), Duration::from_secs(3)), "SIGCONT resumes it while traced");
    // stopped at the end of the recording: still stopped after detach, and continues later
    signal(pid, Signal::SIGSTOP);
    // Every thread in its group-stop (shown as a tracing stop while traced) before the end, so
    // that the test does not race the stop itself on a loaded machine.
    assert!(
        wait_for(Duration::from_secs(10), || threads(pid).iter().all(|(_, s, _)| s == "t" || s == "T")),
        "every thread stopped before the end of the recording: {:?}",
        threads(pid)
    );
    signal(rec.id(), Signal::SIGINT);
    let out = rec.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    assert!(e.contains("SIGINT received"), "{e}");
    // A thread detached at its pending SIGSTOP passes through running to take it: give the
    // kernel a moment, then every thread must be stopped and untraced (and stay so, below).
    assert!(
        wait_for(Duration::from_secs(3), || threads(pid).iter().all(|(_, s, t)| s == "T" && t == "0")),
        "stopped and untraced after detach: {:?}",
        threads(pid)
    );
    assert!(!advances(d.path(), Duration::from_millis(400)), "still stopped after detach");
    signal(pid, Signal::SIGCONT);
    assert!(advances(d.path(), Duration::from_secs(3)), "continues after detach");
    assert_untraced_and_running(pid, "continued");
    let text = std::fs::read_to_string(&prof).unwrap();
    assert!(text.starts_with("apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\n"));
    assert!(text.contains("- rename") || text.contains("- renameat"), "{text}");
    // the profile is one kguard reads back
    let o = kguard(&["seccomp", "lint", prof.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(2), "{}{}", err(&o), String::from_utf8_lossy(&o.stdout));
}

/// The cgroup v2 mount (`/sys/fs/cgroup` on unified hosts, `/sys/fs/cgroup/unified` on hybrid
/// ones), from /proc/self/mountinfo.
fn cgroup2_mount() -> Option<std::path::PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mount = left.split(' ').nth(4)?;
        (right.split(' ').next()? == "cgroup2").then(|| std::path::PathBuf::from(mount))
    })
}

/// A fresh cgroup v2 directory (removed when dropped, once its members are gone), or why there
/// is none (the test then skips).
struct Cgroup(std::path::PathBuf);

impl Cgroup {
    fn new(label: &str) -> Result<Self, String> {
        let root = cgroup2_mount().ok_or("no cgroup2 filesystem is mounted")?;
        let dir = root.join(format!("kguard-test-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir(&dir);
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // killed members leave it as they are reaped
        wait_for(Duration::from_secs(5), || std::fs::remove_dir(&self.0).is_ok() || !self.0.exists());
    }
}

#[test]
fn record_cgroup_follows_its_members_and_new_ones() {
    let test = "record_cgroup_follows_its_members_and_new_ones";
    if !can_record_running(test) {
        return;
    }
    let cgroup = match Cgroup::new("rec") {
        Ok(c) => c,
        Err(why) => {
            // also under KGUARD_REQUIRE_SHARED: a kernel or container without a writable cgroup v2
            kguard_testkit::skip(test, &format!("cgroup v2 is not writable here: {why}"));
            return;
        }
    };
    let cg = cgroup.0.clone();
    let d = TempDir::new("seccomp-cgroup");
    let busy = start_busy(d.path(), Some(&cg));
    let members = std::fs::read_to_string(cg.join("cgroup.procs")).unwrap();
    assert!(members.lines().any(|l| l == busy.id().to_string()), "{members}");
    let prof = d.path().join("cgroup.json");
    let rec = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["seccomp", "record", "--cgroup", cg.to_str().unwrap(), "--duration", "3", "--output-file"])
        .arg(&prof)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let tracer = rec.id().to_string();
    assert!(wait_for(Duration::from_secs(10), || threads(busy.id()).iter().all(|(_, _, t)| *t == tracer)));
    // a process that joins while recording: it truncates a file, which the first one never does
    let target = d.path().join("truncated");
    std::fs::write(&target, "0123456789").unwrap();
    let joiner_src = format!(
        "import os, time\nopen('{0}/cgroup.procs', 'w').write(str(os.getpid()))\nwhile True:\n    os.truncate('{1}', 3)\n    time.sleep(0.01)\n",
        cg.display(),
        target.display()
    );
    let joiner = Running(Command::new("python3").args(["-c", &joiner_src]).spawn().unwrap());
    let out = rec.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    let names = profile_names(&prof);
    assert!(has_any(&names, &["mkdir", "mkdirat"]) && has_any(&names, &["symlink", "symlinkat"]), "{names:?}");
    assert!(has_any(&names, &["truncate"]), "the member that joined while recording: {names:?}\n{e}");
    assert!(e.contains("--duration elapsed"), "{e}");
    assert_untraced_and_running(busy.id(), "the first member after detach");
    assert_untraced_and_running(joiner.id(), "the member that joined after detach");
    assert!(advances(d.path(), Duration::from_secs(3)));
    drop((busy, joiner));
    drop(cgroup);
    assert!(!cg.exists(), "the test cgroup is removed");
}

#[test]
fn record_running_refusals_are_clear() {
    let d = TempDir::new("seccomp-refusals");
    let out = d.path().join("p.json");
    let o = out.to_str().unwrap();
    let refused = |args: &[&str], want: &str| {
        let mut all = vec!["seccomp", "record", "--output-file", o];
        all.extend(args);
        let r = kguard(&all);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", err(&r));
        assert!(err(&r).contains(want) && !err(&r).contains("panicked"), "{args:?}: {}", err(&r));
    };
    refused(&["--pid", "2147483647", "--duration", "1"], "no such process: 2147483647");
    refused(&["--pid", "0"], "invalid value '0' for '--pid");
    refused(&["--pid", "1", "--duration", "0"], "give a positive number of seconds");
    refused(&["--pid", "1", "--", "true"], "cannot be used with");
    refused(&["--duration", "2", "--", "true"], "--pid");
    refused(&["--cgroup", d.path().to_str().unwrap()], "is not a cgroup directory");
    refused(&["--cgroup", "/nonexistent-kguard-cgroup"], "/nonexistent-kguard-cgroup: no such directory");
    let regular = write(&d, "regular", "");
    refused(&["--cgroup", &regular], "regular: not a directory");
    assert!(!out.exists(), "a refused recording leaves no empty profile behind");
    if let Ok(cg) = Cgroup::new("empty") {
        refused(&["--cgroup", cg.0.to_str().unwrap()], "the cgroup has no process");
    } else {
        kguard_testkit::skip("record_running_refusals_are_clear: empty cgroup", "cgroup v2 is not writable here");
    }
    // a kernel thread (pid 2 is kthreadd outside a PID namespace)
    let stat2 = std::fs::read_to_string("/proc/2/stat").unwrap_or_default();
    if stat2.contains("(kthreadd)") {
        refused(&["--pid", "2"], "is a kernel thread");
    }
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return;
    }
    // a process already traced: by another recording
    let mut sleeper = Running(Command::new("sleep").arg("30").spawn().unwrap());
    let sp = sleeper.id().to_string();
    let first = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["seccomp", "record", "--pid", &sp, "--duration", "4", "--output-file"])
        .arg(d.path().join("first.json"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let tracer = first.id().to_string();
    assert!(wait_for(Duration::from_secs(10), || status_field(&sp, "TracerPid").as_deref() == Some(tracer.as_str())));
    refused(&["--pid", &sp, "--duration", "1"], &format!("already traced by process {tracer} (kguard)"));
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(sleeper.alive(), "the sleeper survives both");
    // permission: an unprivileged user without CAP_SYS_PTRACE, on root's process
    let root =
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")));
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success());
    if root && setpriv {
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let r = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
            .arg(env!("CARGO_BIN_EXE_kguard"))
            .args(["seccomp", "record", "--pid", &sp, "--duration", "1", "--output-file"])
            .arg(open.join("nobody.json"))
            .output()
            .unwrap();
        let e = err(&r);
        if e.contains("Permission denied (os error 13)") && !e.contains("cannot trace") {
            kguard_testkit::skip("record as nobody", &format!("nobody cannot run the test binary here: {e}"));
        } else {
            assert_eq!(r.status.code(), Some(2), "{e}");
            assert!(e.contains("permission denied") && e.contains("CAP_SYS_PTRACE"), "{e}");
        }
    } else {
        kguard_testkit::skip("record as nobody", "needs root and setpriv");
    }
}

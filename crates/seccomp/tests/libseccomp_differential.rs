//! Randomized differential test against the real libseccomp (Debian's `python3-seccomp`, run
//! with `/usr/bin/python3`): random filters (rules with random argument comparisons on a few
//! syscalls, several actions, one to three ABIs) are built by libseccomp, exported as BPF and
//! run in our interpreter; the same operations build our [`Filter`], which we compile. For
//! random syscall numbers and arguments, libseccomp's program, our program and our model must
//! return the same action, and every operation must succeed or fail alike.
//!
//! Needs `python3-seccomp` (CI installs it); skips visibly without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use kguard_seccomp::bpf::{self, SeccompData};
use kguard_seccomp::db::Op;
use kguard_seccomp::filter::ApiArg;
use kguard_seccomp::{Action, Arch, Filter, codegen};
use serde_json::{Value, json};

const PY: &str = r#"
import json, sys, tempfile, seccomp
out = []
for spec in [json.load(sys.stdin)]:
    def act(a):
        k = a[0]
        if k == 'ALLOW': return seccomp.ALLOW
        if k == 'KILL': return seccomp.KILL
        if k == 'TRAP': return seccomp.TRAP
        if k == 'LOG': return seccomp.LOG
        if k == 'ERRNO': return seccomp.ERRNO(a[1])
        if k == 'TRACE': return seccomp.TRACE(a[1])
    f = seccomp.SyscallFilter(act(spec['default']))
    oks = []
    for op in spec['ops']:
        try:
            if op[0] == 'arch':
                f.add_arch(seccomp.Arch(op[1]))
            elif op[0] == 'rmarch':
                f.remove_arch(seccomp.Arch(op[1]))
            else:
                args = [seccomp.Arg(a[0], getattr(seccomp, a[1]), a[2], a[3]) for a in op[3]]
                if op[0] == 'exact':
                    f.add_rule_exactly(act(op[1]), op[2], *args)
                else:
                    f.add_rule(act(op[1]), op[2], *args)
            oks.append(True)
        except Exception:
            oks.append(False)
    t = tempfile.TemporaryFile()
    try:
        f.export_bpf(t)
        t.seek(0)
        out.append({'ok': oks, 'bpf': t.read().hex()})
    except RuntimeError:
        out.append({'ok': oks, 'bpf': None})
json.dump(out[0], sys.stdout)
"#;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "read",
    "write",
    "openat",
    "close",
    "socket",
    "connect",
    "mmap",
    "clone",
    "ioctl",
    "personality",
    "kill",
    "fcntl",
];
const VALUES: &[u64] = &[
    0,
    1,
    2,
    3,
    7,
    8,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    u64::MAX,
    u64::MAX - 1,
    0x7fff_ffff_ffff_ffff,
];
const OPS: &[&str] = &["NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ"];

fn action(a: &Value) -> Action {
    match a[0].as_str().unwrap() {
        "ALLOW" => Action::Allow,
        "KILL" => Action::KillThread,
        "TRAP" => Action::Trap,
        "LOG" => Action::Log,
        "ERRNO" => Action::Errno(a[1].as_u64().unwrap() as u16),
        _ => Action::Trace(a[1].as_u64().unwrap() as u16),
    }
}

fn random_action(r: &mut Rng) -> Value {
    match r.below(6) {
        0 => json!(["ALLOW"]),
        1 => json!(["KILL"]),
        2 => json!(["TRAP"]),
        3 => json!(["LOG"]),
        4 => json!(["ERRNO", r.below(4) + 1]),
        _ => json!(["TRACE", r.below(3)]),
    }
}

fn random_spec(r: &mut Rng) -> Value {
    let mut ops = Vec::new();
    let arches = ["x86", "x32", "aarch64"];
    for _ in 0..r.below(3) {
        ops.push(json!(["arch", r.pick(&arches)]));
    }
    if r.below(4) == 0 {
        ops.push(json!(["rmarch", "x86_64"]));
    }
    let names = &NAMES[..3 + r.below(NAMES.len() as u64 - 3) as usize];
    for _ in 0..1 + r.below(14) {
        let nargs = r.below(4);
        let mut args = Vec::new();
        for _ in 0..nargs {
            let span = if r.below(2) == 0 { 2 } else { 6 };
            let a = r.below(span);
            let op = *r.pick(OPS);
            args.push(json!([a, op, *r.pick(VALUES), *r.pick(VALUES)]));
        }
        let kind = if r.below(5) == 0 { "exact" } else { "rule" };
        ops.push(json!([kind, random_action(r), r.pick(names), args]));
    }
    json!({"default": random_action(r), "ops": ops})
}

fn ours(spec: &Value) -> (Filter, Vec<bool>) {
    let mut f = Filter::new(Arch::X86_64, action(&spec["default"]));
    let mut oks = Vec::new();
    for op in spec["ops"].as_array().unwrap() {
        let ok = match op[0].as_str().unwrap() {
            "arch" => f.add_arch(Arch::parse(op[1].as_str().unwrap()).unwrap()).is_ok(),
            "rmarch" => f.remove_arch(Arch::parse(op[1].as_str().unwrap()).unwrap()).is_ok(),
            kind => {
                let args: Vec<ApiArg> = op[3]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| ApiArg {
                        arg: a[0].as_u64().unwrap() as u32,
                        op: Op::parse(a[1].as_str().unwrap()).unwrap(),
                        datum_a: a[2].as_u64().unwrap(),
                        datum_b: a[3].as_u64().unwrap(),
                    })
                    .collect();
                let sc = f.resolve_native(op[2].as_str().unwrap()).unwrap();
                f.add_rule(kind == "exact", action(&op[1]), sc, &args).is_ok()
            }
        };
        oks.push(ok);
    }
    (f, oks)
}

/// Builds one filter with libseccomp; `None` when it has not finished in 5 s (libseccomp 2.5.4
/// loops on some rule combinations).
fn libseccomp(spec: &Value) -> Option<Value> {
    let mut child =
        Command::new("/usr/bin/python3").args(["-c", PY]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(spec.to_string().as_bytes()).unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "python3-seccomp failed on {spec}");
            let mut out = String::new();
            std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
            return Some(serde_json::from_str(&out).unwrap());
        }
        if start.elapsed() > std::time::Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn differential_against_libseccomp() {
    let probe = Command::new("/usr/bin/python3").args(["-c", "import seccomp"]).status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(!kguard_testkit::strict(), "KGUARD_REQUIRE_SHARED is set but python3-seccomp is not installed");
        kguard_testkit::skip(
            "differential_against_libseccomp",
            "/usr/bin/python3 cannot import seccomp (apt-get install python3-seccomp)",
        );
        return;
    }
    let seed = std::env::var("KGUARD_SECCOMP_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_cafe_u64);
    let mut r = Rng(seed);
    let specs: Vec<Value> = (0..300).map(|_| random_spec(&mut r)).collect();
    let (mut filters, mut evals, mut op_mismatch, mut hangs) = (0usize, 0usize, Vec::new(), 0usize);
    for spec in &specs {
        let Some(res) = libseccomp(spec) else {
            hangs += 1;
            continue;
        };
        let (f, oks) = ours(spec);
        let theirs_ok: Vec<bool> = res["ok"].as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
        if oks != theirs_ok {
            op_mismatch.push(format!("{spec}: ours {oks:?} libseccomp {theirs_ok:?}"));
            continue;
        }
        let Some(hex) = res["bpf"].as_str() else {
            // libseccomp cannot generate a filter without architectures; neither can we
            assert_eq!(codegen::compile(&f), Err(codegen::CompileError::NoArch), "{spec}");
            filters += 1;
            continue;
        };
        let bytes: Vec<u8> =
            (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
        let theirs = bpf::from_bytes(&bytes, kguard_seccomp::arch::Endian::Little).unwrap();
        let prog = codegen::compile(&f).unwrap();
        bpf::verify(&prog).unwrap();
        filters += 1;
        let arches: Vec<Arch> = vec![Arch::X86_64, Arch::X86, Arch::X32, Arch::Aarch64, Arch::Arm];
        for _ in 0..400 {
            let a = *r.pick(&arches);
            let name = *r.pick(NAMES);
            let nr = match r.below(8) {
                0 => r.below(600) as u32,
                1 => r.next() as u32,
                _ => a.syscall_number(name).unwrap_or(0),
            };
            let mut args = [0u64; 6];
            for x in &mut args {
                *x = match r.below(3) {
                    0 => r.next(),
                    _ => r.pick(VALUES).wrapping_add(r.below(3)).wrapping_sub(1),
                };
            }
            let data = SeccompData { nr, arch: a.audit_arch(), instruction_pointer: 0, args };
            let lib = bpf::run(&theirs, &data, a.endian()).unwrap().ret;
            let mine = bpf::run(&prog, &data, a.endian()).unwrap().ret;
            let model = f.decide(data.arch, nr, &args);
            evals += 1;
            assert!(
                lib == mine && lib == model,
                "{spec}\n{a} nr {nr} args {args:x?}: libseccomp {}, our BPF {}, our model {}",
                Action::from_ret(lib),
                Action::from_ret(mine),
                Action::from_ret(model)
            );
        }
    }
    println!(
        "seccomp libseccomp differential oracle: {filters} passed of {} filters ({evals} evaluations agree; seed {seed:#x})",
        specs.len()
    );
    for m in op_mismatch.iter().take(10) {
        println!("  op mismatch: {m}");
    }
    if hangs > 0 {
        println!("  {hangs} filters skipped: libseccomp 2.5.4 did not finish building them in 5 s");
    }
    assert!(op_mismatch.is_empty(), "{} filters where an operation succeeded on one side only", op_mismatch.len());
    assert_eq!(filters + hangs, specs.len());
    assert!(filters >= specs.len() * 9 / 10, "too few filters compared: {filters}");
}

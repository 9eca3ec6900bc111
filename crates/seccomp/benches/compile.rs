//! Instructions executed per syscall: our program against libseccomp's for moby's default
//! profile on x86_64 (Docker's default capabilities, archMap x86_64 + x86 + x32, as runc loads
//! it), side by side in one run. libseccomp's filter is built by Debian's python3-seccomp with
//! runc's rules (one per name, rules with the default action skipped), at optimize level 1
//! (libseccomp's default) and 2 (the binary tree runc enables above 32 rules).
//!
//! `cargo bench -p kguard-seccomp --bench compile` (prints; no timing involved).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use kguard_seccomp::bpf::{self, Insn, SeccompData};
use kguard_seccomp::build::{self, Target};
use kguard_seccomp::{Arch, arch, codegen, lint};

const PY: &str = r#"
import json, sys, tempfile, seccomp
spec = json.load(sys.stdin)
def act(a):
    k, n = a
    return {'ALLOW': seccomp.ALLOW, 'KILL': seccomp.KILL, 'LOG': seccomp.LOG, 'TRAP': seccomp.TRAP}.get(k) or (seccomp.ERRNO(n) if k == 'ERRNO' else seccomp.TRACE(n))
f = seccomp.SyscallFilter(act(spec['default']))
for a in spec['arches']:
    try: f.add_arch(seccomp.Arch(a))
    except Exception: pass
f.set_attr(seccomp.Attr.CTL_OPTIMIZE, spec['optimize'])
for name, a, args in spec['rules']:
    try:
        f.add_rule(act(a), name, *[seccomp.Arg(x[0], getattr(seccomp, x[1]), x[2], x[3]) for x in args])
    except Exception:
        pass
t = tempfile.TemporaryFile(); f.export_bpf(t); t.seek(0); sys.stdout.write(t.read().hex())
"#;

fn action_json(a: kguard_seccomp::Action) -> serde_json::Value {
    use kguard_seccomp::Action::*;
    match a {
        Allow => serde_json::json!(["ALLOW", 0]),
        KillThread | KillProcess => serde_json::json!(["KILL", 0]),
        Log => serde_json::json!(["LOG", 0]),
        Trap => serde_json::json!(["TRAP", 0]),
        Errno(e) => serde_json::json!(["ERRNO", e]),
        Trace(e) => serde_json::json!(["TRACE", e]),
        Notify => serde_json::json!(["TRACE", 0]),
    }
}

fn libseccomp(spec: &serde_json::Value) -> Option<Vec<Insn>> {
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(spec.to_string().as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let hex = String::from_utf8(out.stdout).ok()?;
    let bytes: Vec<u8> = (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    bpf::from_bytes(&bytes, arch::Endian::Little).ok()
}

fn main() {
    let (_, moby) = lint::runtime_defaults().into_iter().next().unwrap();
    let a = Arch::X86_64;
    let target = Target::docker_default(a);
    let f = build::build(&moby, &target).unwrap();
    let ours = codegen::compile(&f).unwrap();
    let resolved = build::resolve(&moby, &target);
    let default = moby.default_filter_action();
    let mut rules = Vec::new();
    for r in &resolved.rules {
        if r.filter_action() == default {
            continue;
        }
        let args: Vec<serde_json::Value> =
            r.args.iter().map(|x| serde_json::json!([x.index, x.op.name(), x.value, x.value_two])).collect();
        for n in &r.names {
            rules.push(serde_json::json!([n.value, action_json(r.filter_action()), args]));
        }
    }
    let arches: Vec<&str> = resolved.arches.iter().map(|x| x.name()).collect();
    // the syscalls that exist on x86_64, each with zero arguments
    let nrs: Vec<u32> = arch::syscall_names().filter_map(|n| a.syscall_number(n)).collect();
    let count = |prog: &[Insn]| -> (f64, u32) {
        let mut total = 0u64;
        let mut worst = 0;
        for nr in &nrs {
            let d = SeccompData { nr: *nr, arch: a.audit_arch(), instruction_pointer: 0, args: [0; 6] };
            let r = bpf::run(prog, &d, a.endian()).unwrap();
            total += u64::from(r.executed);
            worst = worst.max(r.executed);
        }
        (total as f64 / nrs.len() as f64, worst)
    };
    let (o_avg, o_max) = count(&ours);
    println!(
        "moby default profile, x86_64, {} syscalls (zero arguments), instructions executed per syscall:",
        nrs.len()
    );
    println!("  {:<28} {:>6} insns  mean {:>7.2}  max {:>4}", "kguard", ours.len(), o_avg, o_max);
    for opt in [1, 2] {
        let spec =
            serde_json::json!({"default": action_json(default), "arches": arches, "optimize": opt, "rules": rules});
        match libseccomp(&spec) {
            Some(prog) => {
                // libseccomp 2.5's table lacks the newest syscalls: it drops their rules
                let differ: Vec<&str> = nrs
                    .iter()
                    .filter(|nr| {
                        let d = SeccompData { nr: **nr, arch: a.audit_arch(), instruction_pointer: 0, args: [0; 6] };
                        bpf::run(&prog, &d, a.endian()).map(|r| r.ret) != bpf::run(&ours, &d, a.endian()).map(|r| r.ret)
                    })
                    .filter_map(|nr| a.syscall_name(*nr))
                    .collect();
                let agree = if differ.is_empty() {
                    "all".to_owned()
                } else {
                    format!("all but {}: {}", differ.len(), differ.join(" "))
                };
                let (l_avg, l_max) = count(&prog);
                println!(
                    "  {:<28} {:>6} insns  mean {:>7.2}  max {:>4}  (ratio kguard/libseccomp {:.2}; decisions agree on {agree})",
                    format!("libseccomp 2.5 optimize={opt}"),
                    prog.len(),
                    l_avg,
                    l_max,
                    o_avg / l_avg
                );
            }
            None => {
                println!("  libseccomp optimize={opt}: python3-seccomp not available (apt-get install python3-seccomp)")
            }
        }
    }
}

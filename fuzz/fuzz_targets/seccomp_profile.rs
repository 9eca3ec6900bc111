//! Fuzzes the seccomp profile parser and compiler: arbitrary bytes as a profile (OCI JSON or
//! SeccompProfile YAML), built for x86_64, x86 and aarch64, compiled; every compiled program
//! must pass the kernel's checks (length ≤ 4096, jumps in range, ends with a return) and decide
//! like libseccomp's model on a few syscalls. The input also drives a raw filter built from its
//! bytes (rules with random argument comparisons). Any panic, hang or unbounded allocation is a bug.
#![no_main]

use kguard_seccomp::bpf::{self, SeccompData};
use kguard_seccomp::build::{self, Target};
use kguard_seccomp::db::Op;
use kguard_seccomp::filter::ApiArg;
use kguard_seccomp::{Action, Arch, Filter, codegen, profile};
use libfuzzer_sys::fuzz_target;

fn check(f: &Filter, arch: Arch, seed: &[u8]) {
    let Ok(prog) = codegen::compile(f) else { return };
    if let Err(e) = bpf::verify(&prog) {
        panic!("compiled program fails the kernel's checks: {e}");
    }
    for (i, chunk) in seed.chunks(8).take(16).enumerate() {
        let mut v = [0u8; 8];
        v[..chunk.len()].copy_from_slice(chunk);
        let x = u64::from_le_bytes(v);
        let args = [x, x >> 8, !x, x.rotate_left(32), u64::from(i as u32), 0];
        let d = SeccompData { nr: (x as u32) % 512, arch: arch.audit_arch(), instruction_pointer: 0, args };
        let ran = bpf::run(&prog, &d, arch.endian()).expect("verified programs do not fault");
        assert_eq!(ran.ret, f.decide(d.arch, d.nr, &args));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(profiles) = profile::parse_file(text) {
            for p in &profiles {
                for arch in [Arch::X86_64, Arch::X86, Arch::Aarch64] {
                    if let Ok(f) = build::build(p, &Target::docker_default(arch)) {
                        check(&f, arch, data);
                    }
                }
            }
        }
    }
    // raw filters: every 8 bytes one rule
    let ops = [Op::Ne, Op::Lt, Op::Le, Op::Eq, Op::Ge, Op::Gt, Op::MaskedEq];
    let mut f = Filter::new(Arch::X86_64, Action::Errno(1));
    if data.first().is_some_and(|b| b & 1 == 1) {
        let _ = f.add_arch(Arch::X86);
    }
    for c in data.chunks(8).take(64) {
        let g = |i: usize| c.get(i).copied().unwrap_or(0);
        let action = match g(0) % 4 {
            0 => Action::Allow,
            1 => Action::KillThread,
            2 => Action::Errno(u16::from(g(1))),
            _ => Action::Log,
        };
        let nargs = usize::from(g(2) % 3);
        let args: Vec<ApiArg> = (0..nargs)
            .map(|k| ApiArg {
                arg: u32::from(g(3 + k) % 6),
                op: ops[usize::from(g(4 + k)) % ops.len()],
                datum_a: u64::from(g(5)) << (g(6) % 40),
                datum_b: u64::from(g(7)),
            })
            .collect();
        let _ = f.add_rule(g(1) & 0x80 != 0, action, i32::from(g(1) % 64), &args);
    }
    check(&f, Arch::X86_64, data);
    check(&f, Arch::X86, data);
});

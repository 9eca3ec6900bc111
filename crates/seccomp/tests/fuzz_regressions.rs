//! Inputs the fuzz smoke run found (fuzz/fuzz_targets/seccomp_profile.rs), replayed as tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_seccomp::bpf::{self, SeccompData};
use kguard_seccomp::db::Op;
use kguard_seccomp::filter::{ApiArg, FilterError};
use kguard_seccomp::{Action, Arch, Filter, codegen};

const IOCTL: i32 = 16;

fn arg(arg: u32, op: Op, datum: u64) -> ApiArg {
    ApiArg { arg, op, datum_a: datum, datum_b: 0 }
}

/// libseccomp's tree merge links the ioctl rules' argument levels into a loop on the fourth
/// rule: Debian's libseccomp 2.5.4 (python3-seccomp) spins forever in `_db_tree_put`, and so
/// did our port of it (fuzz artifact timeout-7d6ed91d, 10 s timeout in the smoke run). kguard
/// refuses the rule with a clear error and keeps the filter exactly as it was.
#[test]
fn merge_loop_is_refused_and_the_filter_is_unchanged() {
    let mut f = Filter::new(Arch::X86_64, Action::Errno(1));
    let big = 287_762_808_832;
    let small = 2_752_512;
    let rules = [
        vec![arg(5, Op::Gt, big), arg(4, Op::Ge, big)],
        vec![arg(2, Op::Ge, small), arg(1, Op::Ne, small)],
        vec![arg(5, Op::Gt, big), arg(4, Op::Ge, big)],
    ];
    for r in &rules {
        f.add_rule(false, Action::KillThread, IOCTL, r).expect("libseccomp adds these three");
    }
    let before = codegen::compile(&f).expect("compiles");
    let started = std::time::Instant::now();
    let err = f.add_rule(false, Action::KillThread, IOCTL, &[arg(5, Op::Ge, small), arg(1, Op::Ne, small)]);
    assert_eq!(err, Err(FilterError::Loop));
    assert!(started.elapsed().as_secs() < 5, "refused quickly, took {:?}", started.elapsed());
    assert!(err.unwrap_err().to_string().contains("libseccomp loops forever"));
    let after = codegen::compile(&f).expect("still compiles");
    assert_eq!(before, after, "a refused rule leaves the program as it was");
    bpf::verify(&after).expect("passes the kernel's checks");
    // the program decides as the model does, on both sides of every comparison
    for a5 in [0, small - 1, small, small + 1, big - 1, big, big + 1, u64::MAX] {
        for a4 in [0, big - 1, big, big + 1] {
            for a1 in [0, small, small + 1] {
                for a2 in [0, small - 1, small] {
                    let args = [0, a1, a2, 0, a4, a5];
                    let d = SeccompData { nr: 16, arch: Arch::X86_64.audit_arch(), instruction_pointer: 0, args };
                    let ran = bpf::run(&after, &d, Arch::X86_64.endian()).expect("runs");
                    assert_eq!(ran.ret, f.decide(d.arch, d.nr, &args), "args {args:?}");
                }
            }
        }
    }
    // the filter stays usable: later rules on the same and other syscalls are added
    f.add_rule(false, Action::Allow, 0, &[]).expect("read");
    f.add_rule(false, Action::Log, IOCTL, &[arg(0, Op::Eq, 7)]).expect("another ioctl rule");
}

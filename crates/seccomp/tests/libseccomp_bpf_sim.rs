//! libseccomp's own `bpf-sim` regression suite (`../shared/oracles/seccomp/libseccomp/
//! bpf_sim_cases.json`: 43 filters, 521 expectation rows). Each recorded filter is rebuilt with
//! [`Filter`] (failing operations ignored, as the upstream tests catch them), then every row is
//! checked three ways: [`Filter::decide`] (libseccomp's semantics), our compiled BPF run in our
//! interpreter, and the kernel's verifier rules on that program. Rows are read the way
//! `tests/regression` reads them: `all` is the native ABI, `+x86` simulates x86, `-x32` removes
//! it, a plain `x86` runs only where x86 is native (we build the filter with that native ABI),
//! and every combination of the ranges must give the result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_seccomp::bpf::{self, SeccompData};
use kguard_seccomp::db::Op;
use kguard_seccomp::filter::ApiArg;
use kguard_seccomp::{Action, Arch, Filter, codegen};
use serde_json::Value;

const LE: &[&str] = &[
    "x86",
    "x86_64",
    "x32",
    "arm",
    "aarch64",
    "loongarch64",
    "mipsel",
    "mipsel64",
    "mipsel64n32",
    "ppc64le",
    "riscv64",
    "sh",
];
const BE: &[&str] =
    &["m68k", "mips", "mips64", "mips64n32", "parisc", "parisc64", "ppc", "ppc64", "s390", "s390x", "sheb"];
const B32: &[&str] =
    &["x86", "x32", "arm", "m68k", "mips", "mipsel", "mips64n32", "mipsel64n32", "parisc", "ppc", "s390", "sheb", "sh"];
const B64: &[&str] = &["x86_64", "aarch64", "loongarch64", "mips64", "parisc64", "ppc64", "riscv64", "s390x"];

fn expand(list: &str, native: &str) -> Vec<String> {
    let mut add: Vec<String> = Vec::new();
    let mut avoid: Vec<String> = Vec::new();
    for a in list.split(',') {
        let group = |g: &[&str]| g.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match a {
            "all" => add.push(native.to_owned()),
            "all_le" if LE.contains(&native) => add.push(native.to_owned()),
            "all_be" if BE.contains(&native) => add.push(native.to_owned()),
            "all_32" if B32.contains(&native) => add.push(native.to_owned()),
            "all_64" if B64.contains(&native) => add.push(native.to_owned()),
            "all_le" | "all_be" | "all_32" | "all_64" => {}
            "+all_le" => add.extend(group(LE)),
            "+all_be" => add.extend(group(BE)),
            "+all_32" => add.extend(group(B32)),
            "+all_64" => add.extend(group(B64)),
            _ if a.starts_with('+') => add.push(a[1..].to_owned()),
            _ if a.starts_with('-') => avoid.push(a[1..].to_owned()),
            _ if a == native => add.push(a.to_owned()),
            _ => {}
        }
    }
    add.retain(|a| !avoid.contains(a));
    add
}

fn action(v: &Value) -> Action {
    Action::parse_sim(v.as_str().unwrap()).unwrap_or_else(|| panic!("action {v}"))
}

fn arch(name: &str, native: Arch) -> Arch {
    if name == "native" { native } else { Arch::parse(name).unwrap_or_else(|| panic!("arch {name}")) }
}

fn syscall(f: &Filter, v: &Value) -> Option<i32> {
    match v {
        Value::String(s) => f.resolve_native(s),
        Value::Number(n) => Some(i32::try_from(n.as_i64().unwrap()).unwrap()),
        _ => panic!("syscall {v}"),
    }
}

/// Tests 04 and 05 compare with Python's `sys.maxsize`, recorded on a 64-bit Python as 2^63-1;
/// where the row needs a 32-bit native ABI (plain `x86`), upstream's Python has 2^31-1.
fn maxsize(v: u64, native: Arch) -> u64 {
    if v == i64::MAX as u64 && !native.is_64() { i32::MAX as u64 } else { v }
}

fn build(spec: &Value, native: Arch) -> Filter {
    let mut f = Filter::new(native, action(&spec["default_action"]));
    for op in spec["ops"].as_array().unwrap() {
        let o = op.as_array().unwrap();
        match o[0].as_str().unwrap() {
            name @ ("add_rule" | "add_rule_exactly") => {
                let Some(sc) = syscall(&f, &o[2]) else { continue };
                let args: Vec<ApiArg> = o[3]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| ApiArg {
                        arg: u32::try_from(a["arg"].as_u64().unwrap()).unwrap(),
                        op: Op::parse(a["op"].as_str().unwrap()).unwrap(),
                        datum_a: maxsize(a["datum_a"].as_u64().unwrap(), native),
                        datum_b: a["datum_b"].as_u64().unwrap(),
                    })
                    .collect();
                let _ = f.add_rule(name == "add_rule_exactly", action(&o[1]), sc, &args);
            }
            "add_arch" => {
                let _ = f.add_arch(arch(o[1].as_str().unwrap(), native));
            }
            "remove_arch" => {
                let _ = f.remove_arch(arch(o[1].as_str().unwrap(), native));
            }
            "set_attr" => {
                let _ = f.set_attr(o[1].as_str().unwrap(), u32::try_from(o[2].as_u64().unwrap()).unwrap());
            }
            "syscall_priority" => {
                if let Some(sc) = syscall(&f, &o[1]) {
                    f.syscall_priority(sc, u8::try_from(o[2].as_u64().unwrap()).unwrap());
                }
            }
            "reset" => {
                let a = if o[1].is_null() { f.default_action() } else { action(&o[1]) };
                f.reset(a);
            }
            "merge" => {
                let other = build(&o[1], native);
                let _ = f.merge(other);
            }
            "start_transaction" => f.transaction_start(),
            "commit_transaction" => f.transaction_commit(),
            "reject_transaction" => f.transaction_reject(),
            "precompute" => {}
            other => panic!("unknown op {other}"),
        }
    }
    f
}

/// Test 05 adds rules for "the first 100 syscall numbers that resolve on the native ABI, except
/// chdir's" (`resolve_syscall(Arch(), sc)`): the recording holds x86_64's numbers; for another
/// native ABI the same loop picks that ABI's numbers.
fn native_spec(test: &str, spec: &Value, native: Arch) -> Value {
    if test != "05-sim-long_jumps" || native == Arch::X86_64 {
        return spec.clone();
    }
    let chdir = native.resolve_name("chdir").unwrap();
    let mut nums = (0..10000).filter(|n| *n != chdir && native.resolve_num(*n).is_some());
    let mut out = spec.clone();
    for op in out["ops"].as_array_mut().unwrap() {
        if op[2].is_number() {
            op[2] = Value::from(nums.next().unwrap());
        }
    }
    out
}

fn range(s: &str) -> (u64, u64) {
    let num = |t: &str| -> u64 {
        if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            u64::from_str_radix(h, 16).unwrap()
        } else if let Some(neg) = t.strip_prefix('-') {
            (neg.parse::<i64>().unwrap().wrapping_neg()) as u64
        } else {
            t.parse().unwrap()
        }
    };
    if s == "N" {
        return (0, 0);
    }
    match s[1..].find('-') {
        Some(i) => (num(&s[..=i]), num(&s[i + 2..])),
        None => (num(s), num(s)),
    }
}

/// `seccomp_syscall_resolve_name_rewrite`.
fn sim_syscall(a: Arch, s: &str) -> (u64, u64) {
    if s.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        let (lo, hi) = range(s);
        return (lo, hi);
    }
    let n = a.resolve_name(s).unwrap_or_else(|| panic!("{s} on {a}"));
    let n = if a.is_mux_abi() && (-120..=-100).contains(&n) {
        a.sys_socketcall()
    } else if a.is_mux_abi() && (-224..=-200).contains(&n) {
        a.sys_ipc()
    } else {
        n
    };
    (n as u32 as u64, n as u32 as u64)
}

#[test]
fn libseccomp_bpf_sim_oracle() {
    let Some(path) = kguard_testkit::shared_path("oracles/seccomp/libseccomp/bpf_sim_cases.json") else { return };
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let tests = doc["tests"].as_array().unwrap();
    let (mut rows, mut passed, mut evaluations) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for t in tests {
        let name = t["test"].as_str().unwrap();
        for row in t["bpf_sim"].as_array().unwrap() {
            rows += 1;
            let list = row["arch"].as_str().unwrap();
            let mut native = Arch::X86_64;
            let mut sims = expand(list, "x86_64");
            if sims.is_empty() {
                for cand in list.split(',').filter(|a| !a.starts_with(['+', '-']) && !a.starts_with("all")) {
                    let s = expand(list, cand);
                    if !s.is_empty() {
                        native = Arch::parse(cand).unwrap();
                        sims = s;
                        break;
                    }
                }
            }
            assert!(!sims.is_empty(), "{name} line {}: no architecture to simulate", row["line"]);
            let f = build(&native_spec(name, &t["filter"], native), native);
            let prog = codegen::compile(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
            bpf::verify(&prog).unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = action(&row["result"]).ret();
            let args: Vec<(u64, u64)> =
                row["args"].as_array().unwrap().iter().map(|a| range(a.as_str().unwrap())).collect();
            let mut ok = true;
            'row: for sim in &sims {
                let a = Arch::parse(sim).unwrap();
                let (lo, hi) = sim_syscall(a, row["syscall"].as_str().unwrap());
                for nr in lo..=hi {
                    let mut idx = [0u64; 6];
                    loop {
                        let mut vals = [0u64; 6];
                        for i in 0..6 {
                            vals[i] = args[i].0 + idx[i];
                        }
                        evaluations += 1;
                        let data =
                            SeccompData { nr: nr as u32, arch: a.audit_arch(), instruction_pointer: 0, args: vals };
                        let semantic = f.decide(data.arch, data.nr, &vals);
                        let ours = bpf::run(&prog, &data, a.endian()).map(|r| r.ret);
                        if semantic != want || ours != Some(want) {
                            failures.push(format!(
                                "{name} line {} ({sim}, nr {nr}, args {vals:?}): want {}, libseccomp model {}, our BPF {}",
                                row["line"],
                                Action::from_ret(want),
                                Action::from_ret(semantic),
                                ours.map_or("fault".to_owned(), |r| Action::from_ret(r).to_string())
                            ));
                            ok = false;
                            break 'row;
                        }
                        // next combination
                        let mut i = 0;
                        loop {
                            if i == 6 {
                                break;
                            }
                            if args[i].0 + idx[i] < args[i].1 {
                                idx[i] += 1;
                                break;
                            }
                            idx[i] = 0;
                            i += 1;
                        }
                        if i == 6 {
                            break;
                        }
                    }
                }
            }
            if ok {
                passed += 1;
            }
        }
    }
    println!(
        "seccomp libseccomp bpf-sim oracle: {passed} passed of {rows} rows ({} filters, {evaluations} evaluations)",
        tests.len()
    );
    for f in failures.iter().take(40) {
        println!("  FAIL {f}");
    }
    assert_eq!(tests.len(), 43, "filters in bpf_sim_cases.json");
    assert_eq!(rows, 521, "rows in bpf_sim_cases.json");
    assert_eq!(passed, rows, "{} rows failed", failures.len());
}

//! `sshd -T` oracle: the 57 cases of `oracles/nodes/sshd/sshd_T_cases.json` (OpenSSH's regress
//! expectations plus probes, each with Debian 12's `sshd -T` output). Agree = the same exit
//! (accepted / refused) and, when accepted, the same output lines for every keyword.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_node::source::MemSource;
use kguard_node::sshd::{Connection, effective};

/// Cases that agree (all of them).
const AGREE: usize = 57;

#[test]
fn sshd_t_cases_agree() {
    let Some(path) = kguard_testkit::shared_path("oracles/nodes/sshd/sshd_T_cases.json") else { return };
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 57);
    let tmp = regex::Regex::new(r"/tmp/kg-sshd-[A-Za-z0-9_]+").unwrap();
    let mut agree = 0;
    let mut upstream_agree = 0;
    let mut disagreements = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut src = MemSource::new();
        for (rel, text) in case["files"].as_object().unwrap() {
            src.insert(format!("/obj/{rel}"), text.as_str().unwrap().replace("$OBJ", "/obj"));
        }
        src.insert("/obj/host.ssh-ed25519", "");
        let main = format!("/obj/{}", case["main"].as_str().unwrap());
        let syntax_only = case["extra_args"].as_array().unwrap().iter().any(|a| a == "-t");
        let conn: Option<Connection> =
            if syntax_only { None } else { case["connection"].as_str().map(|c| c.parse().unwrap()) };
        let got = effective(&src, &main, conn.as_ref());
        let deb = &case["debian_sshd_9_2"];
        let rc = deb["rc"].as_i64().unwrap();
        let ok = match (&got, rc) {
            (Err(_), 255) => true,
            (Ok(_), 0) if syntax_only => true,
            (Ok(eff), 0) => {
                let want: Vec<String> = deb["stdout_lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| tmp.replace_all(l.as_str().unwrap(), "/obj").into_owned())
                    .collect();
                let have = eff.lines();
                if have == want {
                    true
                } else {
                    let missing: Vec<&String> = want.iter().filter(|l| !have.contains(l)).collect();
                    let extra: Vec<&String> = have.iter().filter(|l| !want.contains(l)).collect();
                    disagreements.push(format!("{name}: sshd has {missing:?}, we have {extra:?}"));
                    false
                }
            }
            (Ok(_), _) => {
                disagreements.push(format!("{name}: sshd exits {rc}, we accept"));
                false
            }
            (Err(e), _) => {
                disagreements.push(format!("{name}: sshd accepts, we refuse: {e}"));
                false
            }
        };
        // The upstream expectation itself (OpenSSH's regress suite), where there is one.
        if let (Some(exp), Ok(eff)) = (case["expected"].as_object(), &got) {
            if exp.iter().all(|(k, v)| eff.value(k) == v.as_str()) {
                upstream_agree += 1;
            } else {
                disagreements.push(format!("{name}: upstream expects {exp:?}"));
            }
        } else if case["expect_error"] == true && got.is_err() {
            upstream_agree += 1;
        }
        if ok {
            agree += 1;
        }
    }
    eprintln!("sshd -T oracle: {agree}/57 agree with Debian's sshd -T; {upstream_agree}/38 upstream expectations");
    for d in &disagreements {
        eprintln!("  disagreement: {d}");
    }
    assert_eq!((agree, upstream_agree), (AGREE, 38), "{disagreements:#?}");
}

//! The log parser against libapparmor's `testsuite/test_multi` (`../shared/oracles/apparmor/
//! libapparmor-test_multi/`): for every `X.in`, the record printed as test_multi prints it must
//! equal `X.out`. A ratchet: agreement may not fall below the recorded count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_apparmor::log::{Event, parse_line};

/// Recorded agreement (raise it when the parser improves).
const AGREE: usize = 179;

#[test]
fn test_multi_records() {
    let Some(dir) = kguard_testkit::shared_path("oracles/apparmor/libapparmor-test_multi") else { return };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".in").map(str::to_owned))
        .collect();
    names.sort();
    let mut bad = Vec::new();
    for name in &names {
        let input = std::fs::read(dir.join(format!("{name}.in"))).unwrap();
        // test_multi reads at most 1023 bytes
        let input = String::from_utf8_lossy(&input[..input.len().min(1023)]).into_owned();
        let want = std::fs::read_to_string(dir.join(format!("{name}.out"))).unwrap();
        let got = format!("START\nFile: {name}.in\n{}", parse_line(&input).print());
        if got != want {
            bad.push(format!("{name}:\n--- want\n{want}--- got\n{got}"));
        }
    }
    for b in bad.iter().take(if std::env::var_os("AA_ORACLE_ALL").is_some() { bad.len() } else { 5 }) {
        println!("{b}");
    }
    let agree = names.len() - bad.len();
    println!("apparmor libapparmor test-multi oracle: {agree}/{} records equal", names.len());
    assert!(agree >= AGREE, "agreement fell to {agree} (recorded {AGREE})");
}

/// Recorded agreement of the proposed profiles (raise it when the proposer improves).
const PROFILES_AGREE: usize = 139;

/// aa-logprof's profile for each single event (`X.profile`, 142 cases), skipping the cases
/// upstream's `test-libapparmor-test_multi.py` skips for the profile step.
#[test]
fn test_multi_profiles() {
    let Some(dir) = kguard_testkit::shared_path("oracles/apparmor/libapparmor-test_multi") else { return };
    let skip = [
        "testcase_dbus_09",
        "testcase_dmesg_changehat_negative_error",
        "testcase_syslog_changehat_negative_error",
        "testcase_changehat_01",
    ];
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".profile").map(str::to_owned))
        .collect();
    names.sort();
    let mut bad = Vec::new();
    let mut total = 0;
    let mut not_learned = 0;
    for name in &names {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let input = std::fs::read(dir.join(format!("{name}.in"))).unwrap();
        let input = String::from_utf8_lossy(&input[..input.len().min(1023)]).into_owned();
        let record = parse_line(&input);
        let proposed = kguard_apparmor::log::propose(std::slice::from_ref(&record));
        // upstream's `logfile_to_profile` ignores AUDIT/STATUS/HINT events (aa-logprof learns
        // nothing from them) and compares no profile: kguard must propose nothing for them
        if matches!(record.event, Event::Audit | Event::Status | Event::Hint) {
            assert!(proposed.is_empty(), "{name}: a rule proposed from a {:?} event", record.event);
            not_learned += 1;
            continue;
        }
        total += 1;
        let want = std::fs::read_to_string(dir.join(format!("{name}.profile"))).unwrap();
        let got: String = proposed.iter().map(|p| p.render()).collect();
        if got != want {
            bad.push(format!("{name}:\n--- want\n{want}--- got\n{got}"));
        }
    }
    for b in bad.iter().take(if std::env::var_os("AA_ORACLE_ALL").is_some() { bad.len() } else { 5 }) {
        println!("{b}");
    }
    let agree = total - bad.len();
    println!(
        "apparmor aa-logprof profiles oracle: {agree}/{total} equal ({} with expected profiles: {} skipped as upstream skips, \
         {not_learned} AUDIT events that upstream does not learn from and kguard proposes nothing for)",
        names.len(),
        names.len() - total - not_learned
    );
    assert_eq!(total, 139);
    assert!(agree >= PROFILES_AGREE, "agreement fell to {agree} (recorded {PROFILES_AGREE})");
}

//! OSV range semantics as the schema specifies them: unsorted events, `introduced: "0"`,
//! `fixed` vs `last_affected`, `limit`, `SEMVER` vs `ECOSYSTEM`, `versions[]`, `GIT` skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_vuln::osv::Range;
use kguard_vuln::version::Scheme;

fn range(kind: &str, events: &str) -> Range {
    serde_json::from_str(&format!(r#"{{"type":"{kind}","events":{events}}}"#)).unwrap()
}

#[test]
fn introduced_fixed_unsorted() {
    let r = range("ECOSYSTEM", r#"[{"introduced":"2.0.0"},{"fixed":"2.0.7"},{"introduced":"0"},{"fixed":"1.26.18"}]"#);
    for (v, want) in [
        ("1.0", true),
        ("1.26.17", true),
        ("1.26.18", false),
        ("1.26.20", false),
        ("2.0.0", true),
        ("2.0.6", true),
        ("2.0.7", false),
    ] {
        assert_eq!(r.contains(Scheme::Pep440, v), want, "{v}");
    }
}

#[test]
fn last_affected_is_inclusive() {
    let r = range("ECOSYSTEM", r#"[{"introduced":"1.0"},{"last_affected":"1.11.0"}]"#);
    assert!(r.contains(Scheme::Pep440, "1.11.0"));
    assert!(!r.contains(Scheme::Pep440, "1.11.1"));
    assert!(!r.contains(Scheme::Pep440, "0.9"));
}

#[test]
fn limit_bounds_the_range() {
    let r = range("ECOSYSTEM", r#"[{"introduced":"0"},{"limit":"2.0"}]"#);
    assert!(r.contains(Scheme::Pep440, "1.9"));
    assert!(!r.contains(Scheme::Pep440, "2.0"));
    assert!(!r.contains(Scheme::Pep440, "3.0"));
}

#[test]
fn semver_type_uses_semver_not_the_ecosystem() {
    // In SEMVER, 1.0.0-rc.1 < 1.0.0; under dpkg ordering "-rc.1" would be a revision (greater).
    let r = range("SEMVER", r#"[{"introduced":"0"},{"fixed":"1.0.0"}]"#);
    assert!(r.contains(Scheme::Deb, "1.0.0-rc.1"));
    let r = range("SEMVER", r#"[{"introduced":"1.0.0-0"},{"fixed":"1.2.0"}]"#);
    assert!(r.contains(Scheme::Deb, "1.0.0-alpha"));
    assert!(!r.contains(Scheme::Deb, "0.9.9"));
}

#[test]
fn ecosystem_type_uses_native_ordering() {
    let r = range("ECOSYSTEM", r#"[{"introduced":"0"},{"fixed":"1:1.2-1"}]"#);
    assert!(r.contains(Scheme::Deb, "9.9-1"), "epoch 0 < epoch 1");
    assert!(!r.contains(Scheme::Deb, "1:1.2-1"));
    let r = range("ECOSYSTEM", r#"[{"introduced":"0"},{"fixed":"1.2.3-r1"}]"#);
    assert!(r.contains(Scheme::Apk, "1.2.3-r0"));
    assert!(r.contains(Scheme::Apk, "1.2.3_rc1-r5"));
}

#[test]
fn git_ranges_are_skipped() {
    let r = range("GIT", r#"[{"introduced":"0"},{"fixed":"195caac1"}]"#);
    assert!(!r.contains(Scheme::Semver, "1.0.0"));
}

#[test]
fn fixed_after_picks_the_next_fix() {
    let r = range("ECOSYSTEM", r#"[{"introduced":"0"},{"fixed":"1.26.18"},{"introduced":"2.0.0"},{"fixed":"2.0.7"}]"#);
    assert_eq!(r.fixed_after(Scheme::Pep440, "2.0.1").as_deref(), Some("2.0.7"));
    assert_eq!(r.fixed_after(Scheme::Pep440, "1.0").as_deref(), Some("1.26.18"));
}

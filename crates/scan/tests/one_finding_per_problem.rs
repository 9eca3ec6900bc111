//! One finding per problem, over the real-world corpus (`../shared/corpus`): no two findings of a
//! scan are about the same problem, as `kguard_scan::problems` defines it: the same object (and
//! file), rules that are the same, declared overlapping or share another tool's id, overlapping
//! fields (equal pointers or one inside the other; every field a Pod Security check names), and
//! compatible containers. Run with the default rules and with `--select ALL`, and with the
//! namespaces' levels (the corpus has Namespaces with pod-security labels) or the baseline level.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, HashMap};

use kguard_model::Object;
use kguard_podsec::{Level, Version};
use kguard_report::Finding;
use kguard_scan::problems::{self, Extent, ExtentKey};
use kguard_scan::{PssDefault, ScanConfig, Selection};

fn corpus() -> Option<Vec<Object>> {
    let dir = kguard_testkit::shared_path("corpus")?;
    let (inputs, _) = kguard_model::load::expand_paths(&[dir]);
    Some(inputs.iter().flat_map(|i| kguard_model::load::load_input(i).objects).collect())
}

fn extent(f: &Finding, extents: &HashMap<ExtentKey, Extent>) -> Extent {
    problems::extent_key(f).and_then(|k| extents.get(&k).cloned()).unwrap_or_else(|| Extent::of(f))
}

/// The pairs of findings about the same problem, described.
fn duplicates(findings: &[Finding], extents: &HashMap<ExtentKey, Extent>) -> Vec<String> {
    let mut by_object: BTreeMap<(String, String), Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        let (Some(obj), Some(loc)) = (f.object.as_deref(), f.location.as_ref()) else { continue };
        by_object.entry((loc.file.to_string(), obj.to_string())).or_default().push(f);
    }
    let mut out = Vec::new();
    for ((file, obj), fs) in &by_object {
        for (i, a) in fs.iter().enumerate() {
            for b in &fs[i + 1..] {
                if !problems::same_problem_rules(&a.rule_id, &b.rule_id) {
                    continue;
                }
                let (ea, eb) = (extent(a, extents), extent(b, extents));
                if ea.fields_overlap(&eb) && ea.containers_compatible(&eb) {
                    out.push(format!(
                        "{file} {obj}: {} {:?} [{:?}] and {} {:?} [{:?}]",
                        a.rule_id, ea.pointers, a.container, b.rule_id, eb.pointers, b.container
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn no_two_findings_about_the_same_problem_on_the_corpus() {
    let Some(objects) = corpus() else { return };
    assert!(objects.len() > 2000, "the corpus lost objects: {}", objects.len());
    let all = || Selection { select: vec!["ALL".to_owned()], ignore: vec![] };
    let runs = [
        ("default rules, restricted", Selection::default(), Level::Restricted),
        ("--select ALL, restricted", all(), Level::Restricted),
        ("--select ALL, baseline", all(), Level::Baseline),
    ];
    for (name, selection, level) in runs {
        let config = ScanConfig {
            selection,
            pss: PssDefault { level, version: Version::Latest },
            linkerd_default: kguard_scan::LinkerdDefaultPolicy::AllUnauthenticated,
        };
        let (out, extents) = kguard_scan::scan_with_extents(&objects, &config);
        let dups = duplicates(&out.findings, &extents);
        let merged: Vec<&Finding> = out.findings.iter().filter(|f| !f.merged.is_empty()).collect();
        let absorbed: usize = merged.iter().map(|f| f.merged.len()).sum();
        println!(
            "{name}: {} findings, {} of them carry {absorbed} merged rule ids, {} duplicates",
            out.findings.len(),
            merged.len(),
            dups.len()
        );
        assert!(dups.is_empty(), "{name}: {} findings about the same problem:\n{}", dups.len(), dups.join("\n"));
        // The corpus has privileged containers and host namespaces: each is reported once, by the
        // hardening rule of the field, carrying the Pod Security check.
        // (allowPrivilegeEscalation is a restricted check.)
        let mut pairs = vec![("KG001", "PSS007"), ("KG020", "PSS003"), ("KG024", "PSS004")];
        if level == Level::Restricted {
            pairs = vec![("KG001", "PSS007"), ("KG020", "PSS003"), ("KG002", "PSS013"), ("KG013", "PSS019")];
        }
        for (kept, carried) in pairs {
            let n = merged.iter().filter(|f| f.rule_id == kept && f.merged.contains(&carried)).count();
            let alone = out.findings.iter().filter(|f| f.rule_id == carried).count();
            println!("  {kept} carrying {carried}: {n}; {carried} reported itself: {alone}");
            assert!(n > 0, "{name}: no {kept} carrying {carried}");
        }
    }
}

/// A selection of one rule of an overlapping pair reports that rule (nothing merges it away), and
/// the suppression of one rule leaves the other to report the problem.
#[test]
fn selection_and_suppression_come_before_merging() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostPID: true\n  containers:\n  - name: c\n    image: x:1\n    securityContext:\n      privileged: true\n";
    let file: std::sync::Arc<str> = "p.yaml".into();
    let objects = kguard_model::load::parse_text(&file, text).objects;
    let run = |select: &[&str], objects: &[Object]| {
        let config = ScanConfig {
            selection: Selection { select: select.iter().map(|s| (*s).to_owned()).collect(), ignore: vec![] },
            pss: PssDefault { level: Level::Restricted, version: Version::Latest },
            linkerd_default: kguard_scan::LinkerdDefaultPolicy::AllUnauthenticated,
        };
        let out = kguard_scan::scan(objects, &config);
        out.findings.iter().map(|f| (f.rule_id.clone(), f.merged.clone())).collect::<Vec<_>>()
    };
    assert_eq!(run(&["PSS007"], &objects), [("PSS007".to_owned(), vec![])]);
    assert_eq!(run(&["KG001"], &objects), [("KG001".to_owned(), vec![])]);
    assert_eq!(run(&["KG001", "PSS007"], &objects), [("KG001".to_owned(), vec!["PSS007"])]);
    // `--select KSV017` selects both rules that mean Trivy's KSV017: one finding.
    assert_eq!(run(&["KSV017"], &objects), [("KG001".to_owned(), vec!["PSS007"])]);
    // hostPID: KG021 and PSS003 (which also covers hostNetwork and hostIPC, unset here).
    assert_eq!(run(&["KG021", "PSS003"], &objects), [("KG021".to_owned(), vec!["PSS003"])]);
    let suppressed = text.replace("  name: p\n", "  name: p\n  annotations:\n    kguard.io/ignore: KG001\n");
    let objects = kguard_model::load::parse_text(&file, &suppressed).objects;
    assert_eq!(run(&["KG001", "PSS007"], &objects), [("PSS007".to_owned(), vec![])]);
}

//! The renderers are linear in the number of findings (issue "Trustworthy under attack and
//! failure", item 11c): a file of pods gives tens of thousands of findings about thousands of
//! objects, and grouping them by a search through the groups made the table quadratic (a 4 MB file
//! of pods: 9.3 s to a table, 0.8 s for 1 MB).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use kguard_model::{Location, ObjectRef, Pos};
use kguard_report::{Finding, Format, RenderOptions, Report, RuleMeta, Severity};

const RULE: RuleMeta = RuleMeta {
    id: "KG001",
    name: "privileged",
    family: "hardening",
    severity: Severity::Critical,
    title: "Privileged container",
    what: "w",
    why: "y",
    fix: "f",
    references: &["https://kubernetes.io/"],
    aliases: &[],
    opt_in: false,
};

/// `objects` pods in one file, two findings each, in file order (as the CLI sorts them).
fn report(objects: usize) -> Report {
    let file: Arc<str> = "pods.yaml".into();
    let mut findings = Vec::with_capacity(objects * 2);
    for i in 0..objects {
        let id = ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some(format!("team-{}", i % 8)),
            name: format!("pod-{i}"),
        };
        for (j, container) in ["main", "sidecar"].into_iter().enumerate() {
            let pos = Pos::new(u32::try_from(i * 40 + j * 10 + 1).unwrap(), 7);
            let pointer = format!("/spec/containers/{j}/securityContext/privileged");
            let f = Finding::new(
                &RULE,
                format!("container `{container}` sets `privileged: true`"),
                Some(id.clone()),
                Some(pointer),
                Some(Location::at(file.clone(), pos)),
            );
            findings.push(f.in_container(Some(container.to_owned())));
        }
    }
    Report { findings, rules: vec![RULE], ..Report::default() }
}

#[test]
fn rendering_is_linear_in_the_findings() {
    let report = report(20_000);
    let opts = RenderOptions::default();
    for format in Format::ALL {
        let start = Instant::now();
        let mut out = std::io::sink();
        kguard_report::render(format, &report, &mut out, &opts).unwrap();
        let elapsed = start.elapsed();
        // Quadratic grouping took minutes here in a debug build; linear takes about a second.
        assert!(elapsed < Duration::from_secs(10), "{format}: 40,000 findings about 20,000 objects took {elapsed:?}");
    }
}

#[test]
fn table_groups_by_object_in_order_of_first_appearance() {
    let mut report = report(3);
    // A finding about the first pod after the others: it joins the first pod's group.
    let late = report.findings[0].clone();
    report.findings.push(late);
    let mut out = Vec::new();
    kguard_report::render(Format::Table, &report, &mut out, &RenderOptions::default()).unwrap();
    let text = String::from_utf8(out).unwrap();
    let groups: Vec<&str> = text.lines().filter(|l| l.starts_with("  ") && !l.starts_with("    ")).collect();
    assert_eq!(groups, ["  Pod/team-0/pod-0", "  Pod/team-1/pod-1", "  Pod/team-2/pod-2"], "{text}");
    assert_eq!(text.matches("\n    1:7").count(), 2, "{text}");
}

/// A source that is not a slice (as `kguard scan`'s spill is not): read in passes, one finding at
/// a time.
struct Streamed(Vec<Finding>);

impl kguard_report::FindingSource for Streamed {
    fn counts(&self) -> kguard_report::Counts {
        kguard_report::Counts::of_findings(&self.0)
    }

    fn for_each(&self, each: &mut dyn FnMut(&Finding) -> std::io::Result<()>) -> std::io::Result<()> {
        for f in &self.0 {
            let one = f.clone();
            each(&one)?;
        }
        Ok(())
    }
}

#[test]
fn a_streamed_source_renders_what_the_report_renders() {
    let report = report(50);
    let source = Streamed(report.findings.clone());
    let bare = Report { findings: Vec::new(), ..report.clone() };
    for format in Format::ALL {
        let opts = RenderOptions::default();
        let mut whole = Vec::new();
        kguard_report::render(format, &report, &mut whole, &opts).unwrap();
        let mut streamed = Vec::new();
        kguard_report::render_source(format, &bare, &source, &mut streamed, &opts).unwrap();
        assert!(whole == streamed, "{format}: the streamed rendering differs");
    }
}

//! Renderer tests: snapshots of every format for a small report, schema validation (kguard's
//! JSON schema and the official SARIF 2.1.0 schema), well-formed JUnit XML, and edge cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;

use kguard_model::{Diagnostic, Location, ObjectRef, Pos};
use kguard_report::{Finding, Format, RenderOptions, Report, RuleMeta, Severity, Summary};
use quick_xml::events::Event;
use serde_json::Value;

// ---------------------------------------------------------------- fixtures

const RULES: [RuleMeta; 4] = [
    RuleMeta {
        id: "PSS001",
        name: "hostNamespaces",
        family: "pss",
        severity: Severity::Critical,
        title: "Host namespaces",
        what: "Pods must not share the host's PID, IPC or network namespace.",
        why: "Sharing host namespaces lets a container see and signal host processes.",
        fix: "Remove hostPID, hostIPC and hostNetwork, or set them to false.",
        references: &["https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline"],
        aliases: &["KSV008"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS003",
        name: "privileged",
        family: "pss",
        severity: Severity::High,
        title: "Privileged containers",
        what: "Containers must not run privileged.",
        why: "A privileged container has every capability and all host devices.",
        fix: "Set securityContext.privileged to false or remove it.",
        references: &[
            "https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline",
            "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/",
        ],
        aliases: &["KSV017", "CKV_K8S_16"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS012",
        name: "runAsNonRoot",
        family: "pss",
        severity: Severity::Medium,
        title: "Running as non-root",
        what: "Containers must set runAsNonRoot: true.",
        why: "Root in a container is root on the node after an escape.",
        fix: "Set securityContext.runAsNonRoot: true.",
        references: &["https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted"],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS014",
        name: "seccompProfile",
        family: "pss",
        severity: Severity::Low,
        title: "Seccomp profile",
        what: "Pods must set a RuntimeDefault or Localhost seccomp profile.",
        why: "Without seccomp every syscall is reachable.",
        fix: "Set securityContext.seccompProfile.type: RuntimeDefault.",
        references: &[],
        aliases: &[],
        opt_in: false,
    },
];

fn loc(file: &str, line: u32, column: u32) -> Location {
    Location::at(Arc::from(file), Pos::new(line, column))
}

fn obj(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Arc<ObjectRef> {
    Arc::new(ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(Into::into),
        name: name.into(),
    })
}

fn finding(rule: &RuleMeta, message: &str) -> Finding {
    Finding {
        rule_id: rule.id.into(),
        severity: rule.severity,
        title: rule.title.into(),
        message: message.into(),
        object: None,
        container: None,
        pointer: None,
        location: None,
        remediation: Some(rule.fix.into()),
        references: rule.references,
        merged: Vec::new(),
    }
}

/// Four findings across two files (one without a location) and diagnostics of every level.
fn sample() -> Report {
    let [host, privileged, non_root, seccomp] = RULES;
    let web = obj("apps/v1", "Deployment", Some("prod"), "web");
    let findings = vec![
        Finding {
            object: Some(web.clone()),
            pointer: Some("/spec/template/spec/hostPID".into()),
            location: Some(loc("deploy/web.yaml", 8, 7)),
            ..finding(&host, "host namespaces (hostPID=true)")
        },
        Finding {
            object: Some(web),
            container: Some("app".into()),
            pointer: Some("/spec/template/spec/containers/0/securityContext/privileged".into()),
            location: Some(loc("deploy/web.yaml", 21, 13)),
            // A hardening rule that reported the same field, merged into this finding.
            merged: vec!["KG001"],
            ..finding(&privileged, "privileged (container \"app\" must not set securityContext.privileged=true)")
        },
        Finding {
            object: Some(obj("v1", "Pod", None, "debug")),
            container: Some("shell".into()),
            pointer: Some("/spec/containers/0/securityContext/runAsNonRoot".into()),
            location: Some(loc("pods/debug.yaml", 5, 3)),
            ..finding(
                &non_root,
                "runAsNonRoot != true (container \"shell\" must set securityContext.runAsNonRoot=true)",
            )
        },
        Finding {
            object: Some(obj("v1", "Pod", Some("default"), "tmp")),
            ..finding(
                &seccomp,
                "seccompProfile (pod must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
            )
        },
    ];
    let diagnostics = vec![
        Diagnostic::warning(
            "duplicate-key",
            loc("deploy/web.yaml", 12, 5),
            "duplicate key \"image\"; the last one wins",
        ),
        Diagnostic::note("unknown-kind", loc("deploy/crd.yaml", 1, 1), "no rule applies to kind Widget; skipped"),
        Diagnostic::error("not-utf8", Location::file(Arc::from("pods/binary.yaml")), "file is not valid UTF-8"),
        Diagnostic::error(
            "yaml-syntax",
            loc("pods/broken.yaml", 3, 7),
            "mapping values are not allowed in this context",
        ),
    ];
    Report {
        findings,
        diagnostics,
        summary: Summary { files: 5, documents: 6, objects: 5, scanned: 3, skipped: 2, ..Summary::default() },
        rules: RULES.to_vec(),
        ..Report::default()
    }
}

fn opts() -> RenderOptions {
    RenderOptions { color: false, verbose: false, quiet: false, tool_version: "1.2.3-test".into() }
}

fn render(format: Format, report: &Report, opts: &RenderOptions) -> String {
    let mut out = Vec::new();
    kguard_report::render(format, report, &mut out, opts).unwrap();
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------- validation helpers

fn validate(schema: &str, doc: &str) {
    let schema: Value = serde_json::from_str(schema).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance: Value = serde_json::from_str(doc).unwrap();
    let errors: Vec<String> = validator.iter_errors(&instance).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "schema violations:\n{}\n\ndocument:\n{doc}", errors.join("\n"));
}

fn validate_json(doc: &str) {
    validate(kguard_report::json::JSON_SCHEMA, doc);
}

fn validate_sarif(doc: &str) {
    validate(include_str!("data/sarif-schema-2.1.0.json"), doc);
}

/// Parses `xml`, checks that tags nest and every attribute unescapes; returns
/// (element name, attributes) of every start or empty tag.
fn parse_xml(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut elements = Vec::new();
    let mut roots = 0;
    loop {
        let event =
            reader.read_event().unwrap_or_else(|e| panic!("malformed XML at {}: {e}\n{xml}", reader.buffer_position()));
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(e) => {
                let name = e.name().as_ref().to_owned();
                assert_eq!(stack.pop().as_deref(), Some(name.as_str()), "mismatched end tag");
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        if let Some(e) = start {
            if stack.is_empty() {
                roots += 1;
            }
            let name = e.name().as_ref().to_owned();
            let attrs = e
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    let key = a.key.as_ref().to_owned();
                    let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap().into_owned();
                    (key, value)
                })
                .collect();
            elements.push((name.clone(), attrs));
            if !empty {
                stack.push(name);
            }
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    assert_eq!(roots, 1, "exactly one root element");
    elements
}

fn attr<'a>(element: &'a (String, Vec<(String, String)>), key: &str) -> &'a str {
    element
        .1
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} on {element:?}"))
}

// ---------------------------------------------------------------- snapshots

#[test]
fn table_snapshot() {
    insta::assert_snapshot!("table", render(Format::Table, &sample(), &opts()));
}

#[test]
fn table_verbose_shows_notes_and_quiet_hides_summary() {
    let report = sample();
    let normal = render(Format::Table, &report, &opts());
    assert!(!normal.contains("unknown-kind"));
    let verbose = render(Format::Table, &report, &RenderOptions { verbose: true, ..opts() });
    assert!(
        verbose.contains("deploy/crd.yaml:1:1: note: no rule applies to kind Widget; skipped [unknown-kind]"),
        "{verbose}"
    );
    assert!(verbose.trim_end().ends_with("2 errors, 1 warning, 1 note"), "{verbose}");
    let quiet = render(Format::Table, &report, &RenderOptions { quiet: true, ..opts() });
    assert!(!quiet.contains("Scanned"), "{quiet}");
    assert_eq!(quiet.trim_end(), normal.trim_end().rsplit_once("\n\n").unwrap().0.trim_end());
}

#[test]
fn table_colours_only_when_asked() {
    let report = sample();
    let plain = render(Format::Table, &report, &opts());
    assert!(!plain.contains('\x1b'));
    let coloured = render(Format::Table, &report, &RenderOptions { color: true, ..opts() });
    assert!(coloured.contains("\x1b[1;31mCRITICAL"), "{coloured:?}");
    assert!(coloured.contains("\x1b[31mHIGH"), "{coloured:?}");
    assert!(coloured.contains("\x1b[33mMEDIUM"), "{coloured:?}");
    // Same text once the escape codes are removed.
    let mut stripped = String::new();
    let mut rest = coloured.as_str();
    while let Some(i) = rest.find('\x1b') {
        stripped.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find('m').unwrap();
        rest = &rest[end + 1..];
    }
    stripped.push_str(rest);
    assert_eq!(stripped, plain);
}

#[test]
fn json_snapshot_and_schema() {
    let out = render(Format::Json, &sample(), &opts());
    validate_json(&out);
    insta::assert_snapshot!("json", out);
}

#[test]
fn schemas_reject_broken_documents() {
    let schema: Value = serde_json::from_str(kguard_report::json::JSON_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut doc: Value = serde_json::from_str(&render(Format::Json, &sample(), &opts())).unwrap();
    assert!(validator.is_valid(&doc));
    doc["findings"][0]["severity"] = "severe".into();
    assert!(!validator.is_valid(&doc));
    doc["findings"][0].as_object_mut().unwrap().remove("severity");
    assert!(!validator.is_valid(&doc));

    let schema: Value = serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut log: Value = serde_json::from_str(&render(Format::Sarif, &sample(), &opts())).unwrap();
    assert!(validator.is_valid(&log));
    log["runs"][0]["results"][0]["level"] = "critical".into();
    assert!(!validator.is_valid(&log));
}

#[test]
fn sarif_snapshot_and_schema() {
    let out = render(Format::Sarif, &sample(), &opts());
    validate_sarif(&out);
    insta::assert_snapshot!("sarif", out);
}

#[test]
fn junit_snapshot_and_well_formed() {
    let out = render(Format::Junit, &sample(), &opts());
    let elements = parse_xml(&out);
    let root = &elements[0];
    assert_eq!(root.0, "testsuites");
    assert_eq!(attr(root, "failures"), "4");
    assert_eq!(attr(root, "errors"), "2");
    let failures = elements.iter().filter(|e| e.0 == "failure").count();
    assert_eq!(failures, 4);
    let testcases = elements.iter().filter(|e| e.0 == "testcase").count();
    assert_eq!(attr(root, "tests"), testcases.to_string());
    insta::assert_snapshot!("junit", out);
}

// ---------------------------------------------------------------- SARIF details

#[test]
fn sarif_rules_results_and_notifications() {
    let report = sample();
    let log: Value = serde_json::from_str(&render(Format::Sarif, &report, &opts())).unwrap();
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "kguard");
    assert_eq!(driver["version"], "1.2.3-test");
    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), RULES.len());
    let by_sev = |id: &str| rules.iter().find(|r| r["id"] == id).unwrap()["properties"]["security-severity"].clone();
    assert_eq!(by_sev("PSS001"), "9.5");
    assert_eq!(by_sev("PSS003"), "8.0");
    assert_eq!(by_sev("PSS012"), "5.5");
    assert_eq!(by_sev("PSS014"), "3.0");
    assert!(rules[3].get("helpUri").is_none(), "no references, no helpUri");
    assert_eq!(rules[1]["helpUri"], RULES[1].references[0]);

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for r in results {
        let index = usize::try_from(r["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], r["ruleId"]);
    }
    let levels: Vec<&str> = results.iter().map(|r| r["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["error", "error", "warning", "note"]);
    let first = &results[0]["locations"][0];
    assert_eq!(first["physicalLocation"]["artifactLocation"]["uri"], "deploy/web.yaml");
    assert_eq!(first["physicalLocation"]["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(first["physicalLocation"]["region"]["startLine"], 8);
    assert_eq!(first["physicalLocation"]["region"]["startColumn"], 7);
    assert_eq!(first["logicalLocations"][0]["fullyQualifiedName"], "Deployment/prod/web");
    // The finding without a location still names its object.
    let last = &results[3]["locations"][0];
    assert!(last.get("physicalLocation").is_none());
    assert_eq!(last["logicalLocations"][0]["fullyQualifiedName"], "Pod/default/tmp");

    let notes = run["invocations"][0]["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 3, "the note is left out without --verbose");
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
    let verbose: Value =
        serde_json::from_str(&render(Format::Sarif, &report, &RenderOptions { verbose: true, ..opts() })).unwrap();
    assert_eq!(verbose["runs"][0]["invocations"][0]["toolExecutionNotifications"].as_array().unwrap().len(), 4);
}

fn fingerprints(report: &Report) -> Vec<String> {
    let log: Value = serde_json::from_str(&render(Format::Sarif, report, &opts())).unwrap();
    log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["partialFingerprints"]["kguard/v1"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn sarif_fingerprints_are_stable_and_distinct() {
    let report = sample();
    let before = fingerprints(&report);
    assert_eq!(before, fingerprints(&report), "same input, same fingerprints");
    let unique: std::collections::HashSet<&String> = before.iter().collect();
    assert_eq!(unique.len(), before.len(), "{before:?}");

    // Lines moving (an edit above the object) keep the identity.
    let mut moved = report.clone();
    for f in &mut moved.findings {
        if let Some(l) = &mut f.location {
            l.pos = l.pos.map(|p| Pos::new(p.line + 10, p.column));
        }
    }
    assert_eq!(fingerprints(&moved), before);

    // Another container is another alert.
    let mut other = report.clone();
    other.findings[1].container = Some("sidecar".into());
    assert_ne!(fingerprints(&other)[1], before[1]);

    // Two identical findings get distinct occurrence numbers.
    let mut dup = report;
    dup.findings.push(dup.findings[0].clone());
    let fps = fingerprints(&dup);
    assert_eq!(fps[0].split_once(':').unwrap().0, fps[4].split_once(':').unwrap().0);
    assert_ne!(fps[0], fps[4]);
}

#[test]
fn sarif_describes_rules_the_report_does_not_know() {
    let mut report = sample();
    report.rules.truncate(1);
    let out = render(Format::Sarif, &report, &opts());
    validate_sarif(&out);
    let log: Value = serde_json::from_str(&out).unwrap();
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 4);
    for r in run["results"].as_array().unwrap() {
        let index = usize::try_from(r["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], r["ruleId"]);
    }
}

// ---------------------------------------------------------------- JSON details

#[test]
fn json_fields() {
    let doc: Value = serde_json::from_str(&render(Format::Json, &sample(), &opts())).unwrap();
    assert_eq!(doc["schemaVersion"], "kguard.report/v1");
    assert_eq!(doc["tool"]["version"], "1.2.3-test");
    assert_eq!(doc["summary"]["findings"], 4);
    assert_eq!(doc["summary"]["bySeverity"]["critical"], 1);
    assert_eq!(doc["summary"]["errors"], 2);
    assert_eq!(doc["summary"]["notes"], 0);
    let f = &doc["findings"][1];
    assert_eq!(f["ruleName"], "privileged");
    assert_eq!(f["object"]["apiVersion"], "apps/v1");
    assert_eq!(f["location"]["line"], 21);
    assert_eq!(doc["findings"][3]["location"], Value::Null);
    assert_eq!(doc["findings"][2]["object"]["namespace"], Value::Null);
    let whole_file = doc["diagnostics"].as_array().unwrap().iter().find(|d| d["code"] == "not-utf8").unwrap();
    assert_eq!(whole_file["location"]["line"], Value::Null);
}

// ---------------------------------------------------------------- edge cases

#[test]
fn empty_report_in_every_format() {
    let report = Report::default();
    for format in Format::ALL {
        let out = render(format, &report, &opts());
        match format {
            Format::Table => assert_eq!(out, "Scanned 0 objects in 0 files: no findings\n"),
            Format::Json => validate_json(&out),
            Format::Sarif => validate_sarif(&out),
            Format::Junit => {
                let elements = parse_xml(&out);
                assert_eq!(attr(&elements[0], "tests"), "0");
            }
            Format::Html => {
                assert!(out.starts_with("<!DOCTYPE html>") && out.trim_end().ends_with("</html>"));
                assert!(out.contains("<p class=\"none\">No findings.</p>"), "{out}");
            }
            Format::Markdown => assert!(out.contains("Scanned 0 objects in 0 files: no findings"), "{out}"),
        }
    }
    let quiet = render(Format::Table, &report, &RenderOptions { quiet: true, ..opts() });
    assert_eq!(quiet, "");
}

#[test]
fn empty_report_with_rules_passes_every_rule_in_junit() {
    let report = Report { rules: RULES.to_vec(), ..Report::default() };
    let elements = parse_xml(&render(Format::Junit, &report, &opts()));
    let suites: Vec<_> = elements.iter().filter(|e| e.0 == "testsuite").collect();
    assert_eq!(suites.len(), RULES.len());
    assert!(suites.iter().all(|s| attr(s, "failures") == "0"));
    assert!(!elements.iter().any(|e| e.0 == "failure"));
}

/// Text from manifests is hostile: quotes, newlines, markup characters, terminal escapes.
fn nasty() -> Report {
    let message = "bad \"quoted\" 'value' <tag> & </testsuite>]]>\nsecond line\ttab \u{1b}[31mred\u{1b}[0m \u{0}";
    let mut report = sample();
    let f = &mut report.findings[1];
    f.message = message.into();
    f.container = Some("app\"<&>".into());
    f.object = Some(obj("apps/v1", "Deployment", Some("prod"), "we\"b<&>\n"));
    f.location = Some(loc("deploy/my app/ünï \"cödé\".yaml", 21, 13));
    f.remediation = Some("set <privileged>: false & \"restart\"".into());
    report.diagnostics.push(Diagnostic::error("yaml-syntax", loc("a&b<c>.yaml", 1, 1), "found \"<\" & '>'\nhere"));
    report
}

#[test]
fn hostile_text_stays_valid_in_every_format() {
    let report = nasty();
    let message = report.findings[1].message.clone();

    let json = render(Format::Json, &report, &opts());
    validate_json(&json);
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["findings"][1]["message"], message.as_str());

    let sarif = render(Format::Sarif, &report, &opts());
    validate_sarif(&sarif);
    let log: Value = serde_json::from_str(&sarif).unwrap();
    let result = &log["runs"][0]["results"][1];
    assert_eq!(result["message"]["text"], message.as_str());
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "deploy/my%20app/%C3%BCn%C3%AF%20%22c%C3%B6d%C3%A9%22.yaml"
    );

    let junit = render(Format::Junit, &report, &opts());
    let elements = parse_xml(&junit);
    let failure = elements.iter().filter(|e| e.0 == "failure").find(|e| attr(e, "message").contains("quoted")).unwrap();
    // Attributes round-trip, except the NUL and ESC characters XML 1.0 cannot carry.
    let expected = message.replace('\u{1b}', "\\u{1b}").replace('\u{0}', "\\u{0}");
    assert_eq!(attr(failure, "message"), expected);
    assert!(!junit.contains('\u{1b}') && !junit.contains('\u{0}'));

    let table = render(Format::Table, &report, &opts());
    assert!(!table.contains('\u{1b}') && !table.contains('\u{0}'), "{table:?}");
    let line = table.lines().find(|l| l.contains("PSS003")).unwrap();
    assert!(
        line.contains("bad \"quoted\" 'value' <tag> & </testsuite>]]>\\nsecond line\\ttab \\u{1b}[31mred"),
        "{line}"
    );
    assert!(line.ends_with("[container: app\"<&>]  [also: KG001]"), "{line}");
    assert!(table.contains("  Deployment/prod/we\"b<&>\\n\n"), "{table}");
    assert!(table.contains("a&b<c>.yaml:1:1: error: found \"<\" & '>'\\nhere [yaml-syntax]"), "{table}");

    let html = render(Format::Html, &report, &opts());
    assert!(!html.contains("<tag>") && !html.contains("</testsuite>") && !html.contains('\u{1b}'), "{html}");
    assert!(html.contains("bad &quot;quoted&quot; &#39;value&#39; &lt;tag&gt; &amp; &lt;/testsuite&gt;"), "{html}");
    assert!(html.contains("data-object=\"Deployment/prod/we&quot;b&lt;&amp;&gt;"), "{html}");
    assert_eq!(html.matches("<script>").count(), 1);
    assert_eq!(html.matches("<tr class=\"sev-").count(), report.findings.len());

    let md = render(Format::Markdown, &report, &opts());
    assert!(!md.contains("<tag>") && !md.contains('\u{1b}'), "{md}");
    let row = md.lines().find(|l| l.contains("PSS003")).unwrap();
    assert!(row.contains("&lt;tag&gt; &amp; &lt;/testsuite&gt;\\]\\]&gt; second line"), "{row}");
    assert_eq!(row.matches(" | ").count(), 3, "one row, four cells: {row}");
}

#[test]
fn markdown_stays_under_githubs_comment_limit() {
    let mut report = sample();
    let template = report.findings[0].clone();
    report.findings = (0..5000)
        .map(|i| {
            let mut f = template.clone();
            f.message = format!("finding number {i} with a message long enough to fill the comment quickly");
            f
        })
        .collect();
    let md = render(Format::Markdown, &report, &opts());
    assert!(md.len() < 65_536, "{}", md.len());
    assert!(
        md.contains("more, not listed to keep this comment under GitHub's size limit"),
        "{}",
        &md[md.len() - 400..]
    );
}

#[test]
fn render_dispatches_to_each_renderer() {
    let report = sample();
    let o = opts();
    let direct = |f: fn(&Report, &mut dyn std::io::Write, &RenderOptions) -> std::io::Result<()>| {
        let mut out = Vec::new();
        f(&report, &mut out, &o).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(render(Format::Table, &report, &o), direct(kguard_report::table::render));
    assert_eq!(render(Format::Json, &report, &o), direct(kguard_report::json::render));
    assert_eq!(render(Format::Sarif, &report, &o), direct(kguard_report::sarif::render));
    assert_eq!(render(Format::Junit, &report, &o), direct(kguard_report::junit::render));
    assert_eq!(render(Format::Html, &report, &o), direct(kguard_report::html::render));
    assert_eq!(render(Format::Markdown, &report, &o), direct(kguard_report::markdown::render));
}

#[test]
fn suppressed_findings_carry_their_reason_in_json_and_sarif() {
    let mut report = sample();
    let finding = report.findings.remove(1);
    report.suppressed.push(kguard_report::Suppressed {
        finding,
        kind: kguard_report::SuppressionKind::External,
        justification: "baseline .kguard-baseline.json".into(),
    });
    report.summary.suppressed = 1;
    let json = render(Format::Json, &report, &opts());
    validate_json(&json);
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["summary"]["suppressed"], 1);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 3);
    assert_eq!(doc["suppressed"][0]["finding"]["ruleId"], "PSS003");
    assert_eq!(doc["suppressed"][0]["suppression"]["kind"], "external");
    let sarif = render(Format::Sarif, &report, &opts());
    validate_sarif(&sarif);
    let log: Value = serde_json::from_str(&sarif).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let s = &results[3]["suppressions"][0];
    assert_eq!(
        (s["kind"].as_str(), s["justification"].as_str()),
        (Some("external"), Some("baseline .kguard-baseline.json"))
    );
    assert!(results[..3].iter().all(|r| r.get("suppressions").is_none()));
    // The table counts them.
    assert!(render(Format::Table, &report, &opts()).contains(", 1 suppressed"));
}

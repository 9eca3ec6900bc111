//! JUnit XML, for CI systems that show test reports (GitLab, Jenkins, Azure Pipelines, ...).
//!
//! * One `<testsuite>` per rule (named `ID name`): every rule of [`Report::rules`], then any rule
//!   a finding names that the report does not describe.
//! * In it, one `<testcase>` per object × rule (`name` = `Kind/namespace/name`, `classname` =
//!   the file), with one `<failure>` per finding (`type` = severity, `message` = the message,
//!   the body says where, which container and field, and how to fix it). A rule without findings
//!   gets one passing test case, `all scanned objects`.
//! * A last suite, `kguard input`, holds the diagnostics: an error is an `<error>`; warnings (and
//!   notes, when verbose) are passing test cases whose `<system-out>` carries the text, so they
//!   are visible without failing the build.
//!
//! All text is XML-escaped; characters XML 1.0 cannot carry (control characters other than tab,
//! newline and carriage return) are written as `\u{..}`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use kguard_model::{Diagnostic, DiagnosticLevel, ObjectRef};

use crate::{Finding, RenderOptions, Report, TOOL_NAME};

/// Renders `report` as a JUnit XML document.
///
/// # Errors
/// Whatever writing to `out` returns.
pub fn render(report: &Report, out: &mut dyn Write, opts: &RenderOptions) -> io::Result<()> {
    let mut suites: Vec<Suite<'_>> = report
        .rules
        .iter()
        .map(|r| Suite { name: format!("{} {}", r.id, r.name), rule_id: r.id, cases: Vec::new() })
        .collect();
    // Suites and cases are found through hash indexes, so the grouping is linear in the findings.
    let mut suite_index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in suites.iter().enumerate() {
        suite_index.entry(s.rule_id).or_insert(i);
    }
    let mut case_index: HashMap<(usize, Option<&str>, Option<&ObjectRef>), usize> = HashMap::new();
    for f in &report.findings {
        let si = *suite_index.entry(&f.rule_id).or_insert_with(|| {
            suites.push(Suite { name: f.rule_id.clone(), rule_id: &f.rule_id, cases: Vec::new() });
            suites.len() - 1
        });
        let Some(suite) = suites.get_mut(si) else { continue };
        let file = f.location.as_ref().map(|l| &*l.file);
        let object = f.object.as_deref();
        let ci = *case_index.entry((si, file, object)).or_insert_with(|| {
            suite.cases.push(Case { file, object, findings: Vec::new() });
            suite.cases.len() - 1
        });
        if let Some(case) = suite.cases.get_mut(ci) {
            case.findings.push(f);
        }
    }
    let diagnostics: Vec<&Diagnostic> = report.shown_diagnostics(opts.verbose).collect();

    let tests: usize = suites.iter().map(|s| s.cases.len().max(1)).sum::<usize>() + diagnostics.len();
    let failures = report.findings.len();
    let errors = diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error).count();

    // Written as it goes, never held whole (a file of pods gives tens of megabytes of XML).
    let xml = out;
    xml.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
    writeln!(
        xml,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">",
        attr(&format!("{TOOL_NAME} {}", opts.tool_version))
    )?;
    for suite in &suites {
        write_suite(xml, suite)?;
    }
    if !diagnostics.is_empty() {
        write_diagnostics(xml, &diagnostics)?;
    }
    xml.write_all(b"</testsuites>\n")
}

struct Suite<'a> {
    name: String,
    rule_id: &'a str,
    cases: Vec<Case<'a>>,
}

struct Case<'a> {
    file: Option<&'a str>,
    object: Option<&'a ObjectRef>,
    findings: Vec<&'a Finding>,
}

fn write_suite(xml: &mut dyn Write, suite: &Suite<'_>) -> io::Result<()> {
    let failures: usize = suite.cases.iter().map(|c| c.findings.len()).sum();
    let tests = suite.cases.len().max(1);
    writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        attr(&suite.name)
    )?;
    if suite.cases.is_empty() {
        writeln!(xml, "    <testcase name=\"all scanned objects\" classname=\"{TOOL_NAME}\"/>")?;
    }
    for case in &suite.cases {
        let name = case.object.map_or_else(|| "(no object)".to_owned(), ToString::to_string);
        let classname = case.file.unwrap_or("(no location)");
        writeln!(xml, "    <testcase name=\"{}\" classname=\"{}\">", attr(&name), attr(classname))?;
        for f in &case.findings {
            writeln!(
                xml,
                "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                attr(&f.message),
                f.severity.as_str(),
                text(&failure_body(f))
            )?;
        }
        xml.write_all(b"    </testcase>\n")?;
    }
    xml.write_all(b"  </testsuite>\n")
}

fn failure_body(f: &Finding) -> String {
    let mut body = String::new();
    if let Some(l) = &f.location {
        let _ = writeln!(body, "{l}");
    }
    let _ = writeln!(body, "{} ({}): {}", f.rule_id, f.severity, f.title);
    let _ = writeln!(body, "{}", f.message);
    if !f.merged.is_empty() {
        let _ = writeln!(body, "also: {}", f.merged.join(", "));
    }
    if let Some(c) = &f.container {
        let _ = writeln!(body, "container: {c}");
    }
    if let Some(p) = &f.pointer {
        let _ = writeln!(body, "field: {p}");
    }
    if let Some(fix) = &f.remediation {
        let _ = writeln!(body, "fix: {fix}");
    }
    for link in f.references {
        let _ = writeln!(body, "see: {link}");
    }
    body
}

fn write_diagnostics(xml: &mut dyn Write, diagnostics: &[&Diagnostic]) -> io::Result<()> {
    let errors = diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error).count();
    writeln!(
        xml,
        "  <testsuite name=\"{TOOL_NAME} input\" tests=\"{}\" failures=\"0\" errors=\"{errors}\" skipped=\"0\">",
        diagnostics.len()
    )?;
    for d in diagnostics {
        let name = format!("{} ({})", d.code, d.location);
        write!(xml, "    <testcase name=\"{}\" classname=\"{}\">", attr(&name), attr(&d.location.file))?;
        if d.level == DiagnosticLevel::Error {
            write!(
                xml,
                "<error message=\"{}\" type=\"{}\">{}</error>",
                attr(&d.message),
                attr(d.code),
                text(&d.to_string())
            )?;
        } else {
            write!(xml, "<system-out>{}</system-out>", text(&d.to_string()))?;
        }
        xml.write_all(b"</testcase>\n")?;
    }
    xml.write_all(b"  </testsuite>\n")
}

/// Escapes text content.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Escapes an attribute value (also newlines and tabs, which attribute normalisation would
/// otherwise turn into spaces).
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(attr("a<b>&\"c'\nd\te"), "a&lt;b&gt;&amp;&quot;c&apos;&#10;d&#9;e");
        assert_eq!(text("a<b>&\"c'\nd"), "a&lt;b&gt;&amp;\"c'\nd");
        assert_eq!(text("x\u{1b}[0m\u{0}"), "x\\u{1b}[0m\\u{0}");
    }
}

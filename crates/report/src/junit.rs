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
    for f in &report.findings {
        let suite = match suites.iter().position(|s| s.rule_id == f.rule_id) {
            Some(i) => suites.get_mut(i),
            None => {
                suites.push(Suite { name: f.rule_id.clone(), rule_id: &f.rule_id, cases: Vec::new() });
                suites.last_mut()
            }
        };
        let Some(suite) = suite else { continue };
        let file = f.location.as_ref().map(|l| &*l.file);
        let object = f.object.as_ref();
        match suite.cases.iter_mut().find(|c| c.file == file && c.object == object) {
            Some(case) => case.findings.push(f),
            None => suite.cases.push(Case { file, object, findings: vec![f] }),
        }
    }
    let diagnostics: Vec<&Diagnostic> = report.shown_diagnostics(opts.verbose).collect();

    let tests: usize = suites.iter().map(|s| s.cases.len().max(1)).sum::<usize>() + diagnostics.len();
    let failures = report.findings.len();
    let errors = diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error).count();

    let mut xml = String::new();
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">",
        attr(&format!("{TOOL_NAME} {}", opts.tool_version))
    );
    for suite in &suites {
        write_suite(&mut xml, suite);
    }
    if !diagnostics.is_empty() {
        write_diagnostics(&mut xml, &diagnostics);
    }
    xml.push_str("</testsuites>\n");
    out.write_all(xml.as_bytes())
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

fn write_suite(xml: &mut String, suite: &Suite<'_>) {
    let failures: usize = suite.cases.iter().map(|c| c.findings.len()).sum();
    let tests = suite.cases.len().max(1);
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        attr(&suite.name)
    );
    if suite.cases.is_empty() {
        let _ = writeln!(xml, "    <testcase name=\"all scanned objects\" classname=\"{TOOL_NAME}\"/>");
    }
    for case in &suite.cases {
        let name = case.object.map_or_else(|| "(no object)".to_owned(), ToString::to_string);
        let classname = case.file.unwrap_or("(no location)");
        let _ = writeln!(xml, "    <testcase name=\"{}\" classname=\"{}\">", attr(&name), attr(classname));
        for f in &case.findings {
            let _ = writeln!(
                xml,
                "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                attr(&f.message),
                f.severity.as_str(),
                text(&failure_body(f))
            );
        }
        xml.push_str("    </testcase>\n");
    }
    xml.push_str("  </testsuite>\n");
}

fn failure_body(f: &Finding) -> String {
    let mut body = String::new();
    if let Some(l) = &f.location {
        let _ = writeln!(body, "{l}");
    }
    let _ = writeln!(body, "{} ({}): {}", f.rule_id, f.severity, f.title);
    let _ = writeln!(body, "{}", f.message);
    if let Some(c) = &f.container {
        let _ = writeln!(body, "container: {c}");
    }
    if let Some(p) = &f.pointer {
        let _ = writeln!(body, "field: {p}");
    }
    if let Some(fix) = &f.remediation {
        let _ = writeln!(body, "fix: {fix}");
    }
    for link in &f.references {
        let _ = writeln!(body, "see: {link}");
    }
    body
}

fn write_diagnostics(xml: &mut String, diagnostics: &[&Diagnostic]) {
    let errors = diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error).count();
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{TOOL_NAME} input\" tests=\"{}\" failures=\"0\" errors=\"{errors}\" skipped=\"0\">",
        diagnostics.len()
    );
    for d in diagnostics {
        let name = format!("{} ({})", d.code, d.location);
        let _ = write!(xml, "    <testcase name=\"{}\" classname=\"{}\">", attr(&name), attr(&d.location.file));
        if d.level == DiagnosticLevel::Error {
            let _ = write!(
                xml,
                "<error message=\"{}\" type=\"{}\">{}</error>",
                attr(&d.message),
                attr(d.code),
                text(&d.to_string())
            );
        } else {
            let _ = write!(xml, "<system-out>{}</system-out>", text(&d.to_string()));
        }
        xml.push_str("</testcase>\n");
    }
    xml.push_str("  </testsuite>\n");
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

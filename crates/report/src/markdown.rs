//! Markdown for a pull-request comment (GitHub-flavoured: tables, `<details>`): the summary, then
//! findings grouped by file and object, then the input problems and the rules that fired, each
//! with why and how to fix. Everything from the input is escaped, so a manifest cannot inject
//! markup, links or mentions into the comment.
//!
//! GitHub refuses comments over 65,536 characters; past [`MAX_BYTES`] the remaining findings are
//! counted instead of listed.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, Write};

use kguard_model::DiagnosticLevel;

use crate::text::plural;
use crate::{RenderOptions, Report, Severity, table};

/// Findings stop being listed once the comment reaches this size (GitHub's limit is 65,536
/// characters; the rest of the comment fits in what is left).
pub const MAX_BYTES: usize = 50_000;

/// Renders `report` as Markdown.
///
/// # Errors
/// Whatever writing to `out` returns.
pub fn render(report: &Report, out: &mut dyn Write, opts: &RenderOptions) -> io::Result<()> {
    out.write_all(to_string(report, opts).as_bytes())
}

fn to_string(report: &Report, opts: &RenderOptions) -> String {
    let mut md = String::new();
    let total = report.findings.len();
    let _ = writeln!(md, "## kguard scan\n");
    let _ = writeln!(md, "{}\n", escape(&table::summary(report, &RenderOptions { color: false, ..opts.clone() })));
    if total > 0 {
        md.push_str("| Severity | Findings |\n|---|---:|\n");
        for sev in Severity::ALL.iter().rev() {
            let n = report.count(*sev);
            if n > 0 {
                let _ = writeln!(md, "| {} {} | {n} |", badge(*sev), sev.as_str());
            }
        }
        md.push('\n');
    }
    let mut listed = 0;
    'files: for file in table::group(&report.findings) {
        let name = file.name.map_or_else(|| "(no location)".to_owned(), code);
        let _ = writeln!(md, "### {name}\n");
        for object in &file.objects {
            let obj = object.object.map_or_else(|| "(no object)".to_owned(), |o| code(&o.to_string()));
            let _ = writeln!(md, "**{obj}**\n\n| Line | Severity | Rule | Finding |\n|---:|---|---|---|");
            for f in &object.findings {
                if md.len() > MAX_BYTES {
                    md.push('\n');
                    break 'files;
                }
                let line = f.location.as_ref().and_then(|l| l.pos).map_or_else(|| "-".to_owned(), |p| p.to_string());
                let container = f.container.as_deref().map(|c| format!(" (container {})", code(c))).unwrap_or_default();
                let _ = writeln!(
                    md,
                    "| {line} | {} {} | {} | {}{container} |",
                    badge(f.severity),
                    f.severity.as_str(),
                    escape(&f.rule_id),
                    escape(&f.message)
                );
                listed += 1;
            }
            md.push('\n');
        }
    }
    if listed < total {
        let _ = writeln!(
            md,
            "_… and {} more, not listed to keep this comment under GitHub's size limit; \
             `kguard scan -o sarif` or `-o html` has them all._\n",
            plural(total - listed, "finding", "findings")
        );
    }
    let diagnostics: Vec<_> = report.shown_diagnostics(opts.verbose).collect();
    if !diagnostics.is_empty() {
        let errors = diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error).count();
        let _ = writeln!(
            md,
            "<details><summary>Input problems: {}, {}</summary>\n",
            plural(errors, "error", "errors"),
            plural(diagnostics.len() - errors, "other", "others")
        );
        for d in diagnostics {
            let _ = writeln!(md, "- {} {}: {}", code(&d.location.to_string()), d.level, escape(&d.message));
        }
        md.push_str("\n</details>\n\n");
    }
    let fired: BTreeSet<&str> = report.findings.iter().map(|f| f.rule_id.as_str()).collect();
    let rules: Vec<_> = report.rules.iter().filter(|r| fired.contains(r.id)).collect();
    if !rules.is_empty() {
        md.push_str("<details><summary>Rules</summary>\n\n");
        for r in rules {
            let _ = writeln!(md, "**{}** {} — {}\n", r.id, r.name, escape(r.title));
            let _ = writeln!(md, "- Why: {}", escape(&one_line(r.why)));
            let _ = writeln!(md, "- Fix: {}\n", escape(&one_line(r.fix)));
        }
        md.push_str("</details>\n");
    }
    md
}

const fn badge(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "🟥",
        Severity::High => "🟧",
        Severity::Medium => "🟨",
        Severity::Low => "🟦",
        Severity::Info => "⬜",
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text from the input as inline code: backticks cannot be escaped inside a code span, so they
/// become `'`; pipes would end a table cell.
fn code(s: &str) -> String {
    let inner: String = s
        .chars()
        .map(|c| {
            if c == '`' {
                '\''
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect::<String>();
    format!("`{}`", inner.replace('|', "\\|"))
}

/// Text from the input as Markdown text: every character Markdown or GitHub gives a meaning is
/// escaped (emphasis, links, HTML, tables, strike-through, @mentions, #references), and
/// line breaks become spaces.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' | '@' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_text_cannot_inject_markup() {
        let e = escape("<img src=x onerror=alert(1)> [link](http://x) @team | *b* \n# h");
        assert!(!e.contains('<') && !e.contains("[link](") && !e.contains('\n'), "{e}");
        assert!(e.contains("\\@team") && e.contains("\\|") && e.contains("\\*b\\*"), "{e}");
        assert_eq!(code("a`b|c\nd"), "`a'b\\|c d`");
    }
}

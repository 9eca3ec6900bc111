//! Findings and how they are shown.
//!
//! * the one [`Finding`] type every engine produces, [`Severity`], and [`RuleMeta`]
//!   (what a renderer needs to know about a rule).
//! * One renderer per output format: [`table`] (people), [`json`] (kguard's own versioned
//!   shape, `docs/report-json.md`), [`sarif`] (SARIF 2.1.0, GitHub code scanning), [`junit`]
//!   (CI test reports). [`render`] picks one by [`Format`].
//!
//! Renderers write to any `std::io::Write`; they never open files themselves. Their output
//! depends only on the [`Report`] and the [`RenderOptions`] (no clock, no environment, no
//! absolute paths of their own), so it can be pinned by snapshot tests.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

mod finding;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod select;
pub mod source;
pub mod table;
mod text;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

pub use finding::{Finding, Report, RuleMeta, Severity, Shared, Summary, Suppressed, SuppressionKind};
pub use source::{Counts, FindingSource};

/// The tool name written into machine-readable reports.
pub const TOOL_NAME: &str = "kguard";

/// Where to read about the tool (SARIF `informationUri`, JSON `tool.informationUri`).
pub const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");

/// Options shared by every renderer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// Use ANSI colours (table only; machine formats never contain escape codes).
    pub color: bool,
    /// Also show `Note` diagnostics (every format); without it notes are left out.
    pub verbose: bool,
    /// Leave out the summary line (table only).
    pub quiet: bool,
    /// The tool version written into the report (e.g. `env!("CARGO_PKG_VERSION")` of the binary).
    pub tool_version: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { color: false, verbose: false, quiet: false, tool_version: env!("CARGO_PKG_VERSION").to_owned() }
    }
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Human-readable, grouped by file and object ([`table`]).
    #[default]
    Table,
    /// kguard's versioned JSON report ([`json`], `docs/report-json.md`).
    Json,
    /// SARIF 2.1.0 ([`sarif`]).
    Sarif,
    /// JUnit XML ([`junit`]).
    Junit,
    /// One self-contained HTML page ([`html`]).
    Html,
    /// Markdown for a pull-request comment ([`markdown`]).
    Markdown,
}

impl Format {
    /// Every format, in the order they are listed in help texts.
    pub const ALL: [Self; 6] = [Self::Table, Self::Json, Self::Sarif, Self::Junit, Self::Html, Self::Markdown];

    /// The name accepted by [`FromStr`] and printed by [`Display`](fmt::Display).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Json => "json",
            Self::Sarif => "sarif",
            Self::Junit => "junit",
            Self::Html => "html",
            Self::Markdown => "markdown",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    /// Parses a format name, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown format {s:?}; expected one of {}", names.join(", "))
        })
    }
}

/// Renders `report` in `format` to `out`.
///
/// # Errors
/// Whatever writing to `out` returns.
pub fn render(format: Format, report: &Report, out: &mut dyn Write, opts: &RenderOptions) -> io::Result<()> {
    match format {
        Format::Junit => junit::render(report, out, opts),
        Format::Html => html::render(report, out, opts),
        Format::Markdown => markdown::render(report, out, opts),
        Format::Table => table::render(report, out, opts),
        Format::Json => json::render(report, out, opts),
        Format::Sarif => sarif::render(report, out, opts),
    }
}

/// Renders `report` in `format` to `out`, with the findings read from `findings` instead of
/// [`Report::findings`] (which is then ignored): what `kguard scan` does with findings it keeps on
/// disk. Table, JSON and SARIF read the source in passes and hold one finding at a time; JUnit,
/// HTML and Markdown collect it first ([`source::collect`]).
///
/// # Errors
/// Whatever writing to `out`, or reading the findings, returns.
pub fn render_source(
    format: Format,
    report: &Report,
    findings: &dyn FindingSource,
    out: &mut dyn Write,
    opts: &RenderOptions,
) -> io::Result<()> {
    match format {
        Format::Table => table::render_source(report, findings, out, opts),
        Format::Json => json::render_source(report, findings, out, opts),
        Format::Sarif => sarif::render_source(report, findings, out, opts),
        Format::Junit | Format::Html | Format::Markdown => {
            let whole = Report { findings: source::collect(findings)?, ..report.clone() };
            render(format, &whole, out, opts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.to_string().parse::<Format>(), Ok(f));
            assert_eq!(f.as_str().to_uppercase().parse::<Format>(), Ok(f));
        }
        let err = "xml".parse::<Format>().unwrap_err();
        assert!(err.contains("table, json, sarif, junit"), "{err}");
    }
}

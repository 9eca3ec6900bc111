//! kguard's own JSON report, schema version [`SCHEMA_VERSION`].
//!
//! The shape is documented in `docs/report-json.md` and pinned by the JSON Schema
//! `crates/report/schema/report-v1.schema.json` (also available as [`JSON_SCHEMA`]); tests
//! validate rendered output against it. Absent values are written as `null`, never left out,
//! so every key is always present. Within `v1` fields may be added but never renamed, removed
//! or retyped; anything else bumps the version.

use std::io::{self, Write};

use kguard_model::{Diagnostic, DiagnosticLevel, Location, ObjectRef};
use serde::Serialize;

use crate::{Finding, FindingSource, INFORMATION_URI, RenderOptions, Report, Severity, TOOL_NAME};

/// The value of the top-level `schemaVersion` key.
pub const SCHEMA_VERSION: &str = "kguard.report/v1";

/// The JSON Schema (draft 2020-12) of this format.
pub const JSON_SCHEMA: &str = include_str!("../schema/report-v1.schema.json");

/// Renders `report` as pretty-printed JSON followed by a newline.
///
/// # Errors
/// Whatever writing to `out` returns.
pub fn render(report: &Report, out: &mut dyn Write, opts: &RenderOptions) -> io::Result<()> {
    render_source(report, &report.findings, out, opts)
}

/// Renders `report` with the findings of `findings` (read once, as they are written).
///
/// # Errors
/// Whatever writing to `out`, or reading the findings, returns.
pub fn render_source(
    report: &Report,
    findings: &dyn FindingSource,
    out: &mut dyn Write,
    opts: &RenderOptions,
) -> io::Result<()> {
    let doc = JsonReport::new(report, findings, opts);
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
    writeln!(out)
}

/// The top-level object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    schema_version: &'static str,
    tool: Tool<'a>,
    summary: JsonSummary<'a>,
    findings: JsonFindings<'a>,
    diagnostics: Vec<JsonDiagnostic<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressed: Vec<JsonSuppressed<'a>>,
}

/// A suppressed finding: the finding's fields and why it was suppressed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSuppressed<'a> {
    finding: JsonFinding<'a>,
    suppression: JsonSuppression<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSuppression<'a> {
    kind: &'static str,
    justification: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tool<'a> {
    name: &'static str,
    version: &'a str,
    information_uri: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSummary<'a> {
    files: usize,
    documents: usize,
    objects: usize,
    scanned: usize,
    skipped: usize,
    not_kubernetes: usize,
    excluded: usize,
    chart_files: usize,
    /// Only when Dockerfiles were read (reports of manifests alone keep their shape).
    #[serde(skip_serializing_if = "is_zero")]
    dockerfiles: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a str>,
    findings: usize,
    suppressed: usize,
    by_severity: BySeverity,
    errors: usize,
    warnings: usize,
    notes: usize,
}

#[derive(Serialize)]
struct BySeverity {
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonFinding<'a> {
    rule_id: &'a str,
    rule_name: Option<&'static str>,
    severity: Severity,
    title: &'a str,
    message: &'a str,
    object: Option<JsonObject<'a>>,
    container: Option<&'a str>,
    pointer: Option<&'a str>,
    location: Option<JsonLocation<'a>>,
    remediation: Option<&'a str>,
    references: &'static [&'static str],
    merged_rules: &'a [&'static str],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonObject<'a> {
    api_version: &'a str,
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
}

#[derive(Serialize)]
struct JsonLocation<'a> {
    file: &'a str,
    line: Option<u32>,
    column: Option<u32>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    level: &'static str,
    code: &'static str,
    message: &'a str,
    location: JsonLocation<'a>,
}

impl<'a> JsonReport<'a> {
    fn new(report: &'a Report, findings: &'a dyn FindingSource, opts: &'a RenderOptions) -> Self {
        let s = &report.summary;
        let counts = findings.counts();
        let summary = JsonSummary {
            files: s.files,
            documents: s.documents,
            objects: s.objects,
            scanned: s.scanned,
            skipped: s.skipped,
            not_kubernetes: s.not_kubernetes,
            excluded: s.excluded,
            chart_files: s.chart_files,
            dockerfiles: s.dockerfiles,
            cluster: s.cluster.as_deref(),
            findings: counts.total,
            suppressed: s.suppressed,
            by_severity: BySeverity {
                critical: counts.of(Severity::Critical),
                high: counts.of(Severity::High),
                medium: counts.of(Severity::Medium),
                low: counts.of(Severity::Low),
                info: counts.of(Severity::Info),
            },
            errors: report.count_diagnostics(DiagnosticLevel::Error, opts.verbose),
            warnings: report.count_diagnostics(DiagnosticLevel::Warning, opts.verbose),
            notes: report.count_diagnostics(DiagnosticLevel::Note, opts.verbose),
        };
        Self {
            schema_version: SCHEMA_VERSION,
            tool: Tool { name: TOOL_NAME, version: &opts.tool_version, information_uri: INFORMATION_URI },
            summary,
            findings: JsonFindings { report, findings },
            diagnostics: report.shown_diagnostics(opts.verbose).map(JsonDiagnostic::new).collect(),
            suppressed: report
                .suppressed
                .iter()
                .map(|s| JsonSuppressed {
                    finding: JsonFinding::new(report, &s.finding),
                    suppression: JsonSuppression { kind: s.kind.as_str(), justification: &s.justification },
                })
                .collect(),
        }
    }
}

/// The findings, each converted as it is written (not collected first).
struct JsonFindings<'a> {
    report: &'a Report,
    findings: &'a dyn FindingSource,
}

impl Serialize for JsonFindings<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let mut seq = serializer.serialize_seq(Some(self.findings.counts().total))?;
        crate::source::serialize_each(self.findings, |f| seq.serialize_element(&JsonFinding::new(self.report, f)))?;
        seq.end()
    }
}

impl<'a> JsonFinding<'a> {
    fn new(report: &Report, f: &'a Finding) -> Self {
        Self {
            rule_id: &f.rule_id,
            rule_name: report.rule(&f.rule_id).map(|r| r.name),
            severity: f.severity,
            title: &f.title,
            message: &f.message,
            object: f.object.as_deref().map(JsonObject::new),
            container: f.container.as_deref(),
            pointer: f.pointer.as_deref(),
            location: f.location.as_ref().map(JsonLocation::new),
            remediation: f.remediation.as_deref(),
            references: f.references,
            merged_rules: &f.merged,
        }
    }
}

impl<'a> JsonObject<'a> {
    fn new(o: &'a ObjectRef) -> Self {
        Self { api_version: &o.api_version, kind: &o.kind, namespace: o.namespace.as_deref(), name: &o.name }
    }
}

impl<'a> JsonLocation<'a> {
    fn new(l: &'a Location) -> Self {
        Self { file: &l.file, line: l.pos.map(|p| p.line), column: l.pos.map(|p| p.column) }
    }
}

impl<'a> JsonDiagnostic<'a> {
    fn new(d: &'a Diagnostic) -> Self {
        Self { level: d.level.as_str(), code: d.code, message: &d.message, location: JsonLocation::new(&d.location) }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
const fn is_zero(n: &usize) -> bool {
    *n == 0
}

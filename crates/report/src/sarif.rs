//! SARIF 2.1.0, as GitHub code scanning and other SARIF viewers read it.
//!
//! One run, whose `tool.driver` (`kguard`) lists every rule of [`Report::rules`] (plus a minimal
//! descriptor for any rule a finding names that the report does not describe), so `ruleIndex`
//! is always valid. Each finding becomes a `result`:
//!
//! * `level`: critical and high → `error`, medium → `warning`, low and info → `note`; the
//!   rule's `properties.security-severity` (critical 9.5, high 8.0, medium 5.5, low 3.0, info
//!   1.0) is what GitHub uses to rank security alerts;
//! * `locations[0].physicalLocation`: the file as a relative URI with forward slashes against
//!   `%SRCROOT%` (absolute paths become `file://` URIs; stdin becomes `stdin`), and
//!   `region.startLine/startColumn` (columns in Unicode code points, `run.columnKind`);
//! * `locations[0].logicalLocations`: the Kubernetes object (`Kind/namespace/name`);
//! * `partialFingerprints["kguard/v1"]`: a hash of rule, file, object, container and field
//!   pointer (not the line, so it survives edits elsewhere in the file) and an occurrence
//!   number, so alerts keep their identity across runs.
//!
//! Diagnostics become `invocations[0].toolExecutionNotifications`. Validated against the
//! official OASIS schema (errata 01) in the tests.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use kguard_model::{Diagnostic, DiagnosticLevel, Location};
use serde::ser::{Error as _, Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value, json};

use crate::text::fnv1a64;
use crate::{Finding, FindingSource, INFORMATION_URI, RenderOptions, Report, RuleMeta, Severity, TOOL_NAME};

/// The `$schema` written into the log: the OASIS SARIF 2.1.0 schema (errata 01).
pub const SARIF_SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The `uriBaseId` relative file URIs are resolved against.
pub const SRCROOT: &str = "%SRCROOT%";

/// The key of the fingerprint in `result.partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "kguard/v1";

/// Renders `report` as a pretty-printed SARIF 2.1.0 log followed by a newline.
///
/// Written as it is serialised: each result is built, written and dropped in turn, so memory does
/// not grow with a JSON tree of the whole log (which took about 700 times the input for a file of
/// pods). The bytes are those of [`to_value`] pretty-printed.
///
/// # Errors
/// Whatever writing to `out` returns.
pub fn render(report: &Report, out: &mut dyn Write, opts: &RenderOptions) -> io::Result<()> {
    render_source(report, &report.findings, out, opts)
}

/// Renders `report` with the findings of `findings`, read twice: once for the rules they name,
/// once for the results.
///
/// # Errors
/// Whatever writing to `out`, or reading the findings, returns.
pub fn render_source(
    report: &Report,
    findings: &dyn FindingSource,
    out: &mut dyn Write,
    opts: &RenderOptions,
) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &Log { report, findings, opts }).map_err(io::Error::from)?;
    writeln!(out)
}

/// The SARIF log as a JSON value.
#[must_use]
pub fn to_value(report: &Report, opts: &RenderOptions) -> Value {
    serde_json::to_value(Log { report, findings: &report.findings, opts }).unwrap_or(Value::Null)
}

/// The log, serialised field by field in the order of the SARIF examples.
struct Log<'a> {
    report: &'a Report,
    findings: &'a dyn FindingSource,
    opts: &'a RenderOptions,
}

impl Serialize for Log<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("$schema", SARIF_SCHEMA_URI)?;
        map.serialize_entry("version", "2.1.0")?;
        map.serialize_entry("runs", &[Run { report: self.report, findings: self.findings, opts: self.opts }])?;
        map.end()
    }
}

struct Run<'a> {
    report: &'a Report,
    findings: &'a dyn FindingSource,
    opts: &'a RenderOptions,
}

impl Serialize for Run<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.report;
        let mut rules: Vec<Value> = report.rules.iter().map(rule_descriptor).collect();
        let mut rule_index: HashMap<String, usize> = HashMap::new();
        for (i, r) in report.rules.iter().enumerate() {
            rule_index.entry(r.id.to_owned()).or_insert(i);
        }
        // Rules named by findings but not described by the report: a minimal descriptor each.
        let mut describe = |f: &Finding| {
            if !rule_index.contains_key(f.rule_id.as_str()) {
                rule_index.insert(f.rule_id.clone(), rules.len());
                rules.push(minimal_descriptor(f));
            }
        };
        self.findings
            .for_each(&mut |f| {
                describe(f);
                Ok(())
            })
            .map_err(S::Error::custom)?;
        report.suppressed.iter().for_each(|s| describe(&s.finding));
        let notifications: Vec<Value> = report.shown_diagnostics(self.opts.verbose).map(notification).collect();
        let has_errors = report.diagnostics.iter().any(|d| d.level == DiagnosticLevel::Error);

        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry(
            "tool",
            &json!({
                "driver": {
                    "name": TOOL_NAME,
                    "version": self.opts.tool_version,
                    "informationUri": INFORMATION_URI,
                    "rules": rules,
                }
            }),
        )?;
        map.serialize_entry(
            "invocations",
            &json!([{
                "executionSuccessful": !has_errors,
                "toolExecutionNotifications": notifications,
            }]),
        )?;
        map.serialize_entry("columnKind", "unicodeCodePoints")?;
        map.serialize_entry(
            "results",
            &Results { findings: self.findings, suppressed: &report.suppressed, rule_index: &rule_index },
        )?;
        map.end()
    }
}

/// The results, built one at a time as they are written.
struct Results<'a> {
    findings: &'a dyn FindingSource,
    /// Suppressed findings: results with `suppressions` (code scanning shows them as dismissed).
    suppressed: &'a [crate::Suppressed],
    rule_index: &'a HashMap<String, usize>,
}

impl Serialize for Results<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.findings.counts().total + self.suppressed.len()))?;
        let mut occurrences: HashMap<u64, u32> = HashMap::new();
        let mut one = |f: &Finding, suppression: Option<&crate::Suppressed>| {
            let key = fingerprint_key(f);
            let n = occurrences.entry(key).or_insert(0);
            *n += 1;
            let mut r = result(f, self.rule_index.get(f.rule_id.as_str()).copied(), &format!("{key:016x}:{n}"));
            if let (Some(s), Some(obj)) = (suppression, r.as_object_mut()) {
                obj.insert(
                    "suppressions".to_owned(),
                    json!([{"kind": s.kind.as_str(), "status": "accepted", "justification": s.justification}]),
                );
            }
            seq.serialize_element(&r)
        };
        crate::source::serialize_each(self.findings, |f| one(f, None))?;
        for s in self.suppressed {
            one(&s.finding, Some(s))?;
        }
        seq.end()
    }
}

/// The SARIF `level` of a severity.
#[must_use]
pub const fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The `security-severity` property GitHub code scanning ranks alerts by (a number in a string).
#[must_use]
pub const fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

fn rule_descriptor(r: &RuleMeta) -> Value {
    let mut text = format!("{}\n\nWhy: {}\n\nFix: {}", r.what, r.why, r.fix);
    let mut markdown = format!("{}\n\n**Why it matters.** {}\n\n**How to fix it.** {}", r.what, r.why, r.fix);
    if !r.references.is_empty() {
        text.push_str("\n\nReferences:");
        markdown.push_str("\n\n**References**\n");
        for link in r.references {
            let _ = write!(text, "\n- {link}");
            let _ = write!(markdown, "\n- <{link}>");
        }
    }
    let mut d = Map::new();
    d.insert("id".into(), json!(r.id));
    d.insert("name".into(), json!(r.name));
    d.insert("shortDescription".into(), json!({ "text": r.title }));
    d.insert("fullDescription".into(), json!({ "text": r.what }));
    d.insert("help".into(), json!({ "text": text, "markdown": markdown }));
    if let Some(uri) = r.references.first() {
        d.insert("helpUri".into(), json!(uri));
    }
    d.insert("defaultConfiguration".into(), json!({ "level": level(r.severity) }));
    let mut tags = vec!["security".to_owned(), "kubernetes".to_owned()];
    if !r.family.is_empty() {
        tags.push(r.family.to_owned());
    }
    let mut props = Map::new();
    props.insert("security-severity".into(), json!(security_severity(r.severity)));
    props.insert("severity".into(), json!(r.severity.as_str()));
    props.insert("tags".into(), json!(tags));
    if !r.aliases.is_empty() {
        props.insert("aliases".into(), json!(r.aliases));
    }
    d.insert("properties".into(), Value::Object(props));
    Value::Object(d)
}

fn minimal_descriptor(f: &Finding) -> Value {
    json!({
        "id": f.rule_id,
        "shortDescription": { "text": f.title },
        "defaultConfiguration": { "level": level(f.severity) },
        "properties": {
            "security-severity": security_severity(f.severity),
            "severity": f.severity.as_str(),
            "tags": ["security", "kubernetes"],
        },
    })
}

fn result(f: &Finding, rule_index: Option<usize>, fingerprint: &str) -> Value {
    let mut r = Map::new();
    r.insert("ruleId".into(), json!(f.rule_id));
    if let Some(i) = rule_index {
        r.insert("ruleIndex".into(), json!(i));
    }
    r.insert("level".into(), json!(level(f.severity)));
    r.insert("message".into(), json!({ "text": f.message }));

    let mut location = Map::new();
    if let Some(l) = &f.location {
        location.insert("physicalLocation".into(), physical_location(l));
    }
    if let Some(obj) = &f.object {
        location.insert(
            "logicalLocations".into(),
            json!([{ "name": obj.name, "fullyQualifiedName": obj.to_string(), "kind": "resource" }]),
        );
    }
    if !location.is_empty() {
        r.insert("locations".into(), json!([Value::Object(location)]));
    }
    r.insert("partialFingerprints".into(), json!({ FINGERPRINT_KEY: fingerprint }));

    let mut props = Map::new();
    props.insert("severity".into(), json!(f.severity.as_str()));
    props.insert("title".into(), json!(f.title));
    if let Some(obj) = &f.object {
        props.insert(
            "object".into(),
            json!({ "apiVersion": obj.api_version, "kind": obj.kind, "namespace": obj.namespace, "name": obj.name }),
        );
    }
    if let Some(c) = f.container.as_deref() {
        props.insert("container".into(), json!(c));
    }
    if let Some(p) = f.pointer.as_deref() {
        props.insert("pointer".into(), json!(p));
    }
    if let Some(fix) = &f.remediation {
        props.insert("remediation".into(), json!(fix));
    }
    if !f.references.is_empty() {
        props.insert("references".into(), json!(f.references));
    }
    if !f.merged.is_empty() {
        props.insert("mergedRules".into(), json!(f.merged));
    }
    r.insert("properties".into(), Value::Object(props));
    Value::Object(r)
}

fn notification(d: &Diagnostic) -> Value {
    let level = match d.level {
        DiagnosticLevel::Error => "error",
        DiagnosticLevel::Warning => "warning",
        DiagnosticLevel::Note => "note",
    };
    json!({
        "level": level,
        "message": { "text": d.message },
        "descriptor": { "id": d.code },
        "locations": [{ "physicalLocation": physical_location(&d.location) }],
    })
}

fn physical_location(l: &Location) -> Value {
    let mut p = Map::new();
    p.insert("artifactLocation".into(), artifact_location(&l.file));
    if let Some(pos) = l.pos {
        let mut region = Map::new();
        region.insert("startLine".into(), json!(pos.line.max(1)));
        region.insert("startColumn".into(), json!(pos.column.max(1)));
        p.insert("region".into(), Value::Object(region));
    }
    Value::Object(p)
}

/// The `artifactLocation` of a path as the user gave it.
fn artifact_location(file: &str) -> Value {
    if file == "-" {
        return json!({ "uri": "stdin" });
    }
    let path = file.replace('\\', "/");
    let is_windows_absolute =
        path.as_bytes().get(1) == Some(&b':') && path.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
    if path.starts_with('/') || is_windows_absolute {
        let sep = if is_windows_absolute { "/" } else { "" };
        return json!({ "uri": format!("file://{sep}{}", percent_encode(&path, true)) });
    }
    let mut rel = path.as_str();
    while let Some(rest) = rel.strip_prefix("./") {
        rel = rest;
    }
    json!({ "uri": percent_encode(rel, false), "uriBaseId": SRCROOT })
}

/// Percent-encodes everything in a path except unreserved characters, `/` and the sub-delimiters
/// that are safe in a path. `:` is kept only when `keep_colon` (absolute `file:` URIs, for drive
/// letters), so a relative path never looks like a scheme.
fn percent_encode(path: &str, keep_colon: bool) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&b) || (keep_colon && b == b':');
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// What identifies a finding across runs (not its line, which moves with unrelated edits).
fn fingerprint_key(f: &Finding) -> u64 {
    let file = f.location.as_ref().map_or("", |l| &*l.file);
    let object = f.object.as_ref().map(|o| format!("{}|{}", o.api_version, o)).unwrap_or_default();
    fnv1a64(&[&f.rule_id, file, &object, f.container.as_deref().unwrap_or(""), f.pointer.as_deref().unwrap_or("")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(artifact_location("deploy/app.yaml"), json!({"uri": "deploy/app.yaml", "uriBaseId": SRCROOT}));
        assert_eq!(artifact_location("./././a b.yaml"), json!({"uri": "a%20b.yaml", "uriBaseId": SRCROOT}));
        assert_eq!(artifact_location("dir\\c:d.yaml"), json!({"uri": "dir/c%3Ad.yaml", "uriBaseId": SRCROOT}));
        assert_eq!(artifact_location("/abs/ü.yaml"), json!({"uri": "file:///abs/%C3%BC.yaml"}));
        assert_eq!(artifact_location("C:\\x\\y.yaml"), json!({"uri": "file:///C:/x/y.yaml"}));
        assert_eq!(artifact_location("-"), json!({"uri": "stdin"}));
    }

    #[test]
    fn levels() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Low), "note");
        assert_eq!(level(Severity::Info), "note");
    }
}

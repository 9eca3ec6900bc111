//! What every command's output shares (docs/cli.md): `-o/--output FORMAT` with one vocabulary of
//! format names, `--output-file FILE`, writing that ends quietly when the reader goes away (`| head`),
//! and JSON or YAML for every answer.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde_json::Value;

/// Every output format name, across commands (each command accepts a subset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable table or text.
    Table,
    /// JSON (kguard's report shape for findings; a documented object otherwise).
    Json,
    /// YAML (the JSON answer, as YAML).
    Yaml,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
    /// One self-contained HTML page.
    Html,
    /// Markdown (a pull-request comment).
    Markdown,
    /// np-guard's `txt`.
    Txt,
    /// np-guard's `csv`.
    Csv,
    /// np-guard's `md`.
    Md,
    /// Graphviz DOT.
    Dot,
    /// kubesec's JSON and exit codes.
    Kubesec,
    /// A raw classic-BPF program (`seccomp compile`).
    Bpf,
    /// CycloneDX 1.6 JSON (an SBOM).
    Cyclonedx,
    /// SPDX 2.3 JSON (an SBOM).
    SpdxJson,
}

impl Format {
    /// Every format, with its name.
    pub const ALL: [(Self, &'static str); 15] = [
        (Self::Table, "table"),
        (Self::Json, "json"),
        (Self::Yaml, "yaml"),
        (Self::Sarif, "sarif"),
        (Self::Junit, "junit"),
        (Self::Html, "html"),
        (Self::Markdown, "markdown"),
        (Self::Txt, "txt"),
        (Self::Csv, "csv"),
        (Self::Md, "md"),
        (Self::Dot, "dot"),
        (Self::Kubesec, "kubesec"),
        (Self::Bpf, "bpf"),
        (Self::Cyclonedx, "cyclonedx"),
        (Self::SpdxJson, "spdx-json"),
    ];

    /// The format's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(f, _)| *f == self).map_or("table", |(_, n)| n)
    }

    fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        let s = match s.as_str() {
            "text" => "table",
            "md-table" => "md",
            "spdx" => "spdx-json",
            other => other,
        };
        Self::ALL.iter().find(|(_, n)| *n == s).map(|(f, _)| *f)
    }
}

/// Whether `s` is the name of an output format (`json`, `sarif`, ...).
#[must_use]
pub fn is_format_name(s: &str) -> bool {
    Format::parse(s).is_some()
}

/// A clap value parser for `-o/--output` accepting the formats of `allowed`. Anything else — most
/// often a file name, from the habit of `-o FILE` — is an error saying how to write a file.
pub fn parser(allowed: &'static [Format]) -> impl Fn(&str) -> Result<Format, String> + Clone + Send + Sync + 'static {
    move |s: &str| {
        let names: Vec<&str> = allowed.iter().map(|f| f.name()).collect();
        match Format::parse(s) {
            Some(f) if allowed.contains(&f) => Ok(f),
            Some(f) => Err(format!("this command does not write {}; expected one of {}", f.name(), names.join(", "))),
            None => Err(format!(
                "{s:?} is not an output format (expected one of {}); to write to a file, use --output-file {s}",
                names.join(", ")
            )),
        }
    }
}

/// Where a command writes: `--output-file FILE` (created or truncated) or stdout.
///
/// # Errors
/// When the file cannot be created.
pub fn sink(file: Option<&Path>) -> io::Result<Box<dyn Write>> {
    Ok(match file {
        Some(path) => Box::new(BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    })
}

/// Writes a findings report (`kguard.report/v1` and its renderings) in `format` to
/// `--output-file` or stdout: what `scan`'s siblings (`rbac risks`, `audit lint`, `seccomp lint`,
/// `apparmor lint`, `node check`) share. `yaml` is the JSON report's tree written as YAML, as
/// `scan -o yaml` writes it.
///
/// # Errors
/// The exit code when the file cannot be created or the report cannot be written (a closed
/// pipe ends the program quietly, see [`write_failed`]).
pub fn write_report(format: Format, report: &kguard_report::Report, file: Option<&Path>) -> Result<(), u8> {
    use kguard_report::Format as F;
    let opts = kguard_report::RenderOptions {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        ..kguard_report::RenderOptions::default()
    };
    let mut out = sink(file).map_err(|e| {
        eprintln!("error: --output-file {}: {e}", file.map(|p| p.display().to_string()).unwrap_or_default());
        crate::exit::ERROR
    })?;
    let written = match format {
        Format::Yaml => {
            let mut json = Vec::new();
            kguard_report::render(F::Json, report, &mut json, &opts).and_then(|()| {
                let value: Value = serde_json::from_slice(&json).map_err(io::Error::other)?;
                structured(&mut out, Format::Yaml, &value)
            })
        }
        other => {
            let f = match other {
                Format::Json => F::Json,
                Format::Sarif => F::Sarif,
                Format::Junit => F::Junit,
                Format::Html => F::Html,
                Format::Markdown => F::Markdown,
                _ => F::Table,
            };
            kguard_report::render(f, report, &mut out, &opts)
        }
    };
    written.and_then(|()| out.flush()).map_err(|e| write_failed(&e, "the report"))
}

/// The exit code for a write that failed: a reader that went away (`| head`) ends the program
/// quietly, as a program killed by SIGPIPE would (141); anything else is reported (2).
#[must_use]
pub fn write_failed(e: &io::Error, what: &str) -> u8 {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(141);
    }
    eprintln!("error: cannot write {what}: {e}");
    crate::exit::ERROR
}

/// Makes a closed stdout end the program quietly wherever output is printed with `println!`
/// (which panics on a write error): such a panic exits with 141 and no message.
pub fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.contains("Broken pipe") || text.contains("failed printing to stdout") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// Writes a JSON answer (pretty, one trailing newline) or its YAML form.
///
/// # Errors
/// Write errors.
pub fn structured(out: &mut dyn Write, format: Format, value: &Value) -> io::Result<()> {
    match format {
        Format::Yaml => {
            let mut text = String::new();
            yaml(&mut text, value, 0, false);
            out.write_all(text.as_bytes())
        }
        _ => {
            serde_json::to_writer_pretty(&mut *out, value)?;
            writeln!(out)
        }
    }
}

/// Block YAML for a JSON value; strings are JSON-quoted (valid YAML double-quoted scalars) unless
/// plain and unambiguous.
fn yaml(out: &mut String, v: &Value, indent: usize, in_seq: bool) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (i, (k, val)) in m.iter().enumerate() {
                if !(in_seq && i == 0) {
                    out.push_str(&pad);
                }
                out.push_str(&scalar(&Value::String(k.clone())));
                out.push(':');
                nested(out, val, indent);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, item) in a.iter().enumerate() {
                if !(in_seq && i == 0) {
                    out.push_str(&pad);
                }
                out.push_str("- ");
                match item {
                    Value::Object(m) if !m.is_empty() => yaml(out, item, indent + 2, true),
                    Value::Array(a) if !a.is_empty() => yaml(out, item, indent + 2, true),
                    _ => {
                        out.push_str(&scalar(item));
                        out.push('\n');
                    }
                }
            }
        }
        _ => {
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
}

fn nested(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            yaml(out, v, indent + 2, false);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            yaml(out, v, indent, false);
        }
        _ => {
            out.push(' ');
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let plain = !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c))
                && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
                );
            if plain { s.clone() } else { Value::String(s.clone()).to_string() }
        }
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_values_are_formats_and_files_get_a_hint() {
        let p = parser(&[Format::Table, Format::Json, Format::Yaml]);
        assert_eq!(p("json"), Ok(Format::Json));
        assert_eq!(p("JSON"), Ok(Format::Json));
        assert!(p("sarif").unwrap_err().contains("does not write sarif"));
        let e = p("report.json").unwrap_err();
        assert!(e.contains("--output-file report.json"), "{e}");
    }

    #[test]
    fn yaml_is_valid_and_round_trips() {
        let v = serde_json::json!({"allowed": true, "user": "system:serviceaccount:ci:x", "groups": ["a", "yes", ""],
            "grant": {"binding": "RoleBinding/dev/x", "rule": {"verbs": ["get"], "n": 3}}, "empty": {}, "none": null,
            "list": [{"a": 1, "b": [1, 2]}, [3]]});
        let mut out = Vec::new();
        structured(&mut out, Format::Yaml, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        let docs = kguard_model::yaml::parse_documents(&text);
        let back = docs[0].root.as_ref().unwrap().as_ref().unwrap().to_json();
        assert_eq!(back, v, "{text}");
    }
}

//! `.kguard.yaml`: a repository's scan settings (docs/cli.md, "Configuration").
//!
//! ```yaml
//! select: [ALL]                       # as --select (the command line's --select replaces it)
//! ignore: [KG015]                     # as --ignore (the command line's --ignore adds to it)
//! severity: {KG029: low, netpol: info} # severity overrides, by selector
//! exclude: [vendor/, "**/*.tmpl.yaml"] # gitignore patterns, relative to this file
//! podSecurity: {level: baseline, version: v1.30}
//! failOn: high                        # as --fail-on
//! perPathIgnores:                     # ruff's per-file-ignores: glob → selectors
//!   "tests/**": [pss, hardening]
//! baseline: .kguard-baseline.json     # as --baseline, relative to this file
//! ```
//!
//! Every field is optional; an unknown field, a field of the wrong type, a selector naming no
//! rule and a bad glob are errors at `file:line:column`. An optional `apiVersion:
//! kguard.io/v1alpha1` and `kind: ScanConfig` header is checked when present (a `ServerConfig`
//! is `kguard serve`'s, and is refused here by name).

use std::path::{Path, PathBuf};

use kguard_model::load::Excludes;
use kguard_model::yaml;
use kguard_model::{Diagnostic, Location, Pos};
use kguard_podsec::{Level, Version};
use kguard_report::Severity;
use kguard_report::select::matches;
use serde::Deserialize;

use crate::rules;

/// The configuration file's name, looked for in the working directory and its parents.
pub const FILE_NAME: &str = ".kguard.yaml";

/// When findings fail a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Findings at or above this severity exit 1.
    AtLeast(Severity),
    /// Findings never fail the run.
    Never,
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "any" => Ok(Self::AtLeast(Severity::Info)),
            "never" => Ok(Self::Never),
            other => other
                .parse::<Severity>()
                .map(Self::AtLeast)
                .map_err(|_| format!("expected any, info, low, medium, high, critical or never, found {other:?}")),
        }
    }
}

/// What becomes of the warnings `kubectl apply --validate` would give (unknown kinds of a
/// built-in group, unserved versions, unknown or misplaced fields): kubectl's `--validate` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Validate {
    /// `strict` (or `true`): they are errors (exit 2), as `kubectl apply` refuses the object.
    Strict,
    /// `warn` (the default): warnings on stderr and in the report.
    #[default]
    Warn,
    /// `ignore` (or `false`): not reported.
    Ignore,
}

impl std::str::FromStr for Validate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "strict" | "true" => Ok(Self::Strict),
            "warn" => Ok(Self::Warn),
            "ignore" | "false" => Ok(Self::Ignore),
            other => Err(format!("expected strict (or true), warn, or ignore (or false), found {other:?}")),
        }
    }
}

/// The diagnostic codes [`Validate`] governs (what `kguard_discovery::check_object` reports).
pub const VALIDATION_CODES: &[&str] = &["unknown-kind", "unserved-version", "unknown-field"];

/// Applies a [`Validate`] mode to a scan's diagnostics: drops or escalates the validation ones.
pub fn apply_validate(diagnostics: &mut Vec<Diagnostic>, mode: Validate) {
    match mode {
        Validate::Warn => {}
        Validate::Ignore => diagnostics.retain(|d| !VALIDATION_CODES.contains(&d.code)),
        Validate::Strict => {
            for d in diagnostics.iter_mut().filter(|d| VALIDATION_CODES.contains(&d.code)) {
                d.level = kguard_model::DiagnosticLevel::Error;
            }
        }
    }
}

/// A parsed and validated `.kguard.yaml`.
#[derive(Debug, Default)]
pub struct ScanFileConfig {
    /// The file, as named in messages.
    pub file: String,
    /// Its directory (relative paths and globs are resolved against it).
    pub base: PathBuf,
    /// `select` (None: not set).
    pub select: Option<Vec<String>>,
    /// `ignore`.
    pub ignore: Vec<String>,
    /// `severity`: (selector, severity), in file order; the first matching entry wins.
    pub severity: Vec<(String, Severity)>,
    /// `exclude` patterns (relative to [`Self::base`]).
    pub exclude: Vec<String>,
    /// `podSecurity.level`.
    pub pss_level: Option<Level>,
    /// `podSecurity.version`.
    pub pss_version: Option<Version>,
    /// `failOn`.
    pub fail_on: Option<FailOn>,
    /// `perPathIgnores`: (glob matcher, its text, selectors).
    pub per_path_ignores: Vec<PathIgnore>,
    /// `baseline`, resolved against [`Self::base`].
    pub baseline: Option<PathBuf>,
    /// `validate`.
    pub validate: Option<Validate>,
}

/// One `perPathIgnores` entry.
#[derive(Debug)]
pub struct PathIgnore {
    /// The glob as written.
    pub glob: String,
    /// The selectors it ignores.
    pub selectors: Vec<String>,
    matcher: Excludes,
    base: PathBuf,
}

impl PathIgnore {
    /// Whether a finding in `file` of `rule` is ignored by this entry.
    #[must_use]
    pub fn ignores(&self, file: &Path, rule: &kguard_report::RuleMeta) -> bool {
        self.selectors.iter().any(|s| matches(s, rule)) && self.matcher.excludes(file, false, &self.base)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Raw {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    select: Option<Vec<String>>,
    #[serde(default)]
    ignore: Vec<String>,
    #[serde(default)]
    severity: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    exclude: Vec<String>,
    pod_security: Option<RawPodSecurity>,
    fail_on: Option<String>,
    #[serde(default)]
    per_path_ignores: serde_json::Map<String, serde_json::Value>,
    baseline: Option<String>,
    validate: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPodSecurity {
    level: Option<String>,
    version: Option<String>,
}

/// Parses and validates a configuration file's text; `base` is its directory.
///
/// # Errors
/// A diagnostic at `file:line:column` for syntax errors, unknown or mistyped fields, selectors
/// naming no rule, bad severities, levels, versions and globs.
pub fn parse(file: &str, text: &str, base: &Path) -> Result<ScanFileConfig, Diagnostic> {
    let at = |pos: Option<Pos>, message: String| {
        let name: std::sync::Arc<str> = file.into();
        let location = pos.map_or_else(|| Location::file(name.clone()), |p| Location::at(name.clone(), p));
        Diagnostic::error("config", location, message)
    };
    let docs = yaml::parse_documents(text);
    let doc = docs.into_iter().find(|d| !matches!(d.root, Ok(None)));
    if let Some(w) = doc.as_ref().and_then(|d| d.warnings.iter().find(|w| w.code == "duplicate-key")) {
        return Err(at(Some(w.pos), w.message.clone()));
    }
    let root = match doc.map(|d| d.root) {
        None | Some(Ok(None)) => {
            return Ok(ScanFileConfig { file: file.to_owned(), base: base.to_owned(), ..Default::default() });
        }
        Some(Err(e)) => return Err(at(Some(e.pos), e.message)),
        Some(Ok(Some(root))) => root,
    };
    let locate = |pointer: &str| Some(root.locate(pointer));
    let raw: Raw = serde_path_to_error::deserialize(root.to_json()).map_err(|e| {
        let pointer = kguard_model::pod::path_to_pointer(e.path());
        let field = if pointer.is_empty() { String::new() } else { format!(" (at {})", e.path()) };
        at(locate(&pointer), format!("{}{field}", e.inner()))
    })?;
    if raw.kind.as_deref() == Some("ServerConfig") {
        return Err(at(
            locate("/kind"),
            "this is a `kguard serve` configuration (kind: ServerConfig), not a scan configuration".to_owned(),
        ));
    }
    if raw.api_version.as_deref().is_some_and(|v| v != "kguard.io/v1alpha1")
        || raw.kind.as_deref().is_some_and(|k| k != "ScanConfig")
    {
        return Err(at(
            locate("/kind"),
            "expected apiVersion kguard.io/v1alpha1 and kind ScanConfig (both optional)".to_owned(),
        ));
    }
    let check_selectors = |list: &[String], pointer: &str| -> Result<(), Diagnostic> {
        for (i, s) in list.iter().enumerate() {
            if !rules::is_known_selector(s) {
                return Err(at(
                    locate(&format!("{pointer}/{i}")),
                    format!("{s:?} names no rule (ids, names, other tools' ids, families; `kguard rules` lists them)"),
                ));
            }
        }
        Ok(())
    };
    if let Some(select) = &raw.select {
        check_selectors(select, "/select")?;
    }
    check_selectors(&raw.ignore, "/ignore")?;
    let mut config = ScanFileConfig {
        file: file.to_owned(),
        base: base.to_owned(),
        select: raw.select,
        ignore: raw.ignore,
        ..Default::default()
    };
    for (selector, value) in &raw.severity {
        let pointer = format!("/severity/{}", selector.replace('~', "~0").replace('/', "~1"));
        if !rules::is_known_selector(selector) {
            return Err(at(locate(&pointer), format!("{selector:?} names no rule (`kguard rules` lists them)")));
        }
        let sev = value.as_str().and_then(|v| v.parse::<Severity>().ok()).ok_or_else(|| {
            at(
                locate(&pointer),
                format!("severity of {selector}: expected info, low, medium, high or critical, found {value}"),
            )
        })?;
        config.severity.push((selector.clone(), sev));
    }
    let mut probe = Excludes::new();
    probe.add_patterns(base, file, &raw.exclude).map_err(|e| at(locate("/exclude"), e.message))?;
    config.exclude = raw.exclude;
    if let Some(ps) = raw.pod_security {
        if let Some(l) = ps.level {
            config.pss_level = Some(
                Level::parse(&l).map_err(|e| at(locate("/podSecurity/level"), format!("podSecurity.level: {e}")))?,
            );
        }
        if let Some(v) = ps.version {
            config.pss_version = Some(
                Version::parse(&v)
                    .map_err(|e| at(locate("/podSecurity/version"), format!("podSecurity.version: {e}")))?,
            );
        }
    }
    if let Some(f) = raw.fail_on {
        config.fail_on = Some(f.parse().map_err(|e| at(locate("/failOn"), format!("failOn: {e}")))?);
    }
    if let Some(v) = raw.validate {
        // `validate: true` and `validate: false` are YAML booleans; kubectl takes them too.
        let text = match &v {
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        config.validate = Some(text.parse().map_err(|e| at(locate("/validate"), format!("validate: {e}")))?);
    }
    for (glob, value) in &raw.per_path_ignores {
        let pointer = format!("/perPathIgnores/{}", glob.replace('~', "~0").replace('/', "~1"));
        let selectors: Vec<String> = match value {
            serde_json::Value::Array(items) => {
                items.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<_>>().ok_or_else(|| {
                    at(locate(&pointer), format!("perPathIgnores {glob:?}: expected a list of rule selectors"))
                })?
            }
            serde_json::Value::String(s) => {
                s.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
            }
            _ => {
                return Err(at(
                    locate(&pointer),
                    format!("perPathIgnores {glob:?}: expected a list of rule selectors"),
                ));
            }
        };
        check_selectors(&selectors, &pointer)?;
        let mut matcher = Excludes::new();
        matcher.add_patterns(base, file, std::slice::from_ref(glob)).map_err(|e| at(locate(&pointer), e.message))?;
        config.per_path_ignores.push(PathIgnore { glob: glob.clone(), selectors, matcher, base: base.to_owned() });
    }
    config.baseline = raw.baseline.map(|b| base.join(b));
    Ok(config)
}

/// The configuration that applies in `dir`: `.kguard.yaml` there or in the nearest parent.
#[must_use]
pub fn find_upward(dir: &Path) -> Option<PathBuf> {
    let start = if dir.is_absolute() { dir.to_path_buf() } else { std::env::current_dir().ok()?.join(dir) };
    start.ancestors().map(|d| d.join(FILE_NAME)).find(|p| p.is_file())
}

impl ScanFileConfig {
    /// The severity the configuration gives findings of `rule`, if any.
    #[must_use]
    pub fn severity_of(&self, rule: &kguard_report::RuleMeta) -> Option<Severity> {
        self.severity.iter().find(|(s, _)| matches(s, rule)).map(|(_, sev)| *sev)
    }

    /// The `perPathIgnores` entry that ignores a finding of `rule` in `file`, if any.
    #[must_use]
    pub fn path_ignore(&self, file: &Path, rule: &kguard_report::RuleMeta) -> Option<&PathIgnore> {
        self.per_path_ignores.iter().find(|p| p.ignores(file, rule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ScanFileConfig {
        parse(".kguard.yaml", text, Path::new("/repo")).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(".kguard.yaml", text, Path::new("/repo")).unwrap_err().to_string()
    }

    #[test]
    fn every_field() {
        let c = parse_ok(
            "apiVersion: kguard.io/v1alpha1\nkind: ScanConfig\nselect: [ALL]\nignore: [KG015]\n\
             severity: {KG029: low, netpol: info}\nexclude: [vendor/]\n\
             podSecurity: {level: baseline, version: v1.30}\nfailOn: high\n\
             perPathIgnores: {\"tests/**\": [pss], \"legacy/*.yaml\": \"hardening, netpol\"}\nbaseline: b.json\n",
        );
        assert_eq!(c.select.as_deref(), Some(&["ALL".to_owned()][..]));
        assert_eq!(c.severity, [("KG029".to_owned(), Severity::Low), ("netpol".to_owned(), Severity::Info)]);
        assert_eq!(c.pss_level, Some(Level::Baseline));
        assert_eq!(c.fail_on, Some(FailOn::AtLeast(Severity::High)));
        assert_eq!(c.per_path_ignores[1].selectors, ["hardening", "netpol"]);
        assert_eq!(c.baseline.as_deref(), Some(Path::new("/repo/b.json")));
        let pss = rules::find("PSS003").unwrap();
        assert!(c.path_ignore(Path::new("/repo/tests/a/b.yaml"), pss).is_some());
        assert!(c.path_ignore(Path::new("/repo/src/b.yaml"), pss).is_none());
        assert!(c.path_ignore(Path::new("/repo/tests/b.yaml"), rules::find("KG001").unwrap()).is_none());
        assert_eq!(c.severity_of(rules::find("NP001").unwrap()), Some(Severity::Info));
        // An empty file is an empty configuration.
        assert!(parse_ok("# nothing yet\n").select.is_none());
        assert_eq!(c.validate, None);
        assert_eq!(parse_ok("validate: strict\n").validate, Some(Validate::Strict));
        assert_eq!(parse_ok("validate: false\n").validate, Some(Validate::Ignore), "kubectl's boolean spelling");
        assert_eq!(parse_ok("validate: true\n").validate, Some(Validate::Strict));
    }

    #[test]
    fn validate_modes_drop_or_escalate_only_validation_warnings() {
        let loc = || Location::file("a.yaml".into());
        let diags = || {
            vec![
                Diagnostic::warning("unknown-field", loc(), "x".to_owned()),
                Diagnostic::warning("duplicate-key", loc(), "y".to_owned()),
                Diagnostic::warning("unknown-kind", loc(), "z".to_owned()),
            ]
        };
        let mut d = diags();
        apply_validate(&mut d, Validate::Ignore);
        assert_eq!(d.iter().map(|d| d.code).collect::<Vec<_>>(), ["duplicate-key"]);
        let mut d = diags();
        apply_validate(&mut d, Validate::Strict);
        let levels: Vec<_> = d.iter().map(|d| d.level).collect();
        use kguard_model::DiagnosticLevel::{Error, Warning};
        assert_eq!(levels, [Error, Warning, Error]);
        let mut d = diags();
        apply_validate(&mut d, Validate::Warn);
        assert_eq!(d, diags());
    }

    #[test]
    fn mistakes_are_errors_at_their_position() {
        let cases = [
            ("selct: [pss]\n", ".kguard.yaml:1:1: error: unknown field `selct`"),
            ("select: [pss]\nignore:\n  - KG999\n", ".kguard.yaml:3:5: error: \"KG999\" names no rule"),
            ("severity:\n  KG029: severe\n", ".kguard.yaml:2:3: error: severity of KG029: expected info"),
            ("failOn: sometimes\n", ".kguard.yaml:1:1: error: failOn: expected any, info"),
            ("validate: maybe\n", "validate: expected strict (or true), warn, or ignore (or false)"),
            ("podSecurity: {level: strict}\n", "podSecurity.level"),
            ("select: pss\n", "invalid type: string \"pss\", expected a sequence"),
            ("kind: ServerConfig\n", "a `kguard serve` configuration"),
            ("ignore: [pss]\nignore: [KG001]\n", "duplicate key"),
            ("perPathIgnores: {\"a{b\": [pss]}\n", "a{b"),
        ];
        for (text, expected) in cases {
            let e = parse_err(text);
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }
}

//! The finding type and what travels with it to the renderers.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use kguard_model::{Diagnostic, DiagnosticLevel, Location, Object, ObjectRef};
use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; not a weakness by itself.
    Info,
    /// Defence-in-depth gap.
    Low,
    /// A weakness that helps an attacker.
    Medium,
    /// A direct path to compromise of the workload or node.
    High,
    /// Compromise of the node or cluster.
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Self; 5] = [Self::Info, Self::Low, Self::Medium, Self::High, Self::Critical];

    /// Lower-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown severity {s:?}; expected one of info, low, medium, high, critical"))
    }
}

/// What a renderer needs to know about a rule (SARIF `rules`, `explain`, JUnit test names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleMeta {
    /// Stable id, e.g. `PSS003`.
    pub id: &'static str,
    /// Short kebab/camel name, e.g. `privileged`.
    pub name: &'static str,
    /// Family, e.g. `pss`.
    pub family: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// One-line title.
    pub title: &'static str,
    /// What the rule checks.
    pub what: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// How to fix it.
    pub fix: &'static str,
    /// Links to upstream documentation.
    pub references: &'static [&'static str],
    /// Equivalent ids in other tools (and other accepted names).
    pub aliases: &'static [&'static str],
    /// Runs only when selected explicitly (by id, name, alias, family or `ALL`): the rule would
    /// fire on nearly every workload and drown the rest.
    pub opt_in: bool,
}

/// One security finding about one object. (Renderers define their own wire shapes.)
///
/// A scan holds every finding until it is rendered, tens of them per object, so a finding shares
/// what it has in common with others instead of copying it: the rule's title, remediation and
/// references are the rule's own (`&'static`), and the object, container name and pointer are
/// reference-counted, so that [`Finding::share`] can make the findings of one object, or of one
/// field of many objects, point to one copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Rule id (`RuleMeta::id`).
    pub rule_id: String,
    /// Severity (usually the rule's default).
    pub severity: Severity,
    /// One-line title (the rule's, or one made for this finding).
    pub title: Cow<'static, str>,
    /// The specific message for this object.
    pub message: String,
    /// The object concerned.
    pub object: Option<Arc<ObjectRef>>,
    /// The container concerned, when the finding is about one.
    pub container: Option<Arc<str>>,
    /// JSON pointer of the field concerned, relative to the object.
    pub pointer: Option<Arc<str>>,
    /// Where in the input (the field, or its nearest existing parent).
    pub location: Option<Location>,
    /// How to fix it.
    pub remediation: Option<Cow<'static, str>>,
    /// Links.
    pub references: &'static [&'static str],
    /// The ids of the other rules that found the same problem at the same field and were merged
    /// into this finding (`kguard scan` reports each problem once; see `kguard_scan::problems`).
    /// Empty for a finding that stands alone.
    pub merged: Vec<&'static str>,
}

impl Finding {
    /// A finding of `rule`: severity, title, remediation and references come from the rule.
    #[must_use]
    pub fn new(
        rule: &RuleMeta,
        message: String,
        object: Option<ObjectRef>,
        pointer: Option<String>,
        location: Option<Location>,
    ) -> Self {
        Self {
            rule_id: rule.id.to_owned(),
            severity: rule.severity,
            title: Cow::Borrowed(rule.title),
            message,
            object: object.map(Arc::new),
            container: None,
            pointer: pointer.map(Arc::from),
            location,
            remediation: Some(Cow::Borrowed(rule.fix)),
            references: rule.references,
            merged: Vec::new(),
        }
    }

    /// A finding of `rule` about `object`, at the field `pointer` (relative to the object) whose
    /// source position becomes the location.
    #[must_use]
    pub fn about(rule: &RuleMeta, object: &Object, pointer: String, message: String) -> Self {
        let location = object.location(&pointer);
        Self::new(rule, message, Some(object.id.clone()), Some(pointer), Some(location))
    }

    /// The same finding, about one container.
    #[must_use]
    pub fn in_container(mut self, container: Option<String>) -> Self {
        self.container = container.map(Arc::from);
        self
    }

    /// Makes this finding share its object, container name and pointer with the findings that
    /// `shared` has seen (one copy each, however many findings name them).
    pub fn share(&mut self, shared: &mut Shared) {
        if let Some(object) = &mut self.object {
            shared.object(object);
        }
        for text in [&mut self.container, &mut self.pointer].into_iter().flatten() {
            shared.text(text);
        }
    }
}

/// The one copy of each object reference, container name and pointer of a set of findings (see
/// [`Finding::share`]).
#[derive(Debug, Default)]
pub struct Shared {
    objects: HashSet<Arc<ObjectRef>>,
    texts: HashSet<Arc<str>>,
}

impl Shared {
    fn object(&mut self, object: &mut Arc<ObjectRef>) {
        match self.objects.get(object) {
            Some(one) => *object = Arc::clone(one),
            None => {
                self.objects.insert(Arc::clone(object));
            }
        }
    }

    fn text(&mut self, text: &mut Arc<str>) {
        match self.texts.get(text) {
            Some(one) => *text = Arc::clone(one),
            None => {
                self.texts.insert(Arc::clone(text));
            }
        }
    }
}

/// Counts for the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files read.
    pub files: usize,
    /// Documents read.
    pub documents: usize,
    /// Objects found.
    pub objects: usize,
    /// Objects evaluated by at least one rule.
    pub scanned: usize,
    /// Objects skipped (unknown kinds, non-objects).
    pub skipped: usize,
    /// Files read that hold no Kubernetes object and do not try to (Compose files, CI
    /// configurations): skipped quietly.
    pub not_kubernetes: usize,
    /// Files and directories left out by `--exclude`, the configuration's `exclude` and
    /// `.kguardignore` files.
    pub excluded: usize,
    /// Files of Helm charts that are not manifests (templates, values, `Chart.yaml`).
    pub chart_files: usize,
    /// Findings suppressed (by annotation, configuration or baseline).
    pub suppressed: usize,
    /// Dockerfiles read and checked (counted in `files` too).
    pub dockerfiles: usize,
    /// The API server the objects were read from (`--cluster`), if any (its objects are not
    /// counted in `files`).
    pub cluster: Option<String>,
}

/// Everything a renderer shows.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Findings, sorted by file, line, rule.
    pub findings: Vec<Finding>,
    /// Input problems.
    pub diagnostics: Vec<Diagnostic>,
    /// Counts.
    pub summary: Summary,
    /// Metadata of every rule that may appear (for SARIF `rules` and JUnit).
    pub rules: Vec<RuleMeta>,
    /// Findings suppressed, with why (SARIF `suppressions`; JSON `suppressed`). Not in
    /// `findings`, and never failing a run.
    pub suppressed: Vec<Suppressed>,
}

/// A finding that was suppressed, and by what.
#[derive(Clone, Debug)]
pub struct Suppressed {
    /// The finding.
    pub finding: Finding,
    /// Where the suppression is written.
    pub kind: SuppressionKind,
    /// Why: the annotation, configuration entry or baseline file that suppressed it.
    pub justification: String,
}

/// SARIF's `suppression.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuppressionKind {
    /// In the scanned file itself (an annotation on the object).
    InSource,
    /// Outside it (a configuration file, a baseline).
    External,
}

impl SuppressionKind {
    /// The SARIF name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InSource => "inSource",
            Self::External => "external",
        }
    }
}

impl Report {
    /// The metadata of the rule with this id, when the report carries it.
    #[must_use]
    pub fn rule(&self, id: &str) -> Option<&RuleMeta> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// How many findings have exactly this severity.
    #[must_use]
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }

    /// How many of the diagnostics a renderer shows (see [`Report::shown_diagnostics`]) have this level.
    #[must_use]
    pub fn count_diagnostics(&self, level: DiagnosticLevel, verbose: bool) -> usize {
        self.shown_diagnostics(verbose).filter(|d| d.level == level).count()
    }

    /// The diagnostics a renderer shows: all of them when `verbose`, otherwise all but notes.
    pub fn shown_diagnostics(&self, verbose: bool) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(move |d| verbose || d.level > DiagnosticLevel::Note)
    }
}

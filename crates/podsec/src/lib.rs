//! The Pod Security Standards, evaluated exactly as the PodSecurity admission plugin
//! (`k8s.io/pod-security-admission`) does.
//!
//! * [`Level`] and [`Version`]: what a namespace label asks for. `latest` and any version newer
//!   than the newest one known ([`Version::NEWEST_MINOR`], v1.37) evaluate as the newest one.
//! * [`evaluate`]: every failing check for a pod at a level and version, in upstream order
//!   (baseline check ids sorted bytewise, then restricted ones), with upstream's
//!   `ForbiddenReason`/`ForbiddenDetail` texts. Restricted checks override baseline ones from
//!   their own version on (`capabilities_restricted` replaces `capabilities_baseline` from v1.22,
//!   `seccompProfile_restricted` replaces `seccompProfile_baseline` from v1.19,
//!   `restrictedVolumes` replaces `hostPathVolumes`, `procMount_restricted` replaces `procMount`
//!   from v1.35).
//! * [`aggregate`], [`enforce_message`], [`warn_message`]: the admission texts.
//! * [`NamespacePolicy`]: the `pod-security.kubernetes.io/*` namespace labels, parsed as upstream
//!   parses them, with the label errors.
//! * [`RULES`] and [`findings`]: one kguard rule per check (`PSS001`..`PSS019`).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use kguard_model::Object;
use kguard_report::{Finding, RuleMeta};

use kguard_model::workload::PodView;

mod checks;
mod rules;

pub use checks::{allowed_sysctls, go_quote, join_quote, pluralize};
pub use rules::RULES;

/// A Pod Security Standards level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// No restrictions.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Current pod hardening best practice.
    Restricted,
}

impl Level {
    /// The label value: `privileged`, `baseline`, `restricted`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Privileged => "privileged",
            Self::Baseline => "baseline",
            Self::Restricted => "restricted",
        }
    }

    /// Parses a level label value exactly (case-sensitive, as upstream).
    ///
    /// # Errors
    /// Upstream's message, `must be one of privileged, baseline, restricted`.
    pub fn parse(s: &str) -> Result<Self, InvalidLevel> {
        match s {
            "privileged" => Ok(Self::Privileged),
            "baseline" => Ok(Self::Baseline),
            "restricted" => Ok(Self::Restricted),
            _ => Err(InvalidLevel),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level label value that is not `privileged`, `baseline` or `restricted` (upstream's message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be one of privileged, baseline, restricted")]
pub struct InvalidLevel;

/// A version label value that is not `latest` or `v1.N` (upstream's message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be \"latest\" or \"v1.x\"")]
pub struct InvalidVersion;

impl FromStr for Level {
    type Err = InvalidLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A policy version: `latest` or `v1.N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// `latest`: the newest version known.
    Latest,
    /// `v1.N` (any N; versions newer than the newest known evaluate as the newest known).
    V1(u64),
}

impl Version {
    /// The newest policy version this engine knows: v1.37 (a `sysctls` revision).
    pub const NEWEST_MINOR: u64 = 37;

    /// Parses `latest` or `v1.N` (`^v1\.(0|[1-9][0-9]*)$`, N fitting a Go `int`).
    ///
    /// # Errors
    /// Upstream's message, `must be "latest" or "v1.x"`.
    pub fn parse(s: &str) -> Result<Self, InvalidVersion> {
        if s == "latest" {
            return Ok(Self::Latest);
        }
        let Some(n) = s.strip_prefix("v1.") else { return Err(InvalidVersion) };
        let canonical = n == "0" || (!n.is_empty() && !n.starts_with('0'));
        if !canonical || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidVersion);
        }
        let v = n.parse::<i64>().map_err(|_| InvalidVersion)?;
        u64::try_from(v).map(Self::V1).map_err(|_| InvalidVersion)
    }

    /// The minor version evaluated: `latest` and anything newer than [`Self::NEWEST_MINOR`]
    /// become it.
    #[must_use]
    pub const fn effective_minor(self) -> u64 {
        match self {
            Self::Latest => Self::NEWEST_MINOR,
            Self::V1(n) if n > Self::NEWEST_MINOR => Self::NEWEST_MINOR,
            Self::V1(n) => n,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::V1(n) => write!(f, "v1.{n}"),
        }
    }
}

impl FromStr for Version {
    type Err = InvalidVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A failing check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// Upstream check id, e.g. `allowPrivilegeEscalation`.
    pub id: &'static str,
    /// Upstream `ForbiddenReason`.
    pub reason: String,
    /// Upstream `ForbiddenDetail`.
    pub detail: String,
    /// JSON pointers (relative to the object) of the offending fields; the first is the main one.
    pub pointers: Vec<String>,
    /// Names of the containers involved, in visiting order.
    pub containers: Vec<String>,
}

/// The ids of the checks run at `level` and `version`, in result order.
#[must_use]
pub fn check_ids(level: Level, version: Version) -> Vec<&'static str> {
    active_checks(level, version.effective_minor()).map(|c| c.id).collect()
}

fn active_checks(level: Level, minor: u64) -> impl Iterator<Item = &'static checks::CheckDef> {
    let overridden: Vec<&str> = if level == Level::Restricted {
        checks::CHECKS
            .iter()
            .filter(|c| c.level == Level::Restricted && c.since <= minor)
            .flat_map(|c| c.overrides.iter().copied())
            .collect()
    } else {
        Vec::new()
    };
    checks::CHECKS.iter().filter(move |c| {
        level != Level::Privileged && c.level <= level && c.since <= minor && !overridden.contains(&c.id)
    })
}

/// Evaluates a pod at a level and version: the failing checks, in upstream order.
#[must_use]
pub fn evaluate(pod: &PodView, level: Level, version: Version) -> Vec<CheckResult> {
    let minor = version.effective_minor();
    active_checks(level, minor).filter_map(|c| (c.run)(pod, minor)).collect()
}

/// One result as upstream renders it: `reason (detail)`, `reason` when the detail is empty, and
/// `unknown forbidden reason` when the reason is.
#[must_use]
pub fn render(result: &CheckResult) -> String {
    let reason = if result.reason.is_empty() { "unknown forbidden reason" } else { result.reason.as_str() };
    if result.detail.is_empty() { reason.to_owned() } else { format!("{reason} ({})", result.detail) }
}

/// Upstream's aggregate: `reason1 (detail1), reason2, reason3 (detail3)`.
#[must_use]
pub fn aggregate(results: &[CheckResult]) -> String {
    results.iter().map(render).collect::<Vec<_>>().join(", ")
}

/// The enforce denial: `pods "<name>" is forbidden: violates PodSecurity "<level>:<version>": <aggregate>`.
#[must_use]
pub fn enforce_message(pod_name: &str, level: Level, version: Version, results: &[CheckResult]) -> String {
    format!("pods \"{pod_name}\" is forbidden: violates PodSecurity \"{level}:{version}\": {}", aggregate(results))
}

/// The warning (and audit annotation) text: `would violate PodSecurity "<level>:<version>": <aggregate>`.
#[must_use]
pub fn warn_message(level: Level, version: Version, results: &[CheckResult]) -> String {
    format!("would violate PodSecurity \"{level}:{version}\": {}", aggregate(results))
}

/// The rule of a check id.
#[must_use]
pub fn rule_for(check_id: &str) -> Option<&'static RuleMeta> {
    RULES.iter().find(|r| r.name == check_id)
}

/// One finding per failing check of `pod` at `level`/`version`, in mode `mode`
/// (`enforce`, `audit` or `warn`).
///
/// The message is, for a Pod in mode `enforce`, upstream's denial restricted to that check
/// (`pods "x" is forbidden: violates PodSecurity "restricted:latest": <reason> (<detail>)`), and
/// otherwise upstream's warning text (`would violate PodSecurity ...`). The title names the mode
/// and the policy.
#[must_use]
pub fn findings(obj: &Object, pod: &PodView, level: Level, version: Version, mode: &str) -> Vec<Finding> {
    findings_with_fields(obj, pod, level, version, mode).into_iter().map(|(f, _)| f).collect()
}

/// [`findings`], each with the check's result: every offending field (the finding's pointer is the
/// first) and every container involved, which a finding alone does not carry.
#[must_use]
pub fn findings_with_fields(
    obj: &Object,
    pod: &PodView,
    level: Level,
    version: Version,
    mode: &str,
) -> Vec<(Finding, CheckResult)> {
    evaluate(pod, level, version)
        .into_iter()
        .filter_map(|result| {
            let rule = rule_for(result.id)?;
            let one = std::slice::from_ref(&result);
            let message = if pod.is_pod() && mode == "enforce" {
                enforce_message(&pod.name, level, version, one)
            } else {
                warn_message(level, version, one)
            };
            let pointer = result.pointers.first().cloned().unwrap_or_else(|| pod.spec_pointer());
            let mut finding =
                Finding::about(rule, obj, pointer, message).in_container(result.containers.first().cloned());
            finding.title = format!("{} (PodSecurity {mode} {level}:{version})", rule.title).into();
            Some((finding, result))
        })
        .collect()
}

// ---- namespace labels --------------------------------------------------------------------------

/// Prefix of the PodSecurity namespace labels.
pub const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";
/// `pod-security.kubernetes.io/enforce`.
pub const ENFORCE_LEVEL_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// `pod-security.kubernetes.io/enforce-version`.
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
/// `pod-security.kubernetes.io/audit`.
pub const AUDIT_LEVEL_LABEL: &str = "pod-security.kubernetes.io/audit";
/// `pod-security.kubernetes.io/audit-version`.
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";
/// `pod-security.kubernetes.io/warn`.
pub const WARN_LEVEL_LABEL: &str = "pod-security.kubernetes.io/warn";
/// `pod-security.kubernetes.io/warn-version`.
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

const POLICY_LABELS: [&str; 6] = [
    ENFORCE_LEVEL_LABEL,
    ENFORCE_VERSION_LABEL,
    AUDIT_LEVEL_LABEL,
    AUDIT_VERSION_LABEL,
    WARN_LEVEL_LABEL,
    WARN_VERSION_LABEL,
];

/// A level and a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    /// Level.
    pub level: Level,
    /// Version.
    pub version: Version,
}

impl LevelVersion {
    /// `privileged:latest`.
    pub const PRIVILEGED: Self = Self { level: Level::Privileged, version: Version::Latest };
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

/// A mode (`enforce`, `audit`, `warn`) with the level and version it evaluates.
pub type Mode = (&'static str, Level, Version);

/// The PodSecurity policy of a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamespacePolicy {
    /// `enforce` (denies pods).
    pub enforce: LevelVersion,
    /// `audit` (audit annotations).
    pub audit: LevelVersion,
    /// `warn` (user-facing warnings).
    pub warn: LevelVersion,
    /// Whether any `pod-security.kubernetes.io/*` policy label was present.
    labelled: bool,
}

impl Default for NamespacePolicy {
    fn default() -> Self {
        Self::PRIVILEGED
    }
}

impl NamespacePolicy {
    /// Upstream's default configuration: everything `privileged:latest`.
    pub const PRIVILEGED: Self = Self {
        enforce: LevelVersion::PRIVILEGED,
        audit: LevelVersion::PRIVILEGED,
        warn: LevelVersion::PRIVILEGED,
        labelled: false,
    };

    /// A policy from its three modes (as configured defaults, not from labels).
    #[must_use]
    pub const fn new(enforce: LevelVersion, audit: LevelVersion, warn: LevelVersion) -> Self {
        Self { enforce, audit, warn, labelled: false }
    }

    /// Every mode `privileged` (upstream `FullyPrivileged`).
    #[must_use]
    pub fn fully_privileged(&self) -> bool {
        [self.enforce, self.audit, self.warn].iter().all(|lv| lv.level == Level::Privileged)
    }

    /// Upstream `Policy.Equivalent`: same levels, and same versions where the level is not
    /// `privileged` (a privileged policy ignores its version).
    #[must_use]
    pub fn equivalent(&self, other: &Self) -> bool {
        let same = |a: LevelVersion, b: LevelVersion| {
            a.level == b.level && (a.level == Level::Privileged || a.version == b.version)
        };
        same(self.enforce, other.enforce) && same(self.audit, other.audit) && same(self.warn, other.warn)
    }

    /// Parses namespace labels over upstream's default (`privileged:latest` everywhere).
    /// Returns the policy and the label errors as `(label key, message)`.
    pub fn from_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> (Self, Vec<(String, String)>) {
        Self::from_labels_with_defaults(labels, Self::PRIVILEGED)
    }

    /// Parses namespace labels as upstream's `PolicyToEvaluate` does: unset labels keep the
    /// defaults; an invalid enforce level becomes `restricted` (fail closed), an invalid audit or
    /// warn level `privileged`, an invalid version `latest`; when `warn` is unset and a valid
    /// `enforce` is stricter, warn takes the enforce level (and its version unless
    /// `warn-version` is set).
    pub fn from_labels_with_defaults<'a>(
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        defaults: Self,
    ) -> (Self, Vec<(String, String)>) {
        let labels: BTreeMap<&str, &str> = labels.into_iter().collect();
        let mut p = Self { labelled: POLICY_LABELS.iter().any(|k| labels.contains_key(k)), ..defaults };
        let mut errors = Vec::new();
        let mut invalid = |key: &str, value: &str, err: &dyn fmt::Display| {
            errors.push((key.to_owned(), format!("metadata.labels[{key}]: Invalid value: {}: {err}", go_quote(value))));
        };
        let mut has_enforce_level = false;
        if let Some(v) = labels.get(ENFORCE_LEVEL_LABEL) {
            match Level::parse(v) {
                Ok(l) => {
                    p.enforce.level = l;
                    has_enforce_level = true;
                }
                Err(e) => {
                    p.enforce.level = Level::Restricted;
                    invalid(ENFORCE_LEVEL_LABEL, v, &e);
                }
            }
        }
        let mut version = |key: &str, target: &mut Version| {
            if let Some(v) = labels.get(key) {
                *target = Version::parse(v).unwrap_or_else(|e| {
                    invalid(key, v, &e);
                    Version::Latest
                });
                true
            } else {
                false
            }
        };
        version(ENFORCE_VERSION_LABEL, &mut p.enforce.version);
        version(AUDIT_VERSION_LABEL, &mut p.audit.version);
        let has_warn_version = version(WARN_VERSION_LABEL, &mut p.warn.version);
        let mut has_warn_level = false;
        for (key, target) in [(AUDIT_LEVEL_LABEL, &mut p.audit.level), (WARN_LEVEL_LABEL, &mut p.warn.level)] {
            if let Some(v) = labels.get(key) {
                has_warn_level |= key == WARN_LEVEL_LABEL;
                *target = Level::parse(v).unwrap_or_else(|e| {
                    invalid(key, v, &e);
                    Level::Privileged
                });
            }
        }
        if !has_warn_level && has_enforce_level && p.enforce.level > p.warn.level {
            p.warn.level = p.enforce.level;
            if !has_warn_version {
                p.warn.version = p.enforce.version;
            }
        }
        // Errors in upstream's label order: enforce, enforce-version, audit, audit-version, warn, warn-version.
        errors.sort_by_key(|(k, _)| POLICY_LABELS.iter().position(|l| l == k));
        (p, errors)
    }

    /// Whether the namespace had any `pod-security.kubernetes.io/*` policy label.
    #[must_use]
    pub const fn has_labels(&self) -> bool {
        self.labelled
    }

    /// The modes to evaluate, in order enforce, audit, warn, leaving out `privileged` ones and
    /// ones whose level and version an earlier mode already evaluates.
    ///
    /// Upstream never enforces on workload resources (only audit and warn); kguard still
    /// reports the enforce level for them, since the pods they create would be denied. The
    /// finding's message is then the warning text (see [`findings`]).
    #[must_use]
    pub fn modes(&self, is_pod: bool) -> Vec<Mode> {
        let _ = is_pod; // same modes for Pods and workloads; the message differs (see above)
        let mut out: Vec<Mode> = Vec::new();
        for (mode, lv) in [("enforce", self.enforce), ("audit", self.audit), ("warn", self.warn)] {
            if lv.level != Level::Privileged && !out.iter().any(|(_, l, v)| *l == lv.level && *v == lv.version) {
                out.push((mode, lv.level, lv.version));
            }
        }
        out
    }
}

/// The modes for an object whose namespace has no policy labels: the configured level enforced
/// (none when `privileged`).
#[must_use]
pub fn default_modes(level: Level, version: Version, is_pod: bool) -> Vec<Mode> {
    NamespacePolicy { enforce: LevelVersion { level, version }, ..NamespacePolicy::PRIVILEGED }.modes(is_pod)
}

#[cfg(test)]
mod tests;

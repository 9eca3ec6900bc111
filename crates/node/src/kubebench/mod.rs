//! kube-bench's CIS checks, from kube-bench's own `cfg/` files, evaluated as kube-bench evaluates
//! them ([`eval`]), with its component detection (`cfg/config.yaml`: binaries, config files,
//! `version_mapping`), variable substitution and text report.

pub mod eval;
pub mod jsonpath;
pub mod model;

use std::fmt::Write as _;

use kguard_model::yaml::YamlNode;

use crate::source::Source;
pub use eval::{AuditRun, CheckResult, State};
pub use model::{Controls, Group, LoadError, parse_controls};

/// The targets of a benchmark run, in kube-bench's order.
pub const TARGETS: [&str; 6] = ["master", "etcd", "controlplane", "node", "policies", "managedservices"];

/// `cfg/config.yaml`.
#[derive(Clone, Debug)]
pub struct Config {
    root: YamlNode,
}

impl Config {
    /// Parses `cfg/config.yaml`.
    ///
    /// # Errors
    /// Not YAML or not a mapping.
    pub fn parse(text: &str) -> Result<Self, LoadError> {
        Ok(Self { root: model::first_doc(text)? })
    }

    /// `version_mapping`: the benchmark for a Kubernetes version (`1.32` or `1.32.4`).
    #[must_use]
    pub fn benchmark_for_version(&self, version: &str) -> Option<String> {
        let mut parts = version.trim_start_matches('v').split('.');
        let short = format!("{}.{}", parts.next()?, parts.next()?);
        let m = self.root.get("version_mapping")?;
        let v = m.get(&short)?;
        Some(model::scalar(Some(v)))
    }

    /// `target_mapping[benchmark]`.
    #[must_use]
    pub fn targets(&self, benchmark: &str) -> Vec<String> {
        self.root
            .get("target_mapping")
            .and_then(|m| m.get(benchmark))
            .and_then(YamlNode::as_seq)
            .map(|s| s.iter().map(|n| model::scalar(Some(n))).collect())
            .unwrap_or_default()
    }

    /// kube-bench's `getBinaries`: for each component of the node type that has `bins`, the first
    /// candidate that runs (`verifyBin`: `ps -C <first word> -o cmd` over the root's /proc — the
    /// process name, 15 characters at most, is the first word — and a command line matching
    /// `^(\S*/)*<candidate>`); a component marked `optional` that does not run becomes its own
    /// name.
    ///
    /// # Errors
    /// kube-bench's refusal when a component that is not optional has no running candidate:
    /// `unable to detect running programs for component "kubelet"`.
    pub fn detect_binaries(&self, node_type: &str, src: &dyn Source) -> Result<Vec<(String, String)>, String> {
        let Some(section) = self.root.get(node_type) else { return Ok(Vec::new()) };
        let comps: Vec<String> = section
            .get("components")
            .and_then(YamlNode::as_seq)
            .map(|s| s.iter().map(|n| model::scalar(Some(n))).collect())
            .unwrap_or_default();
        let procs = processes(src);
        let mut out = Vec::new();
        for comp in comps {
            let Some(c) = section.get(&comp) else { continue };
            let bins: Vec<String> = c
                .get("bins")
                .and_then(YamlNode::as_seq)
                .map(|s| s.iter().map(|n| model::scalar(Some(n))).collect())
                .unwrap_or_default();
            if bins.is_empty() {
                continue;
            }
            let optional = c.get("optional").and_then(YamlNode::as_bool).unwrap_or(false);
            match bins.iter().find(|b| verify_bin(b, &procs)) {
                Some(b) => out.push((comp.clone(), b.clone())),
                None if optional => out.push((comp.clone(), comp.clone())),
                None => return Err(format!("unable to detect running programs for component {comp:?}")),
            }
        }
        Ok(out)
    }

    /// The variables kube-bench substitutes in a target's controls file (`$kubeletconf`, …):
    /// for each component of the node type, the first of its candidate files that exists under
    /// the source (printed with `prefix`, the root directory, in front), else the default, else
    /// the component's name; binaries: the first candidate (kube-bench looks for a running one).
    #[must_use]
    pub fn substitutions(&self, node_type: &str, src: &dyn Source, prefix: &str) -> Vec<(String, String)> {
        let Some(section) = self.root.get(node_type) else { return Vec::new() };
        let comps: Vec<String> = section
            .get("components")
            .and_then(YamlNode::as_seq)
            .map(|s| s.iter().map(|n| model::scalar(Some(n))).collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        let detected = self.detect_binaries(node_type, src);
        for comp in comps {
            let Some(c) = section.get(&comp) else { continue };
            let list = |key: &str| -> Vec<String> {
                c.get(key)
                    .and_then(YamlNode::as_seq)
                    .map(|s| s.iter().map(|n| model::scalar(Some(n))).collect())
                    .unwrap_or_default()
            };
            for (var, files, default) in [
                ("conf", "confs", "defaultconf"),
                ("svc", "svc", "defaultsvc"),
                ("kubeconfig", "kubeconfig", "defaultkubeconfig"),
                ("cafile", "cafile", "defaultcafile"),
                ("datadir", "datadirs", "defaultdatadir"),
            ] {
                let found = list(files).into_iter().find(|f| src.exists(f));
                let value = match found {
                    Some(f) => format!("{prefix}{f}"),
                    None => match c.get(default) {
                        Some(d) => format!("{prefix}{}", model::scalar(Some(d))),
                        None => comp.clone(),
                    },
                };
                out.push((format!("${comp}{var}"), value));
            }
            // kube-bench takes the candidate that runs ([`Config::detect_binaries`]); where none
            // does, the first single-word candidate (a caller that wants kube-bench's refusal
            // asks `detect_binaries` first).
            let bins = list("bins");
            let bin = match detected.as_ref().ok().and_then(|d| d.iter().find(|(c, _)| *c == comp)) {
                Some((_, b)) => Some(b.clone()),
                None => bins
                    .iter()
                    .find(|b| !b.contains(' '))
                    .or_else(|| bins.first())
                    .cloned()
                    .or_else(|| c.get("defaultbin").map(|d| model::scalar(Some(d)))),
            };
            out.push((format!("${comp}bin"), bin.unwrap_or_else(|| comp.clone())));
        }
        // Longest names first, so `$kubeletconf` never eats the start of a longer variable.
        out.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

/// The processes under the source's /proc: (name as `ps -C` sees it, command line as `ps -o cmd`
/// prints it).
fn processes(src: &dyn Source) -> Vec<(String, String)> {
    src.list_dir("/proc")
        .into_iter()
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|p| {
            let cmdline = src.read(&format!("/proc/{p}/cmdline")).ok()?;
            let cmd = cmdline.trim_end_matches('\0').replace('\0', " ");
            let comm = match src.read(&format!("/proc/{p}/comm")) {
                Ok(c) => c.trim_end_matches('\n').to_owned(),
                Err(_) => cmd.split(' ').next()?.rsplit('/').next()?.chars().take(15).collect(),
            };
            Some((comm, cmd))
        })
        .collect()
}

/// kube-bench's `verifyBin` over the processes.
fn verify_bin(bin: &str, procs: &[(String, String)]) -> bool {
    let bin = bin.trim_matches(|c| c == '\'' || c == '"');
    let Some(first) = bin.split_whitespace().next() else { return false };
    // procps matches a longer name on its first 15 characters (the kernel's comm).
    let short: String = first.chars().take(15).collect();
    let Ok(re) = regex::Regex::new(&format!(r"^(\S*/)*{bin}")) else { return false };
    procs.iter().any(|(comm, cmd)| *comm == short && re.is_match(cmd))
}

/// Replaces kube-bench's variables in a controls file's text.
#[must_use]
pub fn substitute(text: &str, vars: &[(String, String)]) -> String {
    let mut s = text.to_owned();
    for (k, v) in vars {
        s = s.replace(k.as_str(), v);
    }
    s
}

/// A controls file's results.
#[derive(Clone, Debug)]
pub struct ControlsResult {
    /// The controls.
    pub controls: Controls,
    /// One result per check, `[group][check]`.
    pub results: Vec<Vec<CheckResult>>,
}

/// Counts per state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// PASS.
    pub pass: usize,
    /// FAIL.
    pub fail: usize,
    /// WARN.
    pub warn: usize,
    /// INFO.
    pub info: usize,
}

impl Summary {
    fn add(&mut self, s: State) {
        match s {
            State::Pass => self.pass += 1,
            State::Fail => self.fail += 1,
            State::Warn => self.warn += 1,
            State::Info => self.info += 1,
        }
    }
}

impl ControlsResult {
    /// The counts.
    #[must_use]
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for r in self.results.iter().flatten() {
            s.add(r.state);
        }
        s
    }
}

/// Runs every check of a controls file (a group of type `skip` makes its checks INFO, as
/// kube-bench does).
pub fn run_controls(controls: &Controls, run: &mut dyn FnMut(&str) -> AuditRun) -> ControlsResult {
    let results = controls
        .groups
        .iter()
        .map(|g| {
            g.checks
                .iter()
                .map(|c| {
                    if g.type_ == "skip" {
                        let mut c2 = c.clone();
                        c2.type_ = "skip".to_owned();
                        eval::run_check(&c2, run)
                    } else {
                        eval::run_check(c, run)
                    }
                })
                .collect()
        })
        .collect();
    regroup(ControlsResult { controls: controls.clone(), results })
}

/// What kube-bench's `RunChecks` reports of the groups it ran: it files each check under the
/// first group with the check's group id, so the checks of a later group with an id already seen
/// join that first group (whose text stays), and a group with no checks is not reported
/// (`eks-stig-kubernetes-v1r6` has two groups `2.2`; its report has one).
#[must_use]
pub fn regroup(r: ControlsResult) -> ControlsResult {
    let ControlsResult { mut controls, results } = r;
    let mut groups: Vec<Group> = Vec::new();
    let mut merged: Vec<Vec<CheckResult>> = Vec::new();
    for (g, res) in std::mem::take(&mut controls.groups).into_iter().zip(results) {
        if g.checks.is_empty() {
            continue;
        }
        match groups.iter().position(|x| x.id == g.id) {
            Some(i) => {
                if let (Some(first), Some(first_res)) = (groups.get_mut(i), merged.get_mut(i)) {
                    first.checks.extend(g.checks);
                    first_res.extend(res);
                }
            }
            None => {
                groups.push(g);
                merged.push(res);
            }
        }
    }
    controls.groups = groups;
    ControlsResult { controls, results: merged }
}

fn write_summary(out: &mut String, s: Summary, name: &str) {
    let _ = write!(
        out,
        "== Summary {name} ==\n{} checks PASS\n{} checks FAIL\n{} checks WARN\n{} checks INFO\n\n",
        s.pass, s.fail, s.warn, s.info
    );
}

/// kube-bench's text report (`prettyPrint` for each controls file, then the total summary when
/// there is more than one).
#[must_use]
pub fn render_text(results: &[ControlsResult]) -> String {
    let mut out = String::new();
    let mut total = Summary::default();
    for r in results {
        let c = &r.controls;
        let summary = r.summary();
        let _ = writeln!(out, "[INFO] {} {}", c.id, c.text);
        for (g, res) in c.groups.iter().zip(&r.results) {
            let _ = writeln!(out, "[INFO] {} {}", g.id, g.text);
            for (chk, cr) in g.checks.iter().zip(res) {
                let _ = writeln!(out, "[{}] {} {}", cr.state.as_str(), chk.id, chk.text);
            }
        }
        out.push('\n');
        if summary.fail > 0 || summary.warn > 0 {
            let _ = writeln!(out, "== Remediations {} ==", c.node_type);
            for (g, res) in c.groups.iter().zip(&r.results) {
                for (chk, cr) in g.checks.iter().zip(res) {
                    match cr.state {
                        State::Fail => {
                            let _ = writeln!(out, "{} {}", chk.id, chk.remediation);
                        }
                        State::Warn if !cr.reason.is_empty() && chk.type_ != "manual" => {
                            let _ = writeln!(out, "{} audit test did not run: {}", chk.id, cr.reason);
                        }
                        State::Warn => {
                            let _ = writeln!(out, "{} {}", chk.id, chk.remediation);
                        }
                        _ => {}
                    }
                }
            }
            out.push('\n');
        }
        write_summary(&mut out, summary, &c.node_type);
        total.pass += summary.pass;
        total.fail += summary.fail;
        total.warn += summary.warn;
        total.info += summary.info;
    }
    if results.len() > 1 {
        write_summary(&mut out, total, "total");
    }
    out
}

/// kube-bench's JSON (`--json`): `Controls` with `tests` → `results`, and the totals.
#[must_use]
pub fn render_json(results: &[ControlsResult]) -> serde_json::Value {
    use serde_json::json;
    let mut controls = Vec::new();
    let mut total = Summary::default();
    for r in results {
        let s = r.summary();
        total.pass += s.pass;
        total.fail += s.fail;
        total.warn += s.warn;
        total.info += s.info;
        let tests: Vec<serde_json::Value> = r
            .controls
            .groups
            .iter()
            .zip(&r.results)
            .map(|(g, res)| {
                let mut gs = Summary::default();
                res.iter().for_each(|c| gs.add(c.state));
                json!({
                    "section": g.id, "type": g.type_, "pass": gs.pass, "fail": gs.fail, "warn": gs.warn, "info": gs.info,
                    "desc": g.text,
                    "results": g.checks.iter().zip(res).map(|(c, cr)| json!({
                        "test_number": c.id, "test_desc": c.text, "audit": c.audit, "AuditEnv": c.audit_env,
                        "AuditConfig": c.audit_config, "type": c.type_, "remediation": c.remediation,
                        "test_info": [c.remediation], "status": cr.state.as_str(), "actual_value": cr.actual_value,
                        "scored": c.scored, "IsMultiple": c.use_multiple_values, "expected_result": cr.expected_result,
                        "reason": cr.reason,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        controls.push(json!({
            "id": r.controls.id, "version": r.controls.version, "detected_version": "", "text": r.controls.text,
            "node_type": r.controls.node_type, "tests": tests,
            "total_pass": s.pass, "total_fail": s.fail, "total_warn": s.warn, "total_info": s.info,
        }));
    }
    json!({"Controls": controls, "Totals": {"total_pass": total.pass, "total_fail": total.fail, "total_warn": total.warn, "total_info": total.info}})
}

/// Go's `json.Marshal` of kube-bench's `Check` (field order of the struct, `reason` omitted when
/// empty, `<`, `>`, `&`, U+2028 and U+2029 escaped as Go escapes them).
fn go_check_json(c: &model::Check, cr: &CheckResult) -> String {
    let mut v = serde_json::json!({
        "test_number": c.id, "test_desc": c.text, "audit": c.audit, "AuditEnv": c.audit_env,
        "AuditConfig": c.audit_config, "type": c.type_, "remediation": c.remediation,
        "test_info": [c.remediation], "status": cr.state.as_str(), "actual_value": cr.actual_value,
        "scored": c.scored, "IsMultiple": c.use_multiple_values, "expected_result": cr.expected_result,
    });
    if let Some(m) = v.as_object_mut().filter(|_| !cr.reason.is_empty()) {
        m.insert("reason".to_owned(), serde_json::Value::String(cr.reason.clone()));
    }
    let text = v.to_string();
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `xml.EscapeText` (attributes and character data alike): `"'&<>`, tab, newline and
/// carriage return as character references, characters XML cannot hold as U+FFFD.
fn go_xml_escape(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c if matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}') => {
                out.push(c)
            }
            _ => out.push('\u{FFFD}'),
        }
    }
}

/// kube-bench's `--junit` output: for each controls file, `Controls.JUnit()` (ginkgo's
/// `JUnitTestSuite` encoded by Go's `encoding/xml` with four-space indentation, no XML header),
/// each followed by a newline as `printOutput` prints it. A test case per check: FAIL carries
/// `<failure type="">` with the remediation, WARN and INFO are `<skipped>`, and the check's JSON is
/// the `system-out`.
#[must_use]
pub fn render_junit(results: &[ControlsResult]) -> String {
    let mut out = String::new();
    for r in results {
        let s = r.summary();
        out.push_str("<testsuite name=\"");
        go_xml_escape(&r.controls.text, &mut out);
        let _ = write!(
            out,
            "\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"0\">",
            s.pass + s.fail + s.info + s.warn,
            s.fail
        );
        for (g, res) in r.controls.groups.iter().zip(&r.results) {
            for (c, cr) in g.checks.iter().zip(res) {
                out.push_str("\n    <testcase name=\"");
                go_xml_escape(&format!("{} {}", c.id, c.text), &mut out);
                out.push_str("\" classname=\"");
                go_xml_escape(&g.text, &mut out);
                out.push_str("\" time=\"0\">");
                match cr.state {
                    State::Fail => {
                        out.push_str("\n        <failure type=\"\">");
                        go_xml_escape(&c.remediation, &mut out);
                        out.push_str("</failure>");
                    }
                    State::Warn | State::Info => out.push_str("\n        <skipped></skipped>"),
                    State::Pass => {}
                }
                out.push_str("\n        <system-out>");
                go_xml_escape(&go_check_json(c, cr), &mut out);
                out.push_str("</system-out>\n    </testcase>");
            }
        }
        // An element without children closes on its own line's end (Go's encoder).
        let any = r.results.iter().any(|g| !g.is_empty());
        out.push_str(if any { "\n</testsuite>\n" } else { "</testsuite>\n" });
    }
    out
}

const KB_DOC: &str = "https://github.com/aquasecurity/kube-bench/blob/main/docs/controls.md";

/// KB001.
pub const CHECK_FAILED: kguard_report::RuleMeta = kguard_report::RuleMeta {
    id: "KB001",
    name: "cis-check-failed",
    family: "node-cis",
    severity: kguard_report::Severity::High,
    title: "A scored CIS benchmark check fails",
    what: "A scored check of kube-bench's CIS definitions (cfg/<benchmark>/<target>.yaml), evaluated as kube-bench evaluates it, is FAIL. The finding's title is the check's text; the message gives kube-bench's expectation and the audit output.",
    why: "The CIS Kubernetes Benchmark is the consensus baseline for node and control-plane settings: file permissions, kubelet authentication, TLS, profiling, audit.",
    fix: "Apply the check's remediation (printed with the finding and in `kguard node cis`).",
    references: &[KB_DOC],
    aliases: &["kube-bench"],
    opt_in: false,
};
/// KB002.
pub const CHECK_WARN: kguard_report::RuleMeta = kguard_report::RuleMeta {
    id: "KB002",
    name: "cis-check-warn",
    family: "node-cis",
    severity: kguard_report::Severity::Info,
    title: "A CIS benchmark check needs a manual review or could not run",
    what: "A check is WARN: manual, not scored and failing, or its audit command failed or timed out (the reason is in the message).",
    why: "kube-bench leaves these to a person; an audit that cannot run hides the state it was meant to show.",
    fix: "Review the check by hand (its remediation), or fix what kept its audit from running.",
    references: &[KB_DOC],
    aliases: &[],
    opt_in: false,
};

/// Findings for FAIL (KB001) and, when `warn` is set, WARN (KB002) results.
#[must_use]
pub fn findings(results: &[ControlsResult], warn: bool) -> Vec<kguard_report::Finding> {
    let mut out = Vec::new();
    for r in results {
        for (g, res) in r.controls.groups.iter().zip(&r.results) {
            for (c, cr) in g.checks.iter().zip(res) {
                let rule = match cr.state {
                    State::Fail => &CHECK_FAILED,
                    State::Warn if warn => &CHECK_WARN,
                    _ => continue,
                };
                let mut msg = format!("[{}] {} {}", cr.state.as_str(), c.id, c.text);
                if !cr.expected_result.is_empty() {
                    let _ = write!(msg, "; expected {}", cr.expected_result);
                }
                if !cr.reason.is_empty() {
                    let _ = write!(msg, "; {}", cr.reason);
                }
                let actual = cr.actual_value.trim();
                if !actual.is_empty() {
                    let short: String = actual.chars().take(200).collect();
                    let _ = write!(msg, "; audit output: {short}");
                }
                let mut f = kguard_report::Finding::new(
                    rule,
                    msg,
                    None,
                    Some(format!("{}/{}", r.controls.version, c.id)),
                    None,
                );
                f.title = std::borrow::Cow::Owned(format!("CIS {} {}", c.id, c.text));
                if !c.remediation.is_empty() {
                    f.remediation = Some(std::borrow::Cow::Owned(c.remediation.trim_end().to_owned()));
                }
                out.push(f);
            }
        }
    }
    out
}

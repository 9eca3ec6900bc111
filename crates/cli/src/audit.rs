//! `kguard audit`: evaluate and lint Kubernetes audit policies.

use std::path::{Path, PathBuf};

use kguard_audit::{Policy, RequestAttributes};
use kguard_model::yaml;
use kguard_report::{Report, Summary};

use crate::output::{self, Format};

/// The formats `audit eval` and `audit lint` write.
const FORMATS: &[Format] = &[Format::Table, Format::Json, Format::Yaml];

/// `kguard audit` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Evaluate an audit policy for one request: level, omitted stages, matching rule.
    Eval {
        /// The audit.k8s.io/v1 Policy file.
        policy: PathBuf,
        /// User name, as kubectl's `--as` (omit for a request without user).
        #[arg(long = "as", alias = "user", value_name = "USER")]
        user: Option<String>,
        /// A group of the user (repeatable), as kubectl's `--as-group`.
        #[arg(long = "as-group", alias = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Verb (get, list, watch, create, update, patch, delete, …).
        #[arg(long)]
        verb: String,
        /// Resource, `res` or `res/subresource` (a resource request), as kubectl names it: a
        /// plural, singular or short name (`deploy`), optionally `RESOURCE.GROUP`; resolved to its
        /// group and plural (`deployments.apps`) with a warning when Kubernetes has no such
        /// resource.
        #[arg(long, conflicts_with = "path")]
        resource: Option<String>,
        /// API group of the resource (`""` is core); by default the group of the resource's name.
        #[arg(long, value_name = "GROUP")]
        api_group: Option<String>,
        /// Namespace (empty: cluster-scoped).
        #[arg(short = 'n', long, default_value = "")]
        namespace: String,
        /// Object name.
        #[arg(long, default_value = "")]
        name: String,
        /// Non-resource URL path, e.g. `/healthz`.
        #[arg(long)]
        path: Option<String>,
        /// Output format: `table` (text), `json` or `yaml` (docs/cli.md).
        #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
              value_parser = output::parser(FORMATS))]
        output: Format,
        /// The same as `-o json` (kept for scripts).
        #[arg(long, hide = true)]
        json: bool,
    },
    /// Lint audit policies (AUD001…).
    Lint {
        /// Policy files.
        #[arg(required = true)]
        policies: Vec<PathBuf>,
        /// Report format: `table`, `json` (kguard.report/v1, docs/report-json.md), `sarif`, `junit`.
        #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
              value_parser = output::parser(&[Format::Table, Format::Json, Format::Sarif, Format::Junit]))]
        output: Format,
        /// Write the report to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
}

fn read_policy(path: &Path) -> Result<Policy, ()> {
    let text = std::fs::read_to_string(path).map_err(|e| eprintln!("error: {}: {e}", path.display()))?;
    let Some(doc) = yaml::parse_documents(&text).into_iter().find(|d| !matches!(d.root, Ok(None))) else {
        eprintln!("error: {}: empty document", path.display());
        return Err(());
    };
    let root = match doc.root {
        Ok(Some(r)) => r,
        Ok(None) => return Err(()),
        Err(e) => {
            eprintln!("{}:{}: error: {}", path.display(), e.pos, e.message);
            return Err(());
        }
    };
    let check = kguard_audit::check_policy(&root);
    for w in &check.warnings {
        eprintln!("{}:{}: warning: {}", path.display(), w.pos, w.message);
    }
    for e in &check.errors {
        eprintln!("{}:{}: error: {}", path.display(), e.pos, e.message);
    }
    check.policy.ok_or(())
}

/// Runs a `kguard audit` subcommand; returns the exit code.
pub fn run(cmd: &AuditCommand) -> u8 {
    match cmd {
        AuditCommand::Eval { policy, user, groups, verb, resource, api_group, namespace, name, path, output, json } => {
            let Ok(p) = read_policy(policy) else { return crate::exit::ERROR };
            // kubectl's names (`deploy`, `deployments.apps`) resolved to group and plural
            let (group, res, sub) = match resource {
                Some(r) => {
                    let resolved = match api_group {
                        Some(g) => kguard_discovery::resolve_in_group(r, Some(g)),
                        None => kguard_discovery::resolve(r),
                    };
                    let mut warnings = resolved.warnings.clone();
                    warnings.extend(kguard_discovery::check_request(verb, &resolved, namespace));
                    for w in warnings {
                        eprintln!("warning: {w}");
                    }
                    (resolved.group, resolved.resource, resolved.subresource)
                }
                None => {
                    if let Some(w) = path.as_ref().and_then(|_| kguard_discovery::check_non_resource_verb(verb)) {
                        eprintln!("warning: {w}");
                    }
                    (api_group.clone().unwrap_or_default(), String::new(), String::new())
                }
            };
            // kube-apiserver evaluates the policy for the authenticated user, whose groups always
            // include `system:authenticated` (`system:unauthenticated` for `system:anonymous`)
            let groups = match user {
                Some(u) => kguard_request::UserInfo::impersonated(u, groups).groups,
                None => groups.clone(),
            };
            let attrs = RequestAttributes {
                user: user.clone(),
                groups,
                verb: verb.clone(),
                resource_request: resource.is_some() || path.is_none(),
                api_group: group,
                resource: res,
                subresource: sub,
                namespace: namespace.clone(),
                name: name.clone(),
                path: path.clone().unwrap_or_default(),
            };
            let d = p.evaluate(&attrs);
            let stages: Vec<&str> = d.omit_stages.iter().map(|s| s.as_str()).collect();
            let recorded: Vec<&str> = d.stages(&attrs).iter().map(|s| s.as_str()).collect();
            let format = if *json { Format::Json } else { *output };
            if format != Format::Table {
                let v = serde_json::json!({
                    "level": d.level.as_str(),
                    "omitStages": stages,
                    "stages": recorded,
                    "omitManagedFields": d.omit_managed_fields,
                    "rule": d.rule,
                    "line": d.rule.and_then(|i| p.rules.get(i)).map(|r| r.pos.line),
                });
                if let Err(e) = output::structured(&mut std::io::stdout().lock(), format, &v) {
                    return output::write_failed(&e, "the answer");
                }
            } else {
                let rule = d.rule.and_then(|i| p.rules.get(i).map(|r| format!("rule {i} (line {})", r.pos.line)));
                println!("level: {}", d.level);
                println!("omitStages: [{}]", stages.join(", "));
                println!("stages: [{}]", recorded.join(", "));
                println!("omitManagedFields: {}", d.omit_managed_fields);
                println!("matched: {}", rule.unwrap_or_else(|| "no rule (default level None)".to_owned()));
            }
            crate::exit::CLEAN
        }
        AuditCommand::Lint { policies, output, output_file } => lint(policies, *output, output_file.as_deref()),
    }
}

/// `kguard audit lint`: the findings as a `kguard.report/v1` report (like `scan` and `rbac risks`).
fn lint(policies: &[PathBuf], format: Format, output_file: Option<&Path>) -> u8 {
    let mut status = crate::exit::CLEAN;
    let mut findings = Vec::new();
    let mut read = 0;
    for path in policies {
        let Ok(p) = read_policy(path) else {
            status = crate::exit::ERROR;
            continue;
        };
        read += 1;
        findings.extend(kguard_audit::lint(&p, &path.display().to_string()));
    }
    let n = findings.len();
    let report = Report {
        summary: Summary { files: policies.len(), documents: read, objects: read, scanned: read, ..Summary::default() },
        findings,
        rules: kguard_audit::RULES.to_vec(),
        ..Report::default()
    };
    if let Err(code) = output::write_report(format, &report, output_file) {
        return code;
    }
    if status == crate::exit::CLEAN && n > 0 { crate::exit::FINDINGS } else { status }
}

//! `kguard audit`: evaluate and lint Kubernetes audit policies.

use std::path::{Path, PathBuf};

use kguard_engine::audit::{self, Policy, RequestAttributes};
use kguard_model::yaml;

/// Output format of `audit lint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    /// `file:line:column: ID [severity] message` lines.
    Text,
    /// A JSON array of findings.
    Json,
}

/// `kguard audit` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Evaluate an audit policy for one request: level, omitted stages, matching rule.
    Eval {
        /// The audit.k8s.io/v1 Policy file.
        policy: PathBuf,
        /// User name (omit for a request without user).
        #[arg(long)]
        user: Option<String>,
        /// A group of the user (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Verb (get, list, watch, create, update, patch, delete, …).
        #[arg(long)]
        verb: String,
        /// Resource, `res` or `res/subresource` (a resource request).
        #[arg(long, conflicts_with = "path")]
        resource: Option<String>,
        /// API group of the resource (`""` is core).
        #[arg(long, default_value = "")]
        api_group: String,
        /// Namespace (empty: cluster-scoped).
        #[arg(long, default_value = "")]
        namespace: String,
        /// Object name.
        #[arg(long, default_value = "")]
        name: String,
        /// Non-resource URL path, e.g. `/healthz`.
        #[arg(long)]
        path: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lint audit policies (AUD001…).
    Lint {
        /// Policy files.
        #[arg(required = true)]
        policies: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: LintFormat,
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
    audit::parse_policy(&root).map_err(|errs| {
        for e in errs {
            eprintln!("{}:{}: error: {}", path.display(), e.pos, e.message);
        }
    })
}

/// Runs a `kguard audit` subcommand; returns the exit code.
pub fn run(cmd: &AuditCommand) -> u8 {
    match cmd {
        AuditCommand::Eval { policy, user, groups, verb, resource, api_group, namespace, name, path, json } => {
            let Ok(p) = read_policy(policy) else { return crate::exit::ERROR };
            let (res, sub) = match resource.as_deref().map(|r| r.split_once('/').unwrap_or((r, ""))) {
                Some((r, s)) => (r.to_owned(), s.to_owned()),
                None => (String::new(), String::new()),
            };
            let attrs = RequestAttributes {
                user: user.clone(),
                groups: groups.clone(),
                verb: verb.clone(),
                resource_request: resource.is_some() || path.is_none(),
                api_group: api_group.clone(),
                resource: res,
                subresource: sub,
                namespace: namespace.clone(),
                name: name.clone(),
                path: path.clone().unwrap_or_default(),
            };
            let d = p.evaluate(&attrs);
            let stages: Vec<&str> = d.omit_stages.iter().map(|s| s.as_str()).collect();
            if *json {
                let v = serde_json::json!({
                    "level": d.level.as_str(),
                    "omitStages": stages,
                    "omitManagedFields": d.omit_managed_fields,
                    "rule": d.rule,
                    "line": d.rule.and_then(|i| p.rules.get(i)).map(|r| r.pos.line),
                });
                println!("{v}");
            } else {
                let rule = d.rule.and_then(|i| p.rules.get(i).map(|r| format!("rule {i} (line {})", r.pos.line)));
                println!("level: {}", d.level);
                println!("omitStages: [{}]", stages.join(", "));
                println!("omitManagedFields: {}", d.omit_managed_fields);
                println!("matched: {}", rule.unwrap_or_else(|| "no rule (default level None)".to_owned()));
            }
            crate::exit::CLEAN
        }
        AuditCommand::Lint { policies, format } => {
            let mut status = crate::exit::CLEAN;
            let mut all = Vec::new();
            for path in policies {
                let Ok(p) = read_policy(path) else {
                    status = crate::exit::ERROR;
                    continue;
                };
                all.extend(audit::lint(&p, &path.display().to_string()));
            }
            match format {
                LintFormat::Text => {
                    for f in &all {
                        let loc = f.location.as_ref().map_or_else(String::new, |l| format!("{l}: "));
                        println!("{loc}{} [{}] {}", f.rule_id, f.severity, f.message);
                    }
                }
                LintFormat::Json => {
                    let v: Vec<serde_json::Value> = all
                        .iter()
                        .map(|f| {
                            serde_json::json!({
                                "rule": f.rule_id,
                                "severity": f.severity.as_str(),
                                "title": f.title,
                                "message": f.message,
                                "pointer": f.pointer,
                                "file": f.location.as_ref().map(|l| l.file.to_string()),
                                "line": f.location.as_ref().and_then(|l| l.pos).map(|p| p.line),
                                "column": f.location.as_ref().and_then(|l| l.pos).map(|p| p.column),
                                "remediation": f.remediation,
                                "references": f.references,
                            })
                        })
                        .collect();
                    println!("{}", serde_json::Value::Array(v));
                }
            }
            if status == crate::exit::CLEAN && !all.is_empty() { crate::exit::FINDINGS } else { status }
        }
    }
}

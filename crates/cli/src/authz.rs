//! `kguard can-i`, `kguard who-can` and `kguard rbac risks`: the authorization engine over
//! manifests (`-f PATH...`), like `kubectl auth can-i` against a cluster.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use kguard_engine::authz::abac::AbacPolicy;
use kguard_engine::authz::attrs::{Attributes, UserInfo, forbidden_status_message};
use kguard_engine::authz::{Chain, Mode, Rbac, RulesReview, defaults};
use kguard_model::load;
use kguard_model::{Diagnostic, DiagnosticLevel, Object};
use kguard_report::{Format, RenderOptions, Report, Summary};

/// Exit code: allowed / no findings.
const YES: u8 = 0;
/// Exit code: denied / findings.
const NO: u8 = 1;
/// Exit code: input or usage error.
const ERROR: u8 = 2;

/// Arguments of `kguard can-i`.
#[derive(clap::Args, Debug, Clone)]
pub struct CanIArgs {
    /// The verb (`get`, `list`, `create`, `impersonate`, ...; for URLs the lower-case HTTP method).
    #[arg(required_unless_present = "list")]
    pub verb: Option<String>,
    /// `RESOURCE[.GROUP][/SUBRESOURCE]` (e.g. `pods/exec`, `deployments.apps`), or a URL path
    /// starting with `/` for non-resource requests.
    #[arg(required_unless_present = "list")]
    pub resource: Option<String>,
    /// The object name.
    pub name: Option<String>,
    /// The user to check (as `kubectl --as`); `system:serviceaccount:NS:NAME` for service accounts.
    #[arg(long = "as", value_name = "USER")]
    pub as_user: String,
    /// Groups of the user (repeatable). `system:authenticated` is added, as kube-apiserver does.
    #[arg(long = "as-group", value_name = "GROUP")]
    pub as_group: Vec<String>,
    /// The namespace (empty: cluster scope).
    #[arg(short, long, default_value = "")]
    pub namespace: String,
    /// Manifests holding the RBAC objects (and pods, PVs, ... for the Node authorizer).
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Authorizers in order, as kube-apiserver's flag (`RBAC,Node,ABAC,AlwaysAllow,AlwaysDeny`).
    #[arg(long, default_value = "Node,RBAC")]
    pub authorization_mode: String,
    /// The ABAC policy file (JSON lines).
    #[arg(long, value_name = "FILE")]
    pub authorization_policy_file: Option<PathBuf>,
    /// Add the default ClusterRoles and ClusterRoleBindings of a v1.32 cluster.
    #[arg(long)]
    pub with_defaults: bool,
    /// Explain the decision: which binding and rule allowed it, or why nothing did.
    #[arg(long)]
    pub explain: bool,
    /// List the rules the user holds in the namespace (SelfSubjectRulesReview).
    #[arg(long)]
    pub list: bool,
    /// Field selector of a list/watch (`spec.nodeName=n1`), repeatable.
    #[arg(long = "field-selector", value_name = "KEY=VALUE")]
    pub field_selector: Vec<String>,
}

/// Arguments of `kguard who-can`.
#[derive(clap::Args, Debug, Clone)]
pub struct WhoCanArgs {
    /// The verb.
    pub verb: String,
    /// `RESOURCE[.GROUP][/SUBRESOURCE]`, or a URL path starting with `/`.
    pub resource: String,
    /// The object name.
    pub name: Option<String>,
    /// The namespace (empty: cluster scope, ClusterRoleBindings only).
    #[arg(short, long, default_value = "")]
    pub namespace: String,
    /// Manifests holding the RBAC objects.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Add the default ClusterRoles and ClusterRoleBindings of a v1.32 cluster.
    #[arg(long)]
    pub with_defaults: bool,
}

/// Report formats of `kguard rbac risks`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RisksFormat {
    /// Human-readable table.
    Table,
    /// kguard JSON report.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
}

/// Arguments of `kguard rbac risks`.
#[derive(clap::Args, Debug, Clone)]
pub struct RisksArgs {
    /// Manifests holding the RBAC objects.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Add the default ClusterRoles and ClusterRoleBindings (they resolve references such as
    /// `edit`; defaults themselves are not reported).
    #[arg(long)]
    pub with_defaults: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RisksFormat::Table)]
    pub format: RisksFormat,
}

/// `kguard rbac ...`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum RbacCommand {
    /// Report dangerous grants, risky bindings and escalation paths (RBAC001...).
    Risks(RisksArgs),
}

/// Runs `kguard rbac ...`; returns the exit code.
pub fn run_rbac(cmd: &RbacCommand) -> u8 {
    match cmd {
        RbacCommand::Risks(args) => run_risks(args),
    }
}

fn load_objects(paths: &[PathBuf], with_defaults: bool) -> Result<Vec<Object>, u8> {
    let (inputs, mut diagnostics) = load::expand_paths(paths);
    let mut objects = Vec::new();
    for input in &inputs {
        let p = load::load_input(input);
        diagnostics.extend(p.diagnostics);
        objects.extend(p.objects);
    }
    if with_defaults {
        objects.extend(defaults::objects());
    }
    let mut failed = false;
    for d in &diagnostics {
        print_diag(d);
        failed |= d.level == DiagnosticLevel::Error;
    }
    if failed && objects.is_empty() {
        return Err(ERROR);
    }
    Ok(objects)
}

fn print_diag(d: &Diagnostic) {
    eprintln!("{}: {}: {} [{}]", d.level.as_str(), d.location, d.message, d.code);
}

/// Splits `RESOURCE[.GROUP][/SUB]` into (group, `resource[/sub]`).
fn split_resource(spec: &str) -> (String, String) {
    let (main, sub) = spec.split_once('/').map_or((spec, None), |(m, s)| (m, Some(s)));
    let (resource, group) = main.split_once('.').unwrap_or((main, ""));
    let resource = resource.to_ascii_lowercase();
    let combined = match sub {
        Some(s) => format!("{resource}/{s}"),
        None => resource,
    };
    (group.to_owned(), combined)
}

fn request(user: UserInfo, verb: &str, resource: &str, name: &str, namespace: &str) -> Attributes {
    if resource.starts_with('/') {
        return Attributes::non_resource(user, verb, resource);
    }
    let (group, resource) = split_resource(resource);
    Attributes::resource(user, verb, &group, &resource, namespace, name)
}

/// Runs `kguard can-i`; prints `yes` or `no` (and, with `--explain`, why). Exit 0 yes, 1 no, 2 error.
pub fn run_can_i(args: &CanIArgs) -> u8 {
    let modes = match Mode::parse_list(&args.authorization_mode) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: --authorization-mode: {e}");
            return ERROR;
        }
    };
    let abac = match &args.authorization_policy_file {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match AbacPolicy::parse(&path.display().to_string(), &text) {
                Ok(p) => {
                    if p.unversioned_lines() > 0 {
                        eprintln!(
                            "warning: policy file {} contains unversioned rules, consider updating to abac.authorization.kubernetes.io/v1beta1",
                            path.display()
                        );
                    }
                    Some(p)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ERROR;
                }
            },
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ERROR;
            }
        },
    };
    if abac.is_some() && !modes.contains(&Mode::Abac) {
        eprintln!("warning: --authorization-policy-file is ignored: ABAC is not in --authorization-mode");
    }
    let objects = match load_objects(&args.paths, args.with_defaults) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let chain = match Chain::from_modes(&modes, &objects, abac) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ERROR;
        }
    };
    let user = UserInfo::impersonated(&args.as_user, &args.as_group);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.list {
        let review = chain.rules_for(&user, &args.namespace);
        let _ = print_rules(&mut out, &review);
        let _ = out.flush();
        return YES;
    }
    let verb = args.verb.clone().unwrap_or_default();
    let resource = args.resource.clone().unwrap_or_default();
    let mut attrs = request(user, &verb, &resource, args.name.as_deref().unwrap_or(""), &args.namespace);
    for fs in &args.field_selector {
        match fs.split_once('=') {
            Some((k, v)) => attrs = attrs.with_field(k.trim_end_matches('='), v),
            None => {
                eprintln!("error: --field-selector {fs:?}: expected KEY=VALUE");
                return ERROR;
            }
        }
    }
    let decision = if args.explain { chain.explain(&attrs) } else { chain.decide(&attrs) };
    let allowed = decision.allowed();
    let _ = writeln!(out, "{}", if allowed { "yes" } else { "no" });
    if args.explain {
        if allowed {
            if decision.reason.is_empty() {
                let by = if decision.authorizer.is_empty() { "the chain" } else { decision.authorizer };
                let _ = writeln!(out, "allowed by {by}");
            } else {
                let _ = writeln!(out, "{}", decision.reason);
            }
            if let Some(g) = &decision.grant {
                let _ = writeln!(out, "  binding: {}", g.binding);
                if let Some(l) = &g.subject_location {
                    let _ = writeln!(out, "  subject: {} {} ({l})", g.subject.kind, g.subject.name);
                }
                let _ = writeln!(out, "  role:    {}", g.role);
                match &g.rule_location {
                    Some(l) => {
                        let _ = writeln!(out, "  rule {}: {} ({l})", g.rule_index, g.rule);
                    }
                    None => {
                        let _ = writeln!(out, "  rule {}: {}", g.rule_index, g.rule);
                    }
                }
            }
        } else {
            let _ = writeln!(out, "{}", forbidden_status_message(&attrs, &decision.reason));
        }
        for n in &decision.notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    let _ = out.flush();
    if allowed { YES } else { NO }
}

fn print_rules(out: &mut dyn Write, review: &RulesReview) -> std::io::Result<()> {
    writeln!(out, "{:<50} {:<40} {:<20} VERBS", "RESOURCES", "NON-RESOURCE URLS", "RESOURCE NAMES")?;
    for r in &review.resource_rules {
        let resources: Vec<String> = r
            .resources
            .iter()
            .flat_map(|res| {
                r.api_groups.iter().map(move |g| if g.is_empty() { res.clone() } else { format!("{res}.{g}") })
            })
            .collect();
        writeln!(
            out,
            "{:<50} {:<40} {:<20} [{}]",
            resources.join(", "),
            "[]",
            format!("[{}]", r.resource_names.join(" ")),
            r.verbs.join(" ")
        )?;
    }
    for r in &review.non_resource_rules {
        writeln!(
            out,
            "{:<50} {:<40} {:<20} [{}]",
            "",
            format!("[{}]", r.non_resource_urls.join(" ")),
            "[]",
            r.verbs.join(" ")
        )?;
    }
    if review.incomplete {
        writeln!(out, "(incomplete: {})", review.evaluation_error)?;
    }
    Ok(())
}

/// Runs `kguard who-can`: every subject a binding grants the request to, with the binding path.
/// Exit 0 when someone can, 1 when nobody can, 2 on errors.
pub fn run_who_can(args: &WhoCanArgs) -> u8 {
    let objects = match load_objects(&args.paths, args.with_defaults) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let rbac = Rbac::from_objects(&objects);
    for d in rbac.diagnostics() {
        print_diag(d);
    }
    let attrs =
        request(UserInfo::default(), &args.verb, &args.resource, args.name.as_deref().unwrap_or(""), &args.namespace);
    let answers = rbac.who_can(&attrs);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let _ = writeln!(out, "{:<45} {:<50} {:<40} RULE", "SUBJECT", "BINDING", "ROLE");
    let _ = writeln!(out, "{:<45} {:<50} {:<40} -", "group system:masters", "(privileged group)", "-");
    for w in &answers {
        let _ = writeln!(
            out,
            "{:<45} {:<50} {:<40} {}",
            w.subject.short(&w.binding_namespace),
            w.binding.to_string(),
            w.role.to_string(),
            w.rule
        );
    }
    let _ = out.flush();
    if answers.is_empty() { NO } else { YES }
}

/// Runs `kguard rbac risks`; exit 1 when there are findings.
pub fn run_risks(args: &RisksArgs) -> u8 {
    let objects = match load_objects(&args.paths, args.with_defaults) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let rbac = Rbac::from_objects(&objects);
    let findings = kguard_engine::authz::risks(&rbac);
    let n = findings.len();
    let report = Report {
        findings,
        diagnostics: rbac.diagnostics().to_vec(),
        summary: Summary {
            objects: objects.len(),
            scanned: rbac.roles().len() + rbac.bindings().len(),
            ..Summary::default()
        },
        rules: kguard_engine::authz::RULES.to_vec(),
    };
    let format = match args.format {
        RisksFormat::Table => Format::Table,
        RisksFormat::Json => Format::Json,
        RisksFormat::Sarif => Format::Sarif,
        RisksFormat::Junit => Format::Junit,
    };
    let opts = RenderOptions { tool_version: env!("CARGO_PKG_VERSION").to_owned(), ..RenderOptions::default() };
    let stdout = std::io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    match kguard_report::render(format, &report, &mut w, &opts).and_then(|()| w.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            return ERROR;
        }
    }
    if n > 0 { NO } else { YES }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_specs() {
        assert_eq!(split_resource("pods"), (String::new(), "pods".to_owned()));
        assert_eq!(split_resource("pods/exec"), (String::new(), "pods/exec".to_owned()));
        assert_eq!(split_resource("deployments.apps/scale"), ("apps".to_owned(), "deployments/scale".to_owned()));
        assert_eq!(
            split_resource("clusterroles.rbac.authorization.k8s.io"),
            ("rbac.authorization.k8s.io".to_owned(), "clusterroles".to_owned())
        );
    }
}

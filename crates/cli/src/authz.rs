//! `kguard can-i`, `kguard who-can` and `kguard rbac risks`: the authorization engine over
//! manifests (`-f PATH...`), like `kubectl auth can-i` against a cluster.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};

use kguard_authz::abac::AbacPolicy;
use kguard_authz::{Chain, Mode, Rbac, RulesReview, defaults};
use kguard_model::load;
use kguard_model::{Diagnostic, DiagnosticLevel, Object};
use kguard_report::{Report, Summary};

use crate::output::{self, Format};
use kguard_request::{Attributes, UserInfo, forbidden_status_message};

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
    /// Ask for all namespaces at once, as kubectl's `-A` does: the request names no namespace, so
    /// only cluster-wide grants (ClusterRoleBindings) answer it.
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Manifests holding the RBAC objects (and pods, PVs, ... for the Node authorizer).
    #[arg(short = 'f', long = "filename", value_name = "PATH",
          required_unless_present_any = ["cluster", "kubeconfig", "context", "in_cluster"])]
    pub paths: Vec<PathBuf>,
    /// Read the RBAC objects and the Node authorizer's (Pods, PVs, VolumeAttachments,
    /// ResourceSlices) from a live cluster.
    #[command(flatten)]
    pub source: crate::cluster::ClusterArgs,
    /// Authorizers in order, as kube-apiserver's flag (`RBAC,Node,ABAC,AlwaysAllow,AlwaysDeny`).
    #[arg(long, default_value = "Node,RBAC")]
    pub authorization_mode: String,
    /// The ABAC policy file (JSON lines).
    #[arg(long, value_name = "FILE")]
    pub authorization_policy_file: Option<PathBuf>,
    /// Add the default RBAC policy of a v1.36 cluster (ClusterRoles, ClusterRoleBindings, kube-system Roles and RoleBindings).
    #[arg(long)]
    pub with_defaults: bool,
    /// Explain the decision: which binding and rule allowed it, or why nothing did.
    #[arg(long)]
    pub explain: bool,
    /// List the rules the user holds in the namespace (SelfSubjectRulesReview).
    #[arg(long)]
    pub list: bool,
    /// With `--list`: no header line (kubectl's `--no-headers`).
    #[arg(long, requires = "list")]
    pub no_headers: bool,
    /// Field selector of a list/watch (`spec.nodeName=n1`), repeatable.
    #[arg(long = "field-selector", value_name = "KEY=VALUE")]
    pub field_selector: Vec<String>,
    /// Output format: `table` (`yes`/`no`, with --explain the reasons), `json` or `yaml` (the
    /// decision with its request, grant and notes; docs/cli.md).
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = output::parser(&[Format::Table, Format::Json, Format::Yaml]))]
    pub output: Format,
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
    #[arg(short = 'f', long = "filename", value_name = "PATH",
          required_unless_present_any = ["cluster", "kubeconfig", "context", "in_cluster"])]
    pub paths: Vec<PathBuf>,
    /// Read the RBAC objects from a live cluster.
    #[command(flatten)]
    pub source: crate::cluster::ClusterArgs,
    /// Add the default RBAC policy of a v1.36 cluster (ClusterRoles, ClusterRoleBindings, kube-system Roles and RoleBindings).
    #[arg(long)]
    pub with_defaults: bool,
    /// Output format: `table`, `json` or `yaml` (docs/cli.md).
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = output::parser(&[Format::Table, Format::Json, Format::Yaml]))]
    pub output: Format,
}

/// Arguments of `kguard rbac risks`.
#[derive(clap::Args, Debug, Clone)]
pub struct RisksArgs {
    /// Manifests holding the RBAC objects.
    #[arg(short = 'f', long = "filename", value_name = "PATH",
          required_unless_present_any = ["cluster", "kubeconfig", "context", "in_cluster"])]
    pub paths: Vec<PathBuf>,
    /// Read the RBAC objects from a live cluster.
    #[command(flatten)]
    pub source: crate::cluster::ClusterArgs,
    /// Add the default ClusterRoles and ClusterRoleBindings (they resolve references such as
    /// `edit`; defaults themselves are not reported).
    #[arg(long)]
    pub with_defaults: bool,
    /// Report format: `table`, `json` (docs/report-json.md), `sarif`, `junit`.
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = output::parser(&[Format::Table, Format::Json, Format::Sarif, Format::Junit]))]
    pub output: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
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

/// The objects of the files and the cluster, and the cluster's URL when one was read.
fn load_objects(
    paths: &[PathBuf],
    with_defaults: bool,
    source: &crate::cluster::ClusterArgs,
) -> Result<(Vec<Object>, Option<String>), u8> {
    let (mut inputs, mut diagnostics) = load::expand_paths(paths);
    let mut with_defaults = with_defaults;
    let mut server = None;
    if source.enabled() {
        match crate::cluster::authorization(source) {
            Ok(read) => {
                server = Some(read.server);
                inputs.extend(read.inputs);
                diagnostics.extend(read.diagnostics);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Err(ERROR);
            }
        }
        if with_defaults {
            eprintln!("warning: --with-defaults is ignored with a cluster: it holds its own default policy");
            with_defaults = false;
        }
    }
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
    Ok((objects, server))
}

fn print_diag(d: &Diagnostic) {
    eprintln!("{}: {}: {} [{}]", d.level.as_str(), d.location, d.message, d.code);
}

/// The request a command line describes: a URL path (non-resource), or a resource named as
/// kubectl names it (`deploy`, `deployments.apps`, `pods/exec`), resolved to its group and
/// plural by the discovery table, with kubectl can-i's warnings (an unknown verb or resource, a
/// namespace for a cluster-scoped resource; with a "did you mean") printed on stderr.
fn request(user: UserInfo, verb: &str, resource: &str, name: &str, namespace: &str) -> Attributes {
    let (attrs, warnings) = resolve_request(user, verb, resource, name, namespace);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    attrs
}

fn resolve_request(
    user: UserInfo,
    verb: &str,
    resource: &str,
    name: &str,
    namespace: &str,
) -> (Attributes, Vec<String>) {
    if resource.starts_with('/') {
        let warnings = kguard_discovery::check_non_resource_verb(verb).into_iter().collect();
        return (Attributes::non_resource(user, verb, resource), warnings);
    }
    let resolved = kguard_discovery::resolve(resource);
    let mut warnings = resolved.warnings.clone();
    warnings.extend(kguard_discovery::check_request(verb, &resolved, namespace));
    (Attributes::resource(user, verb, &resolved.group, &resolved.full_resource(), namespace, name), warnings)
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
    let (objects, _) = match load_objects(&args.paths, args.with_defaults, &args.source) {
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
    // `-A`: no namespace in the request (clap refuses it together with `-n`).
    let namespace = if args.all_namespaces { "" } else { args.namespace.as_str() };
    let mut out = match output::sink(None) {
        Ok(o) => o,
        Err(e) => return output::write_failed(&e, "to stdout"),
    };
    if args.list {
        let review = chain.rules_for(&user, namespace);
        let written = if args.output == Format::Table {
            print_rules(&mut out, &review, !args.no_headers)
        } else {
            output::structured(&mut out, args.output, &rules_json(&user, namespace, &review))
        };
        if let Err(e) = written.and_then(|()| out.flush()) {
            return output::write_failed(&e, "the rules");
        }
        return YES;
    }
    let verb = args.verb.clone().unwrap_or_default();
    let resource = args.resource.clone().unwrap_or_default();
    let mut attrs = request(user, &verb, &resource, args.name.as_deref().unwrap_or(""), namespace);
    for fs in &args.field_selector {
        match fs.split_once('=') {
            Some((k, v)) => attrs = attrs.with_field(k.trim_end_matches('='), v),
            None => {
                eprintln!("error: --field-selector {fs:?}: expected KEY=VALUE");
                return ERROR;
            }
        }
    }
    let structured = args.output != Format::Table;
    let decision = if args.explain || structured { chain.explain(&attrs) } else { chain.decide(&attrs) };
    let allowed = decision.allowed();
    let written = if structured {
        output::structured(&mut out, args.output, &decision_json(&attrs, &decision))
    } else {
        print_decision(&mut out, &attrs, &decision, args.explain)
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        return output::write_failed(&e, "the answer");
    }
    if allowed { YES } else { NO }
}

/// `yes`/`no`, and with `explain` why.
fn print_decision(
    out: &mut dyn Write,
    attrs: &Attributes,
    decision: &kguard_authz::Decision,
    explain: bool,
) -> std::io::Result<()> {
    let allowed = decision.allowed();
    writeln!(out, "{}", if allowed { "yes" } else { "no" })?;
    if !explain {
        return Ok(());
    }
    if allowed {
        if decision.reason.is_empty() {
            let by = if decision.authorizer.is_empty() { "the chain" } else { decision.authorizer };
            writeln!(out, "allowed by {by}")?;
        } else {
            writeln!(out, "{}", decision.reason)?;
        }
        if let Some(g) = &decision.grant {
            writeln!(out, "  binding: {}", g.binding)?;
            if let Some(l) = &g.subject_location {
                writeln!(out, "  subject: {} {} ({l})", g.subject.kind, g.subject.name)?;
            }
            writeln!(out, "  role:    {}", g.role)?;
            match &g.rule_location {
                Some(l) => writeln!(out, "  rule {}: {} ({l})", g.rule_index, g.rule)?,
                None => writeln!(out, "  rule {}: {}", g.rule_index, g.rule)?,
            }
        }
    } else {
        writeln!(out, "{}", forbidden_status_message(attrs, &decision.reason))?;
    }
    for n in &decision.notes {
        writeln!(out, "  {n}")?;
    }
    Ok(())
}

/// The request as JSON (the fields of a SubjectAccessReview's spec).
fn request_json(attrs: &Attributes) -> Value {
    let mut r = json!({"user": attrs.user.name, "groups": attrs.user.groups, "verb": attrs.verb});
    if let Some(m) = r.as_object_mut() {
        if attrs.resource_request {
            m.insert(
                "resourceAttributes".into(),
                json!({"group": attrs.api_group, "resource": attrs.resource,
                "subresource": attrs.subresource, "namespace": attrs.namespace, "name": attrs.name}),
            );
        } else {
            m.insert("nonResourceAttributes".into(), json!({"path": attrs.path, "verb": attrs.verb}));
        }
    }
    r
}

fn rule_json(r: &kguard_authz::PolicyRule) -> Value {
    json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources,
        "resourceNames": r.resource_names, "nonResourceURLs": r.non_resource_urls})
}

fn subject_json(s: &kguard_authz::Subject) -> Value {
    json!({"kind": s.kind, "name": s.name, "namespace": s.namespace})
}

/// `kguard can-i -o json`: the decision, as docs/cli.md documents it.
fn decision_json(attrs: &Attributes, d: &kguard_authz::Decision) -> Value {
    let mut v = json!({
        "allowed": d.allowed(),
        "denied": d.verdict == kguard_authz::Verdict::Deny,
        "authorizer": d.authorizer,
        "reason": d.reason,
        "request": request_json(attrs),
        "notes": d.notes,
    });
    if let Some(m) = v.as_object_mut() {
        if let Some(g) = &d.grant {
            m.insert(
                "grant".into(),
                json!({
                    "binding": g.binding.to_string(),
                    "subject": subject_json(&g.subject),
                    "subjectLocation": g.subject_location.as_ref().map(ToString::to_string),
                    "role": g.role.to_string(),
                    "ruleIndex": g.rule_index,
                    "rule": rule_json(&g.rule),
                    "ruleLocation": g.rule_location.as_ref().map(ToString::to_string),
                }),
            );
        }
        if !d.allowed() {
            m.insert("message".into(), Value::String(forbidden_status_message(attrs, &d.reason)));
        }
    }
    v
}

/// `kguard can-i --list -o json`: a SelfSubjectRulesReview status.
fn rules_json(user: &UserInfo, namespace: &str, review: &RulesReview) -> Value {
    json!({
        "user": user.name,
        "groups": user.groups,
        "namespace": namespace,
        "resourceRules": review.resource_rules.iter().map(rule_json).collect::<Vec<_>>(),
        "nonResourceRules": review.non_resource_rules.iter().map(rule_json).collect::<Vec<_>>(),
        "incomplete": review.incomplete,
        "evaluationError": review.evaluation_error,
    })
}

/// The table `kubectl auth can-i --list` prints ([`RulesReview::kubectl_table`]); like kubectl,
/// a warning on stderr when an authorizer could not list its rules.
fn print_rules(out: &mut dyn Write, review: &RulesReview, headers: bool) -> std::io::Result<()> {
    if review.incomplete {
        eprintln!("Warning: the list may be incomplete: {}", review.evaluation_error);
    }
    out.write_all(review.kubectl_table(headers).as_bytes())
}

/// Runs `kguard who-can`: every subject a binding grants the request to, with the binding path.
/// Exit 0 when someone can, 1 when nobody can, 2 on errors.
pub fn run_who_can(args: &WhoCanArgs) -> u8 {
    let (objects, _) = match load_objects(&args.paths, args.with_defaults, &args.source) {
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
    let mut out = match output::sink(None) {
        Ok(o) => o,
        Err(e) => return output::write_failed(&e, "to stdout"),
    };
    let written = if args.output == Format::Table {
        print_who_can(&mut out, &answers)
    } else {
        let subjects: Vec<Value> = answers
            .iter()
            .map(|w| {
                let mut s = w.subject.clone();
                if s.kind == "ServiceAccount" && s.namespace.is_empty() {
                    s.namespace.clone_from(&w.binding_namespace);
                }
                json!({"subject": subject_json(&s), "binding": w.binding.to_string(), "role": w.role.to_string(),
                    "ruleIndex": w.rule_index, "rule": rule_json(&w.rule)})
            })
            .collect();
        let v = json!({"request": request_json(&attrs), "privilegedGroups": ["system:masters"], "subjects": subjects});
        output::structured(&mut out, args.output, &v)
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        return output::write_failed(&e, "the answer");
    }
    if answers.is_empty() { NO } else { YES }
}

fn print_who_can(out: &mut dyn Write, answers: &[kguard_authz::WhoCan]) -> std::io::Result<()> {
    writeln!(out, "{:<45} {:<50} {:<40} RULE", "SUBJECT", "BINDING", "ROLE")?;
    writeln!(out, "{:<45} {:<50} {:<40} -", "group system:masters", "(privileged group)", "-")?;
    for w in answers {
        writeln!(
            out,
            "{:<45} {:<50} {:<40} {}",
            w.subject.short(&w.binding_namespace),
            w.binding.to_string(),
            w.role.to_string(),
            w.rule
        )?;
    }
    Ok(())
}

/// The files and documents the objects were read from (the built-in defaults of
/// `--with-defaults` are no input file).
fn input_files(objects: &[Object]) -> (usize, usize) {
    let mut files = std::collections::BTreeSet::new();
    let mut documents = std::collections::BTreeSet::new();
    for o in objects.iter().filter(|o| !o.file.starts_with('<') && !o.file.starts_with("cluster:")) {
        files.insert(&*o.file);
        documents.insert((&*o.file, o.doc_index));
    }
    (files.len(), documents.len())
}

/// Runs `kguard rbac risks`; exit 1 when there are findings.
pub fn run_risks(args: &RisksArgs) -> u8 {
    let (objects, server) = match load_objects(&args.paths, args.with_defaults, &args.source) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let rbac = Rbac::from_objects(&objects);
    // What one Role or binding shows alone (wildcards, anonymous subjects, dangerous permissions)
    // is the hardening catalogue's; the risks across objects are the RBAC engine's. One finding
    // per problem, as in `kguard scan`.
    let object_rules = |id: &str| kguard_hardening::rule(id).is_some_and(|r| r.family == "rbac-object");
    let mut findings: Vec<_> = objects
        .iter()
        .filter(|o| kguard_authz::policy::is_rbac(o))
        .flat_map(|o| kguard_hardening::findings(o, None))
        .filter(|f| object_rules(&f.rule_id))
        .collect();
    findings.extend(kguard_authz::risks(&rbac));
    let mut findings = kguard_scan::problems::merge(findings, &std::collections::HashMap::new());
    findings.sort_by(|a, b| {
        (a.location.as_ref(), &a.rule_id, &a.message).cmp(&(b.location.as_ref(), &b.rule_id, &b.message))
    });
    let n = findings.len();
    let rules = kguard_hardening::RULES
        .iter()
        .filter(|r| r.family == "rbac-object")
        .chain(kguard_authz::RULES)
        .cloned()
        .collect();
    let report = Report {
        findings,
        diagnostics: rbac.diagnostics().to_vec(),
        summary: Summary {
            files: input_files(&objects).0,
            documents: input_files(&objects).1,
            objects: objects.len(),
            scanned: rbac.roles().len() + rbac.bindings().len(),
            cluster: server,
            ..Summary::default()
        },
        rules,
        ..Report::default()
    };
    if let Err(code) = output::write_report(args.output, &report, args.output_file.as_deref()) {
        return code;
    }
    if n > 0 { NO } else { YES }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_resolved_as_kubectl_does() {
        let req = |spec: &str, ns: &str| {
            let (a, w) = resolve_request(UserInfo::default(), "get", spec, "", ns);
            (a.api_group.clone(), a.full_resource(), w)
        };
        assert_eq!(req("pods", "dev"), (String::new(), "pods".to_owned(), vec![]));
        assert_eq!(req("pods/exec", "dev").1, "pods/exec");
        assert_eq!(req("deployments", "dev"), ("apps".to_owned(), "deployments".to_owned(), vec![]));
        assert_eq!(req("deploy/scale", "dev"), ("apps".to_owned(), "deployments/scale".to_owned(), vec![]));
        assert_eq!(req("po", "dev").1, "pods");
        assert_eq!(
            req("clusterroles.rbac.authorization.k8s.io", ""),
            ("rbac.authorization.k8s.io".to_owned(), "clusterroles".to_owned(), vec![])
        );
        assert_eq!(req("widgets.example.com", "dev"), ("example.com".to_owned(), "widgets".to_owned(), vec![]));
        let (_, _, w) = req("deploymnets", "dev");
        assert_eq!(w, [r#"Kubernetes v1.37 has no resource type "deploymnets"; did you mean "deployments"?"#]);
        let (a, w) = resolve_request(UserInfo::default(), "get", "/healthz", "", "");
        assert!(!a.resource_request && w.is_empty(), "{w:?}");
        let (_, w) = resolve_request(UserInfo::default(), "pots", "/healthz", "", "");
        assert_eq!(w, [r#"verb 'pots' is not a known verb; did you mean "post"?"#]);
        let (_, w) = resolve_request(UserInfo::default(), "bind", "/healthz", "", "");
        assert_eq!(w, ["verb 'bind' is not a known verb"], "a resource verb is no URL verb");
    }
}

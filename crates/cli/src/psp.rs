//! `kguard psp check`: would the (legacy) PodSecurityPolicy admission plugin admit these pods?

use std::path::PathBuf;

use kguard_admission::psp::{self, Operation, Options, Outcome, Policy, Request};
use kguard_authz::{AlwaysAllow, Authorizer, Chain, Mode, defaults};
use kguard_model::diag::{Diagnostic, DiagnosticLevel};
use kguard_model::{Object, load};
use kguard_request::UserInfo;

use crate::exit::{CLEAN, ERROR, FINDINGS};

use crate::output::{self, Format};

/// `kguard psp` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum PspCommand {
    /// Run the PodSecurityPolicy admission phases (mutating, then validating) on pods.
    Check(CheckArgs),
}

/// Arguments of `kguard psp check`.
#[derive(Clone, Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("inputs").required(true).multiple(true).args(["pods", "filename"])))]
pub struct CheckArgs {
    /// Files or directories with the Pod objects to check (`-` for stdin).
    #[arg(value_name = "POD")]
    pub pods: Vec<PathBuf>,
    /// Pod manifests, as kubectl's `-f` (repeatable; beside or instead of the POD arguments).
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub filename: Vec<PathBuf>,
    /// Files or directories with the PodSecurityPolicy objects (policy/v1beta1).
    #[arg(long, required = true, value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// The requesting user, as kubectl's `--as` (`--user` is accepted too).
    #[arg(long = "as", alias = "user", value_name = "USER", default_value = "kubernetes-admin")]
    pub user: String,
    /// A group of the requesting user (repeatable), as kubectl's `--as-group` (`--group` too).
    #[arg(long = "as-group", alias = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// RBAC objects deciding who may `use` which policy (with the default cluster roles). Without
    /// it every policy is usable (AlwaysAllow).
    #[arg(long, value_name = "PATH")]
    pub rbac: Vec<PathBuf>,
    /// Namespace of pods that set none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Treat the pods as UPDATEs of these stored pods (matched by namespace/name): only the
    /// validating phase runs.
    #[arg(long, value_name = "PATH")]
    pub old: Vec<PathBuf>,
    /// Admit pods when no policy exists (kube-apiserver rejects them).
    #[arg(long)]
    pub allow_without_policies: bool,
    /// Output format: `table` (one line per pod, then the rejection text or the fields the policy
    /// defaulted; `text` is accepted too), or `json` (one object per pod, one per line).
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = output::parser(&[Format::Table, Format::Json]))]
    pub output: Format,
}

fn load_objects(paths: &[PathBuf]) -> Result<Vec<Object>, u8> {
    let (inputs, mut diagnostics) = load::expand_paths(paths);
    let mut objects = Vec::new();
    for input in &inputs {
        let p = load::load_input(input);
        diagnostics.extend(p.diagnostics);
        objects.extend(p.objects);
    }
    let mut failed = false;
    for d in &diagnostics {
        print_diag(d);
        failed |= d.level == DiagnosticLevel::Error;
    }
    if failed { Err(ERROR) } else { Ok(objects) }
}

fn print_diag(d: &Diagnostic) {
    eprintln!("{}: {}: {} [{}]", d.level.as_str(), d.location, d.message, d.code);
}

/// Runs a `kguard psp` subcommand; returns the exit code.
pub fn run(cmd: &PspCommand) -> u8 {
    match cmd {
        PspCommand::Check(args) => check(args),
    }
}

fn check(args: &CheckArgs) -> u8 {
    let Ok(policy_objects) = load_objects(&args.policies) else { return ERROR };
    let mut policies = Vec::new();
    for o in policy_objects.iter().filter(|o| o.kind() == "PodSecurityPolicy") {
        match Policy::from_object(o) {
            Ok(p) => {
                if let Some(e) = &p.provider_error {
                    eprintln!("warning: {}: PodSecurityPolicy {} is skipped: {e}", o.location(""), p.name);
                }
                policies.push(p);
            }
            Err(e) => {
                eprintln!("error: {}: PodSecurityPolicy {}: {e}", o.location("/spec"), o.id.name);
                return ERROR;
            }
        }
    }
    let authz: Box<dyn Authorizer> = if args.rbac.is_empty() {
        Box::new(AlwaysAllow)
    } else {
        let Ok(mut objects) = load_objects(&args.rbac) else { return ERROR };
        objects.extend(defaults::objects());
        match Chain::from_modes(&[Mode::Rbac], &objects, None) {
            Ok(c) => Box::new(c),
            Err(e) => {
                eprintln!("error: {e}");
                return ERROR;
            }
        }
    };
    let inputs: Vec<PathBuf> = args.pods.iter().chain(&args.filename).cloned().collect();
    let Ok(pods) = load_objects(&inputs) else { return ERROR };
    let old_pods = if args.old.is_empty() {
        Vec::new()
    } else {
        let Ok(o) = load_objects(&args.old) else { return ERROR };
        o
    };
    let mut groups = args.groups.clone();
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".to_owned());
    }
    let user = UserInfo::new(args.user.clone(), groups);
    let opts = Options { fail_on_no_policies: !args.allow_without_policies };
    let mut code = CLEAN;
    let mut seen = 0;
    for obj in pods.iter().filter(|o| o.kind() == "Pod") {
        seen += 1;
        let pod = obj.root.to_json();
        let namespace = obj.id.namespace.clone().unwrap_or_else(|| args.namespace.clone());
        let old = old_pods
            .iter()
            .find(|o| o.kind() == "Pod" && o.id.name == obj.id.name && o.id.namespace == obj.id.namespace)
            .map(|o| o.root.to_json());
        let operation = if old.is_some() { Operation::Update } else { Operation::Create };
        let req = Request { pod: &pod, old_pod: old.as_ref(), namespace: &namespace, user: &user, operation };
        // kube-apiserver runs the mutating phase, then the validating phase on its result
        let admitted = psp::admit_with(&policies, &req, authz.as_ref(), opts);
        let outcome = if admitted.allowed {
            let after = admitted.pod.clone().unwrap_or_else(|| pod.clone());
            let vreq = Request { pod: &after, ..req };
            let validated = psp::validate_with(&policies, &vreq, authz.as_ref(), opts);
            if validated.allowed { admitted } else { validated }
        } else {
            admitted
        };
        if !outcome.allowed {
            code = FINDINGS;
        }
        print_outcome(args.output, obj, &namespace, &pod, &outcome);
    }
    if seen == 0 {
        eprintln!("error: no Pod objects in the given files");
        return ERROR;
    }
    code
}

fn print_outcome(format: Format, obj: &Object, namespace: &str, pod: &serde_json::Value, out: &Outcome) {
    let changes = out.pod.as_ref().map(|after| changed_paths(pod, after, "")).unwrap_or_default();
    match format {
        Format::Json => {
            let v = serde_json::json!({
                "pod": format!("{namespace}/{}", obj.id.name),
                "file": format!("{}", obj.location("")),
                "allowed": out.allowed,
                "policy": out.policy,
                "message": out.message,
                "errors": out.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "auditAnnotations": out.audit_annotations.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                "changed": changes,
                "mutatedPod": out.pod,
            });
            println!("{v}");
        }
        _ => {
            if out.allowed {
                let by = out.policy.as_deref().map_or_else(String::new, |p| format!(" by PodSecurityPolicy {p:?}"));
                println!("pod {namespace}/{}: allowed{by}", obj.id.name);
                for c in &changes {
                    println!("  defaulted {c}");
                }
            } else {
                println!("pod {namespace}/{}: forbidden: {}", obj.id.name, out.message);
            }
        }
    }
}

/// The JSON pointers where `after` differs from `before` (leaves only).
fn changed_paths(before: &serde_json::Value, after: &serde_json::Value, at: &str) -> Vec<String> {
    use serde_json::Value;
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut out = Vec::new();
            for (k, av) in a {
                let p = format!("{at}/{}", kguard_model::yaml::escape_pointer_token(k));
                match b.get(k) {
                    Some(bv) => out.extend(changed_paths(bv, av, &p)),
                    None => out.push(format!("{p} = {av}")),
                }
            }
            out
        }
        (Value::Array(b), Value::Array(a)) if a.len() == b.len() => {
            b.iter().zip(a).enumerate().flat_map(|(i, (bv, av))| changed_paths(bv, av, &format!("{at}/{i}"))).collect()
        }
        (b, a) if b == a => Vec::new(),
        (_, a) => vec![format!("{at} = {a}")],
    }
}

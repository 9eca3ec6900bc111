//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// kguard: the Kubernetes security model in one binary.
#[derive(Debug, Parser)]
#[command(name = "kguard", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan manifests (files, directories, `-` for stdin) for security findings.
    Scan(ScanArgs),
    /// Print a rule's documentation: what it checks, why, how to fix it, references.
    Explain(ExplainArgs),
    /// List every rule.
    Rules(RulesArgs),
    /// NetworkPolicy analysis: who can reach whom (np-guard compatible), and why.
    Netpol {
        /// What to do.
        #[command(subcommand)]
        command: crate::netpol::NetpolCommand,
    },
    /// Would kube-apiserver authorize this request? (RBAC, ABAC, Node, chained like --authorization-mode)
    #[command(name = "can-i")]
    CanI(crate::authz::CanIArgs),
    /// Which subjects may perform a verb on a resource, and through which bindings.
    #[command(name = "who-can")]
    WhoCan(crate::authz::WhoCanArgs),
    /// RBAC analysis: dangerous grants, risky bindings, escalation paths.
    Rbac {
        /// What to do.
        #[command(subcommand)]
        command: crate::authz::RbacCommand,
    },
    /// Audit policies (audit.k8s.io/v1): evaluate a request, lint a policy.
    Audit {
        /// What to do.
        #[command(subcommand)]
        command: crate::audit::AuditCommand,
    },
    /// Run Falco-compatible rules over Kubernetes audit events.
    Detect(crate::detect::DetectArgs),
    /// Certificates: issue (kubeadm layout), inspect (user/groups, validity, keys, PKI findings).
    Pki {
        /// What to do.
        #[command(subcommand)]
        command: crate::pki::PkiCommand,
    },
    /// Authentication: service-account tokens, and who kube-apiserver would take a credential for.
    Authn {
        /// What to do.
        #[command(subcommand)]
        command: crate::authn::AuthnCommand,
    },
    /// Serve the HTTPS webhooks kube-apiserver calls: admission (/validate, /mutate), ImagePolicyWebhook
    /// (/imagereview), TokenReview (/authenticate), SubjectAccessReview (/authorize), audit sink (/audit).
    Serve(ServeArgs),
    /// PodSecurityPolicy (policy/v1beta1, removed in v1.25): would the admission plugin admit these pods?
    Psp {
        /// What to do.
        #[command(subcommand)]
        command: crate::psp::PspCommand,
    },
}

/// Output formats of `scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable table, grouped by file and object.
    Table,
    /// kguard's versioned JSON report (docs/report-json.md).
    Json,
    /// SARIF 2.1.0 (GitHub code scanning and other SARIF consumers).
    Sarif,
    /// JUnit XML (CI test reports).
    Junit,
    /// kubesec's JSON (its 30 scored rules, points and lists) and kubesec's exit codes:
    /// 0 all objects score above 0, 2 otherwise, 1 on input errors.
    Kubesec,
}

/// When to use colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When writing to a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Pod Security Standards levels accepted on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PssLevel {
    /// No restrictions (runs no checks).
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Hardened best practice.
    Restricted,
}

/// Minimum severities for `--fail-on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any finding fails (the default).
    Any,
    /// `info` and above (same as any).
    Info,
    /// `low` and above.
    Low,
    /// `medium` and above.
    Medium,
    /// `high` and above.
    High,
    /// Only `critical`.
    Critical,
    /// Findings never fail the run (input errors still exit 2).
    Never,
}

/// `kguard scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan (directories recursively: .yaml, .yml, .json); `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding has at least this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Any, value_name = "SEVERITY")]
    pub fail_on: FailOn,
    /// Only report findings at or above this severity.
    #[arg(long, value_name = "SEVERITY")]
    pub min_severity: Option<kguard_report::Severity>,
    /// Rules to run: ids (PSS003), names (privileged), other tools' ids, families (pss), id prefixes; comma-separated or repeated. Default: all.
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub select: Vec<String>,
    /// Rules to skip (same forms as --select).
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub ignore: Vec<String>,
    /// Pod Security Standards level for pods whose namespace carries no pod-security labels in the input.
    #[arg(long, value_enum, default_value_t = PssLevel::Restricted, value_name = "LEVEL")]
    pub pss_level: PssLevel,
    /// Pod Security Standards version (`latest` or `v1.N`).
    #[arg(long, default_value = "latest", value_name = "VERSION")]
    pub pss_version: String,
    /// Print only the findings and errors, no summary line (table format).
    #[arg(short, long)]
    pub quiet: bool,
    /// Also print notes (e.g. objects of kinds no rule applies to).
    #[arg(short, long)]
    pub verbose: bool,
    /// Colours in the table output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// `kguard explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Rule id, name or alias (e.g. PSS003, privileged, KSV017).
    pub rule: String,
}

/// `kguard rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = RulesFormat::Table)]
    pub format: RulesFormat,
}

/// Formats of `kguard rules`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    /// One line per rule.
    Table,
    /// A JSON array of rule objects.
    Json,
}

/// `kguard serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The server configuration (kguard.yaml; see docs/serve.md).
    #[arg(long, short = 'c', default_value = "kguard.yaml")]
    pub config: std::path::PathBuf,
    /// Worker threads (default: the number of CPUs).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Check the configuration and every file it names, print a summary, and exit.
    #[arg(long)]
    pub check: bool,
}

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
    /// Service-mesh mTLS: effective Istio PeerAuthentication modes, SPIFFE IDs, X.509-SVIDs.
    Mesh {
        /// What to do.
        #[command(subcommand)]
        command: crate::mesh::MeshCommand,
    },
    /// AppArmor profiles: parse (as apparmor_parser), check an access, lint.
    Apparmor {
        /// What to do.
        #[command(subcommand)]
        command: crate::apparmor::AppArmorCommand,
    },
    /// Seccomp profiles: lint, diff, compile to BPF (libseccomp's semantics), run a command under one, record one.
    Seccomp {
        /// What to do.
        #[command(subcommand)]
        command: crate::seccomp::SeccompCommand,
    },
    /// Node hardening: kube-bench's CIS checks, sshd's effective configuration, open ports.
    Node {
        /// What to do.
        #[command(subcommand)]
        command: crate::node::NodeCommand,
    },
    /// Scan a root filesystem for vulnerable OS packages (dpkg, apk, rpm) against OSV data (as `trivy rootfs`).
    Fs(crate::vuln::FsArgs),
    /// Scan a container image (`docker save` archive or OCI layout) for vulnerable OS packages, or write its SBOM (as `trivy image --input`).
    Image(Box<crate::vuln::ImageArgs>),
    /// Scan a directory's lockfiles (npm, yarn, pnpm, pip, poetry, uv, Go, Maven, Gradle, NuGet, Cargo, Composer, …) for vulnerable packages (as `trivy repo`).
    Repo(crate::vuln::RepoArgs),
    /// Scan the packages an SBOM lists (CycloneDX or SPDX JSON) against OSV data (as `trivy sbom`).
    Sbom(crate::vuln::SbomArgs),
    /// OSV vulnerability data: what a directory or zip holds.
    Db {
        /// What to do.
        #[command(subcommand)]
        command: crate::vuln::DbCommand,
    },
    /// Print the version and the upstream behaviour this build reproduces.
    Version(crate::meta::VersionArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(crate::meta::CompletionArgs),
    /// Write man pages for every command into a directory.
    Man(crate::meta::ManArgs),
}

/// The formats `kguard scan -o` writes.
pub const SCAN_FORMATS: [crate::output::Format; 8] = {
    use crate::output::Format;
    [
        Format::Table,
        Format::Json,
        Format::Yaml,
        Format::Sarif,
        Format::Junit,
        Format::Html,
        Format::Markdown,
        Format::Kubesec,
    ]
};

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
#[command(group(clap::ArgGroup::new("inputs").required(true).multiple(true)
    .args(["paths", "filename", "cluster", "kubeconfig", "context", "in_cluster"])))]
pub struct ScanArgs {
    /// Files or directories to scan (directories recursively: .yaml, .yml, .json); `-` reads stdin.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// A file or directory to scan, as kubectl's `-f` (repeatable; the same as a PATH argument).
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub filename: Vec<PathBuf>,
    /// Where to read a live cluster's objects from (with files too, both are scanned).
    #[command(flatten)]
    pub source: crate::cluster::ClusterArgs,
    /// With a cluster: only this namespace's objects, and the Namespace itself (default: every
    /// namespace and the cluster-scoped objects).
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// With a cluster: every namespace (the default; kubectl's `-A`).
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Output format: table, json, yaml, sarif, junit, html, markdown or kubesec (kubesec's JSON
    /// and exit codes).
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = crate::output::parser(&SCAN_FORMATS))]
    pub output: crate::output::Format,
    /// Write the report to FILE instead of stdout (fsynced before exit).
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Leave out what a directory walk finds that matches GLOB (gitignore syntax, relative to the
    /// working directory; repeatable). `.kguardignore` files are read too. Files named on the
    /// command line are always scanned.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Exit 1 when a finding has at least this severity (default: any; or the configuration's `failOn`).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Only report findings at or above this severity.
    #[arg(long, value_name = "SEVERITY")]
    pub min_severity: Option<kguard_report::Severity>,
    /// What `kubectl --validate` would say of unknown kinds, versions and fields: `strict` (or
    /// `true`: errors, exit 2), `warn` (default), `ignore` (or `false`); or the configuration's `validate`.
    #[arg(long, value_name = "MODE", value_parser = |s: &str| s.parse::<kguard_scan::config::Validate>())]
    pub validate: Option<kguard_scan::config::Validate>,
    /// Rules to run: ids (PSS003), names (privileged), other tools' ids, families (pss), id prefixes; comma-separated or repeated. Default: all (replaces the configuration's `select`).
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub select: Vec<String>,
    /// Rules to skip (same forms as --select; added to the configuration's `ignore`).
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub ignore: Vec<String>,
    /// Pod Security Standards level for pods whose namespace carries no pod-security labels in the input (default: restricted).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub pss_level: Option<PssLevel>,
    /// Pod Security Standards version, `latest` or `v1.N` (default: latest).
    #[arg(long, value_name = "VERSION")]
    pub pss_version: Option<String>,
    /// Linkerd's cluster-wide default inbound policy (the install's proxy.defaultInboundPolicy), for
    /// meshed workloads whose pod template and namespace set none.
    #[arg(long, value_name = "POLICY", default_value = "all-unauthenticated",
          value_parser = |s: &str| kguard_scan::LinkerdDefaultPolicy::parse(s).ok_or_else(|| format!(
              "not a policy: {s:?} (all-unauthenticated, all-authenticated, cluster-unauthenticated, \
               cluster-authenticated, deny, audit)")))]
    pub linkerd_default_policy: kguard_scan::LinkerdDefaultPolicy,
    /// The scan configuration (default: `.kguard.yaml` in the working directory or the nearest parent).
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Read no configuration file.
    #[arg(long)]
    pub no_config: bool,
    /// Findings listed in this baseline are suppressed (only new findings are reported and fail the run).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write every finding of this scan to FILE as a baseline (then exit 0 unless an input error).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Print only the findings and errors, no summary line (table format).
    #[arg(short, long)]
    pub quiet: bool,
    /// Also print notes (e.g. objects of kinds no rule applies to).
    #[arg(short, long)]
    pub verbose: bool,
    /// Colours in the table output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// A node's seccomp profile directory (the kubelet's `<root-dir>/seccomp`): check that every
    /// Localhost profile a pod names exists there, parses and is not weaker than RuntimeDefault.
    #[arg(long, value_name = "DIR")]
    pub seccomp_root: Option<PathBuf>,
    /// A node's AppArmor profiles: its loaded-profile list (a copy of
    /// /sys/kernel/security/apparmor/profiles, `name (mode)` a line) or a directory of the
    /// profile sources it loads (parsed, includes from that directory): report containers whose
    /// Localhost profile is not loaded (AA009) or not enforced (AA010).
    #[arg(long, value_name = "FILE|DIR")]
    pub apparmor_profiles: Option<PathBuf>,
    /// List the container images the workloads run (with where each is written) instead of
    /// checking the manifests; with `--db`, also their vulnerabilities.
    #[arg(long)]
    pub images: bool,
    /// With `--images`: OSV data to match the images' OS packages against (as `kguard image --db`).
    #[arg(long, value_name = "OSV", requires = "images")]
    pub db: Option<PathBuf>,
    /// With `--images`: a file mapping image references to saved archives or OCI layouts on disk,
    /// one `IMAGE: PATH` a line (or a JSON object); paths relative to the file.
    #[arg(long, value_name = "FILE", requires = "images")]
    pub image_map: Option<PathBuf>,
    /// With `--images --db`: pull images the map does not name from their registries
    /// (credentials from `KGUARD_REGISTRY_USERNAME`/`KGUARD_REGISTRY_PASSWORD` or
    /// `~/.docker/config.json`, else anonymous).
    #[arg(long, requires = "images")]
    pub pull: bool,
}

/// `kguard explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Rule id, name or alias (e.g. PSS003, privileged, KSV017).
    pub rule: String,
    /// Output format: `table` (text), `json` or `yaml` (the rule object of `kguard rules -o json`).
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = crate::output::parser(&[crate::output::Format::Table, crate::output::Format::Json, crate::output::Format::Yaml]))]
    pub output: crate::output::Format,
}

/// `kguard rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format: `table` (id, severity, family, name, title, other tools' ids), `json` or
    /// `yaml` (every rule's documentation).
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = crate::output::parser(&[crate::output::Format::Table, crate::output::Format::Json, crate::output::Format::Yaml]))]
    pub output: crate::output::Format,
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
    /// The least level logged: debug, info, warning or error.
    #[arg(long, default_value = "info", value_parser = parse_log_level)]
    pub log_level: kguard_server::LogLevel,
    /// Log lines as JSON objects (`ts`, `level`, `msg`; for log collectors) or as text.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
}

/// How `kguard serve` writes its log lines on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// `TIMESTAMP LEVEL message`.
    Text,
}

fn parse_log_level(s: &str) -> Result<kguard_server::LogLevel, String> {
    s.parse()
}

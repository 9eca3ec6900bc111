//! `kguard node`: node hardening. `check` runs the sections (kube-bench's CIS checks, sshd,
//! open ports) into one report; `cis` prints kube-bench's own text (or JSON) report;
//! `sshd-config` prints sshd's effective configuration as `sshd -T` does. Everything reads under
//! `--root` (default `/`), so an image or a copied tree can be checked like the machine itself.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use kguard_model::{Diagnostic, Location};
use kguard_node::host::{RootFs, run_command};
use kguard_node::kubebench::{self, AuditRun, Config, ControlsResult};
use kguard_node::kubelet;
use kguard_node::source::Source;
use kguard_node::sshd::{self, Connection};
use kguard_report::{Report, Severity, Summary};

use crate::exit;
use crate::output::Format as Out;

/// `kguard node …`.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Check this node (or a root directory): kube-bench's CIS checks, sshd, open ports; one report.
    Check(Box<CheckArgs>),
    /// kube-bench's CIS checks alone, in kube-bench's text report (or its JSON with `-o json`).
    Cis(CisArgs),
    /// Print sshd's effective configuration as `sshd -T [-C spec]` computes it.
    SshdConfig(SshdArgs),
    /// Print the kubelet's effective settings (config file, drop-ins, flags) and what decided each.
    KubeletConfig(KubeletArgs),
}

/// The sections of `node check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Section {
    /// kube-bench's CIS benchmark checks (needs kube-bench's `cfg/` directory).
    Cis,
    /// sshd's effective configuration against dev-sec's values.
    Sshd,
    /// Listening sockets against the node role's allow-list.
    Ports,
    /// The kubelet's effective settings (config file + flags) against the CIS kubelet checks.
    Kubelet,
    /// Kernel parameters under /proc/sys against dev-sec linux-baseline's values.
    Sysctl,
    /// Installed packages (dpkg, apk, rpm) a node should not carry, and the audit daemon.
    Packages,
}

/// Where the kubelet's settings come from.
#[derive(Debug, Args)]
pub struct KubeletInputs {
    /// The kubelet's KubeletConfiguration file, under the root (replaces the flags' `--config`).
    #[arg(long, value_name = "FILE")]
    pub kubelet_config: Option<String>,
    /// The kubelet's command line (`"--config=/var/lib/kubelet/config.yaml --read-only-port=0"`);
    /// default: the arguments of the kubelet process under the root's /proc.
    #[arg(long, value_name = "FLAGS", allow_hyphen_values = true)]
    pub kubelet_flags: Option<String>,
}

/// Where the CIS definitions are and which benchmark to run.
#[derive(Debug, Args)]
pub struct CisOptions {
    /// kube-bench's `cfg/` directory (its `config.yaml` and one directory per benchmark).
    #[arg(long, value_name = "DIR", default_value = "/etc/kube-bench/cfg", env = "KGUARD_KUBE_BENCH_CFG")]
    pub cfg: PathBuf,
    /// The benchmark (`cis-1.12`); default: from `--k8s-version` through `version_mapping`.
    #[arg(long, value_name = "NAME")]
    pub benchmark: Option<String>,
    /// The Kubernetes version whose benchmark `config.yaml` maps to (default 1.32).
    #[arg(long = "k8s-version", value_name = "VERSION", default_value = "1.32")]
    pub k8s_version: String,
    /// Targets to run (master, node, etcd, controlplane, policies; repeatable).
    #[arg(long = "targets", value_name = "TARGET", value_delimiter = ',', default_value = "node")]
    pub targets: Vec<String>,
    /// Seconds each audit command may run before it is killed (its check then says so).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub audit_timeout: u64,
}

/// `node check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The root directory the node's files are read under.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Sections to run (repeatable; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub section: Vec<Section>,
    /// CIS options.
    #[command(flatten)]
    pub cis: CisOptions,
    /// Report WARN results of CIS checks too (KB002: manual checks, audits that could not run).
    #[arg(long)]
    pub cis_warn: bool,
    /// sshd's main configuration file (under the root).
    #[arg(long, value_name = "PATH", default_value = sshd::SSHD_CONFIG)]
    pub sshd_config: String,
    /// A connection to evaluate sshd's `Match` blocks for: `user=…,host=…,addr=…[,laddr=…,lport=…]`.
    #[arg(short = 'C', long = "connection", value_name = "SPEC")]
    pub connection: Option<String>,
    /// The node's role for the open-ports allow-list.
    #[arg(long, value_enum, default_value = "worker")]
    pub role: Role,
    /// Another allowed listening port, `tcp/8080` or `udp/53` (repeatable).
    #[arg(long, value_name = "NETID/PORT")]
    pub allow_port: Vec<String>,
    /// Kubelet inputs.
    #[command(flatten)]
    pub kubelet: KubeletInputs,
    /// dev-sec's `sysctl_forwarding` input: whether IP forwarding is wanted (a Kubernetes node
    /// forwards pod traffic); `false` checks net.ipv4.ip_forward and the forwarding parameters.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub sysctl_forwarding: bool,
    /// Another package the node should not carry (PKG002), a glob over the package name:
    /// `python3-*` (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub deny_package: Vec<String>,
    /// A package never reported (PKG001, PKG002; `auditd` for PKG003), a glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub allow_package: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = crate::output::parser(&NODE_FORMATS))]
    pub output: Out,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Exit 1 when a finding has at least this severity (default: any).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
}

/// The formats of `node check`.
pub const NODE_FORMATS: [Out; 7] = [Out::Table, Out::Json, Out::Yaml, Out::Sarif, Out::Junit, Out::Markdown, Out::Html];

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// A worker node.
    Worker,
    /// A control-plane node (API server, etcd, scheduler, controller manager).
    ControlPlane,
}

/// The root's installed packages, read by the vulnerability scanner's readers (`kguard fs` reads
/// the same), each with the database file it came from.
fn installed_packages(root: &std::path::Path) -> Result<Vec<kguard_node::packages::Installed>, String> {
    use kguard_vuln::pkgdb::Kind;
    let pkgs = kguard_vuln::pkgdb::installed(root).map_err(|e| e.to_string())?;
    // The first database file of each kind that exists, as `pkgdb::installed` looks for them.
    let first = |candidates: &[&str]| {
        let found = candidates.iter().find(|c| root.join(c.trim_start_matches('/')).is_file());
        found.or(candidates.first()).map_or_else(String::new, |c| (*c).to_owned())
    };
    let dpkg = first(&["/var/lib/dpkg/status", "/var/lib/dpkg/status.d"]);
    let apk = first(&["/lib/apk/db/installed", "/usr/lib/apk/db/installed"]);
    let rpm =
        first(&["/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite", "/usr/share/rpm/rpmdb.sqlite"]);
    Ok(pkgs
        .into_iter()
        .map(|p| {
            let (manager, database) = match p.kind {
                Kind::Dpkg => ("dpkg", dpkg.clone()),
                Kind::Apk => ("apk", apk.clone()),
                Kind::Rpm => ("rpm", rpm.clone()),
            };
            kguard_node::packages::Installed { name: p.name, version: p.version, manager, database }
        })
        .collect())
}

/// `node cis`.
#[derive(Debug, Args)]
pub struct CisArgs {
    /// The root directory the node's files are read under.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// CIS options.
    #[command(flatten)]
    pub cis: CisOptions,
    /// `table`: kube-bench's text report; `json`/`yaml`: kube-bench's JSON; `junit`: kube-bench's `--junit`.
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = crate::output::parser(&[Out::Table, Out::Json, Out::Yaml, Out::Junit]))]
    pub output: Out,
}

/// `node sshd-config`.
#[derive(Debug, Args)]
pub struct SshdArgs {
    /// The root directory the configuration is read under.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// The main configuration file (`sshd -f`), under the root.
    #[arg(short = 'f', long = "file", value_name = "PATH", default_value = sshd::SSHD_CONFIG)]
    pub file: String,
    /// The connection (`sshd -C`): `user=…,host=…,addr=…[,laddr=…,lport=…]`.
    #[arg(short = 'C', long = "connection", value_name = "SPEC")]
    pub connection: Option<String>,
    /// `table`: `sshd -T`'s lines; `json`/`yaml`: each option with its values and deciding file:line.
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = crate::output::parser(&[Out::Table, Out::Json, Out::Yaml]))]
    pub output: Out,
}

/// `node kubelet-config`.
#[derive(Debug, Args)]
pub struct KubeletArgs {
    /// The root directory the kubelet's files and /proc are read under.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Kubelet inputs.
    #[command(flatten)]
    pub kubelet: KubeletInputs,
    /// `table`: one line per setting with its origin; `json`/`yaml`: the settings as data.
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = crate::output::parser(&[Out::Table, Out::Json, Out::Yaml]))]
    pub output: Out,
}

/// The kubelet's effective settings for the inputs, `None` when there is no kubelet to judge
/// (no process under the root's /proc and neither `--kubelet-config` nor `--kubelet-flags`).
fn kubelet_effective(fs: &RootFs, k: &KubeletInputs) -> Option<kubelet::Effective> {
    let (args, source) = match &k.kubelet_flags {
        Some(text) => (kubelet::split_words(text), "--kubelet-flags".to_owned()),
        None => match kubelet::find_process(fs) {
            Some(p) => (p.args, format!("/proc/{}/cmdline", p.pid)),
            None if k.kubelet_config.is_some() => (Vec::new(), String::new()),
            None => return None,
        },
    };
    let (flags, problem) = match kubelet::parse_flags(&args) {
        Ok(f) => (f, None),
        Err(e) => (Vec::new(), Some(kubelet::Problem { file: source.clone(), line: None, message: e })),
    };
    let mut eff =
        kubelet::effective(fs, &kubelet::Inputs { flags, flags_source: source, config: k.kubelet_config.clone() });
    eff.problems.extend(problem);
    Some(eff)
}

fn problem_diag(p: &kubelet::Problem) -> Diagnostic {
    let mut loc = Location::file(std::sync::Arc::from(p.file.as_str()));
    if let Some(line) = p.line {
        loc.pos = Some(kguard_model::Pos { line, column: 1 });
    }
    Diagnostic::error("node", loc, format!("the kubelet would refuse this: {}", p.message))
}

/// Runs `kguard node …`.
pub fn run(cmd: &NodeCommand) -> u8 {
    match cmd {
        NodeCommand::Check(a) => check(a),
        NodeCommand::Cis(a) => cis(a),
        NodeCommand::SshdConfig(a) => sshd_config(a),
        NodeCommand::KubeletConfig(a) => kubelet_config(a),
    }
}

fn diag(file: &str, message: String) -> Diagnostic {
    Diagnostic::error("node", Location::file(std::sync::Arc::from(file)), message)
}

fn root_prefix(root: &std::path::Path) -> String {
    root.to_string_lossy().trim_end_matches('/').to_owned()
}

/// Loads and runs the CIS targets. Problems become diagnostics; the rest still runs.
fn run_cis(
    root: &std::path::Path,
    o: &CisOptions,
    diags: &mut Vec<Diagnostic>,
    audits: &mut (usize, Duration),
) -> Vec<ControlsResult> {
    let cfg_dir = &o.cfg;
    let config_path = cfg_dir.join("config.yaml");
    let config = match std::fs::read_to_string(&config_path)
        .map_err(|e| e.to_string())
        .and_then(|t| Config::parse(&t).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            diags.push(diag(
                &config_path.display().to_string(),
                format!("kube-bench configuration not loaded ({e}); pass --cfg DIR (kube-bench's cfg/ directory)"),
            ));
            return Vec::new();
        }
    };
    let bench = match o.benchmark.clone().or_else(|| config.benchmark_for_version(&o.k8s_version)) {
        Some(b) => b,
        None => {
            diags.push(diag(
                &config_path.display().to_string(),
                format!("no benchmark maps to Kubernetes {}", o.k8s_version),
            ));
            return Vec::new();
        }
    };
    let fs = RootFs::new(root);
    let prefix = root_prefix(root);
    let timeout = Duration::from_secs(o.audit_timeout.max(1));
    let mut out = Vec::new();
    for target in &o.targets {
        let path = cfg_dir.join(&bench).join(format!("{target}.yaml"));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(diag(&path.display().to_string(), format!("cannot read: {e}")));
                continue;
            }
        };
        let node_type = kubebench::parse_controls(&text).map(|c| c.node_type).unwrap_or_else(|_| target.clone());
        // kube-bench refuses a target whose components (the kubelet for `node`) do not run.
        if let Err(e) = config.detect_binaries(&node_type, &fs as &dyn Source) {
            diags.push(diag(
                &format!("{prefix}/proc"),
                format!("failed to get a set of executables needed for tests: {e} (kube-bench refuses to run the {target} checks)"),
            ));
            continue;
        }
        let vars = config.substitutions(&node_type, &fs as &dyn Source, &prefix);
        let controls = match kubebench::parse_controls(&kubebench::substitute(&text, &vars)) {
            Ok(c) => c,
            Err(e) => {
                diags.push(diag(&path.display().to_string(), format!("not a kube-bench controls file: {e}")));
                continue;
            }
        };
        let mut runner = |cmd: &str| -> AuditRun {
            let o = run_command(cmd, timeout, &[]);
            audits.0 += 1;
            audits.1 += o.elapsed;
            let output = format!("{}{}", o.stdout, o.stderr);
            let error = if o.timed_out {
                Some(format!("failed to run: {cmd:?}: timed out after {}s", timeout.as_secs()))
            } else if let Some(e) = o.error {
                Some(format!("failed to run: {cmd:?}: {e}"))
            } else if o.status != Some(0) {
                Some(format!(
                    "failed to run: {cmd:?}, output: {output:?}, error: exit status {}",
                    o.status.unwrap_or(-1)
                ))
            } else {
                None
            };
            AuditRun { output, error }
        };
        out.push(kubebench::run_controls(&controls, &mut runner));
    }
    out
}

fn check(a: &CheckArgs) -> u8 {
    let start = Instant::now();
    let sections: Vec<Section> = if a.section.is_empty() {
        vec![Section::Cis, Section::Sshd, Section::Ports, Section::Kubelet, Section::Sysctl, Section::Packages]
    } else {
        a.section.clone()
    };
    let fs = RootFs::new(&a.root);
    let mut findings = Vec::new();
    let mut diagnostics = Vec::new();
    let mut timings = Vec::new();
    let mut audits = (0usize, Duration::ZERO);
    if sections.contains(&Section::Cis) {
        let t = Instant::now();
        let results = run_cis(&a.root, &a.cis, &mut diagnostics, &mut audits);
        findings.extend(kubebench::findings(&results, a.cis_warn));
        timings.push(("cis", t.elapsed()));
    }
    if sections.contains(&Section::Sshd) {
        let t = Instant::now();
        let conn = match a.connection.as_deref().map(str::parse::<Connection>).transpose() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: -C: {e}");
                return exit::ERROR;
            }
        };
        if fs.exists(&a.sshd_config) {
            match sshd::effective(&fs, &a.sshd_config, conn.as_ref()) {
                Ok(eff) => findings.extend(sshd::findings::check(&eff)),
                Err(e) => diagnostics.push(diag(&e.file, format!("sshd would refuse this configuration: {e}"))),
            }
        }
        timings.push(("sshd", t.elapsed()));
    }
    if sections.contains(&Section::Ports) {
        let t = Instant::now();
        let (sockets, problems) = kguard_node::ports::read_sockets(&fs, true);
        for p in problems {
            diagnostics.push(diag("/proc/net", p));
        }
        let mut extra = Vec::new();
        for p in &a.allow_port {
            match p.split_once('/').and_then(|(n, p)| Some((n.to_owned(), p.parse::<u16>().ok()?))) {
                Some(x) if x.0 == "tcp" || x.0 == "udp" => extra.push(x),
                _ => {
                    eprintln!("error: --allow-port {p}: expected tcp/PORT or udp/PORT");
                    return exit::ERROR;
                }
            }
        }
        let role = if a.role == Role::ControlPlane { "control-plane" } else { "worker" };
        findings.extend(kguard_node::ports::check(&sockets, role, &extra));
        timings.push(("ports", t.elapsed()));
    }
    if sections.contains(&Section::Kubelet) {
        let t = Instant::now();
        if let Some(eff) = kubelet_effective(&fs, &a.kubelet) {
            diagnostics.extend(eff.problems.iter().map(problem_diag));
            findings.extend(kubelet::check(&eff));
        }
        timings.push(("kubelet", t.elapsed()));
    }
    if sections.contains(&Section::Sysctl) {
        let t = Instant::now();
        if fs.exists("/proc/sys") {
            let opts = kguard_node::sysctl::Options { forwarding: a.sysctl_forwarding };
            findings.extend(kguard_node::sysctl::check(&fs, opts));
        }
        timings.push(("sysctl", t.elapsed()));
    }
    if sections.contains(&Section::Packages) {
        let t = Instant::now();
        match installed_packages(&a.root) {
            Ok(pkgs) => {
                let opts =
                    kguard_node::packages::Options { deny: a.deny_package.clone(), allow: a.allow_package.clone() };
                findings.extend(kguard_node::packages::check(&pkgs, &opts));
            }
            Err(e) => diagnostics.push(diag(
                "/var/lib",
                format!("cannot read the package database: {e} (--section without packages skips this section)"),
            )),
        }
        timings.push(("packages", t.elapsed()));
    }
    if std::env::var_os("KGUARD_NODE_TIMINGS").is_some() {
        for (s, d) in &timings {
            eprintln!("timing: {s} {:.1} ms", d.as_secs_f64() * 1000.0);
        }
        if sections.contains(&Section::Cis) {
            eprintln!(
                "timing: cis audit commands {} run, {:.1} ms (inside cis)",
                audits.0,
                audits.1.as_secs_f64() * 1000.0
            );
        }
        eprintln!("timing: total {:.1} ms", start.elapsed().as_secs_f64() * 1000.0);
    }
    let has_errors = !diagnostics.is_empty();
    let fail_on = a.fail_on.unwrap_or(Severity::Info);
    let failing = findings.iter().any(|f| f.severity >= fail_on);
    let report = Report {
        findings,
        diagnostics,
        summary: Summary::default(),
        rules: kguard_node::RULES.to_vec(),
        ..Report::default()
    };
    if let Err(code) = crate::output::write_report(a.output, &report, a.output_file.as_deref()) {
        return code;
    }
    if has_errors {
        exit::ERROR
    } else if failing {
        exit::FINDINGS
    } else {
        exit::CLEAN
    }
}

fn cis(a: &CisArgs) -> u8 {
    let mut diags = Vec::new();
    let results = run_cis(&a.root, &a.cis, &mut diags, &mut (0, Duration::ZERO));
    for d in &diags {
        eprintln!("error: {}: {}", d.location.file, d.message);
    }
    // kube-bench exits without a report when a target cannot be set up.
    if !diags.is_empty() {
        return exit::ERROR;
    }
    let mut out = std::io::stdout().lock();
    let r = match a.output {
        Out::Table => out.write_all(kubebench::render_text(&results).as_bytes()),
        Out::Junit => out.write_all(kubebench::render_junit(&results).as_bytes()),
        f => crate::output::structured(&mut out, f, &kubebench::render_json(&results)),
    };
    if let Err(e) = r.and_then(|()| out.flush()) {
        return crate::output::write_failed(&e, "the report");
    }
    let failed = results.iter().any(|r| r.summary().fail > 0);
    if failed { exit::FINDINGS } else { exit::CLEAN }
}

fn sshd_config(a: &SshdArgs) -> u8 {
    let conn = match a.connection.as_deref().map(str::parse::<Connection>).transpose() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: -C: {e}");
            return exit::ERROR;
        }
    };
    let fs = RootFs::new(&a.root);
    let eff = match sshd::effective(&fs, &a.file, conn.as_ref()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return exit::ERROR;
        }
    };
    for w in &eff.warnings {
        eprintln!("{w}");
    }
    let mut out = std::io::stdout().lock();
    let r = match a.output {
        Out::Table => eff.lines().iter().try_for_each(|l| writeln!(out, "{l}")),
        f => {
            let options: serde_json::Map<String, serde_json::Value> = eff
                .iter()
                .map(|(k, s)| {
                    (
                        k.to_owned(),
                        serde_json::json!({"values": s.values, "origin": s.origin.as_ref().map(ToString::to_string)}),
                    )
                })
                .collect();
            crate::output::structured(&mut out, f, &serde_json::json!({"files": eff.files, "options": options}))
        }
    };
    if let Err(e) = r.and_then(|()| out.flush()) {
        return crate::output::write_failed(&e, "the configuration");
    }
    exit::CLEAN
}

fn kubelet_config(a: &KubeletArgs) -> u8 {
    let fs = RootFs::new(&a.root);
    let Some(eff) = kubelet_effective(&fs, &a.kubelet) else {
        eprintln!(
            "error: no kubelet process under {}/proc; pass --kubelet-config FILE or --kubelet-flags \"...\"",
            root_prefix(&a.root)
        );
        return exit::ERROR;
    };
    for p in &eff.problems {
        eprintln!("error: {p}");
    }
    let mut out = std::io::stdout().lock();
    let r = match a.output {
        Out::Table => (|| {
            for s in &eff.settings {
                let key = if s.field.path.is_empty() { format!("--{}", s.field.flag) } else { s.field.path.to_owned() };
                let value = match &s.value {
                    serde_json::Value::Null => "(unset)".to_owned(),
                    serde_json::Value::String(v) => v.clone(),
                    v => v.to_string(),
                };
                writeln!(out, "{key} {value}  # {}", s.origin)?;
            }
            for (g, v, o) in &eff.feature_gates {
                writeln!(out, "featureGates.{g} {v}  # {o}")?;
            }
            Ok(())
        })(),
        f => crate::output::structured(&mut out, f, &eff.to_json()),
    };
    if let Err(e) = r.and_then(|()| out.flush()) {
        return crate::output::write_failed(&e, "the settings");
    }
    if eff.problems.is_empty() { exit::CLEAN } else { exit::ERROR }
}

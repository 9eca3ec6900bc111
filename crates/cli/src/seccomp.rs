//! `kguard seccomp`: lint, diff and compile profiles; run a command under one; record one.
//!
//! The engines are `kguard_seccomp`'s; this module reads files, applies the filter to this
//! process (`seccompiler`, safe: NO_NEW_PRIVS and TSYNC) before `exec`, and traces a command
//! with ptrace (`nix`, safe wrappers) to record its syscalls.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kguard_model::{Diagnostic, Location};
use kguard_report::{Report, Severity, Summary};
use kguard_seccomp::build::{self, Target};
use kguard_seccomp::profile::{self, Profile};
use kguard_seccomp::record::{self, RecordFormat};
use kguard_seccomp::{Action, Arch, bpf, codegen, lint};

use crate::exit;
use crate::output::{self, Format as Output};

/// The formats `seccomp lint -o` writes: `scan`'s report formats.
pub const LINT_FORMATS: [Output; 7] =
    [Output::Table, Output::Json, Output::Yaml, Output::Sarif, Output::Junit, Output::Html, Output::Markdown];

/// The formats `seccomp compile -o` writes (`text` is the name `table` also goes by).
pub const COMPILE_FORMATS: [Output; 3] = [Output::Bpf, Output::Table, Output::Json];

/// The formats `seccomp record -o` writes: `json` the OCI profile, `yaml` the
/// security-profiles-operator `SeccompProfile` object.
pub const RECORD_FORMATS: [Output; 2] = [Output::Json, Output::Yaml];

/// `seccomp record -o`: [`RECORD_FORMATS`], or the names the formats had before `-o` meant a
/// format (`--format oci|seccompprofile`).
fn record_output(s: &str) -> Result<Output, String> {
    match s.to_ascii_lowercase().as_str() {
        "oci" => Ok(Output::Json),
        "seccompprofile" => Ok(Output::Yaml),
        _ => output::parser(&RECORD_FORMATS)(s),
    }
}

/// `kguard seccomp` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum SeccompCommand {
    /// Lint profiles (OCI/Docker JSON or SeccompProfile objects): SCMP001…
    #[command(group(clap::ArgGroup::new("inputs").required(true).multiple(true).args(["profiles", "filename"])))]
    Lint {
        /// Profile files.
        #[arg(value_name = "PROFILE")]
        profiles: Vec<PathBuf>,
        /// A profile file, as kubectl's `-f` (repeatable; the same as a PROFILE argument).
        #[arg(short = 'f', long = "filename", value_name = "PROFILE")]
        filename: Vec<PathBuf>,
        /// Architecture the profile is judged for (default: this machine's).
        #[arg(long)]
        arch: Option<String>,
        /// Report format: table, json (docs/report-json.md), yaml, sarif, junit, html or markdown.
        #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
              value_parser = output::parser(&LINT_FORMATS))]
        output: Output,
        /// Write the report to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
    /// Show the syscalls two profiles decide differently (`runtime/default` names moby's default).
    Diff {
        /// First profile.
        a: String,
        /// Second profile.
        b: String,
        /// Architecture (default: this machine's).
        #[arg(long)]
        arch: Option<String>,
        /// Output format: `table` (one line per syscall, then a count), `json` or `yaml`
        /// (`{architecture, a, b, differences: [{syscall, nr, a, b, byArgs, args}]}`).
        #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
              value_parser = output::parser(&[Output::Table, Output::Json, Output::Yaml]))]
        output: Output,
    },
    /// Compile a profile to a seccomp BPF program.
    Compile {
        /// The profile.
        profile: PathBuf,
        /// Target architecture (`x86_64`, `SCMP_ARCH_AARCH64`, …).
        #[arg(long)]
        arch: String,
        /// Output format: bpf (the raw `struct sock_filter` array in the architecture's byte
        /// order, as libseccomp's `seccomp_export_bpf` writes it), text (one instruction per line)
        /// or json (each instruction's fields and its text).
        #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "bpf",
              value_parser = output::parser(&COMPILE_FORMATS))]
        output: Output,
        /// Write the program to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
    /// Run a command under a profile (NO_NEW_PRIVS, every thread), replacing this process.
    Run {
        /// The profile.
        #[arg(long)]
        profile: PathBuf,
        /// Complain mode: syscalls the profile blocks run and are logged by the kernel
        /// (SCMP_ACT_LOG) instead.
        #[arg(long)]
        log: bool,
        /// The command and its arguments.
        #[arg(required = true, last = true)]
        command: Vec<String>,
    },
    /// Record the syscalls of a command (and its threads and children), of a running process
    /// (`--pid`) or of a cgroup's processes (`--cgroup`), and write a minimal profile.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["pid", "cgroup", "command"])))]
    #[command(group(clap::ArgGroup::new("running").args(["pid", "cgroup"])))]
    Record {
        /// Write the profile to FILE (required: the recorded command writes to stdout itself).
        #[arg(long, value_name = "FILE", required = true)]
        output_file: PathBuf,
        /// Profile format: json (the OCI profile, as the kubelet reads it from its seccomp
        /// directory) or yaml (a security-profiles-operator `SeccompProfile` object); `oci` and
        /// `seccompprofile` name them too.
        #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "json",
              value_parser = record_output)]
        output: Output,
        /// Record a running process instead: every thread, and its descendants (PTRACE_SEIZE;
        /// needs the right to ptrace it). Ends at SIGINT/SIGTERM, `--duration`, or when it exits.
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        pid: Option<i32>,
        /// Record every process of a cgroup directory (e.g. a container's
        /// `/sys/fs/cgroup/…/cri-containerd-<id>.scope`), including those that join it later.
        /// Ends at SIGINT/SIGTERM or `--duration`.
        #[arg(long)]
        cgroup: Option<PathBuf>,
        /// With `--pid` or `--cgroup`: stop recording after this many seconds (decimals allowed).
        #[arg(long, requires = "running", value_parser = parse_duration)]
        duration: Option<std::time::Duration>,
        /// The command and its arguments.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// (internal) the traced child of `record`: stops for the tracer, then execs.
    #[command(name = "__traced-exec", hide = true)]
    TracedExec {
        /// The command.
        #[arg(required = true, last = true)]
        command: Vec<String>,
    },
}

/// Runs a `kguard seccomp` subcommand; returns the exit code.
pub fn run(cmd: &SeccompCommand) -> u8 {
    match cmd {
        SeccompCommand::Lint { profiles, filename, arch, output, output_file } => {
            // `-f` was once short for --format: `-f json` (no such file) says what is meant now.
            if let Some(p) = filename.iter().find(|p| !p.exists() && output::is_format_name(&p.to_string_lossy())) {
                let name = p.to_string_lossy();
                eprintln!(
                    "error: -f {name}: no such profile; -f names a profile file. For the output format use -o {name}"
                );
                return exit::ERROR;
            }
            let paths: Vec<PathBuf> = profiles.iter().chain(filename).cloned().collect();
            lint_cmd(&paths, arch.as_deref(), *output, output_file.as_deref())
        }
        SeccompCommand::Diff { a, b, arch, output } => diff_cmd(a, b, arch.as_deref(), *output),
        SeccompCommand::Compile { profile, arch, output, output_file } => {
            compile_cmd(profile, arch, output_file.as_deref(), *output)
        }
        SeccompCommand::Run { profile, log, command } => run_cmd(profile, *log, command),
        SeccompCommand::Record { output_file, output, pid, cgroup, duration, command } => match (pid, cgroup) {
            (Some(pid), _) => record_running(output_file, *output, &attach::Target::Pid(*pid), *duration),
            (None, Some(dir)) => record_running(output_file, *output, &attach::Target::Cgroup(dir.clone()), *duration),
            (None, None) => record_cmd(output_file, *output, command),
        },
        SeccompCommand::TracedExec { command } => traced_exec(command),
    }
}

fn parse_arch(s: Option<&str>) -> Result<Arch, String> {
    match s {
        Some(s) => Arch::parse(s).ok_or_else(|| {
            let known: Vec<&str> = Arch::ALL.iter().map(|a| a.name()).collect();
            format!("unknown architecture {s:?} (one of {})", known.join(", "))
        }),
        None => Arch::native().ok_or_else(|| {
            format!("libseccomp does not support this machine's architecture ({})", std::env::consts::ARCH)
        }),
    }
}

/// Reads and parses a profile file; errors are printed `file:line:column: error: …`.
fn read_profiles(path: &Path) -> Result<Vec<Profile>, ()> {
    let text = std::fs::read_to_string(path).map_err(|e| eprintln!("error: {}: {e}", path.display()))?;
    profile::parse_file(&text).map_err(|errs| {
        for e in errs {
            eprintln!("{}:{}: error: {}", path.display(), e.pos, e.message);
        }
    })
}

fn read_one(path: &str) -> Result<Profile, ()> {
    if matches!(path, "runtime/default" | "moby" | "containers-common") {
        let defaults = lint::runtime_defaults();
        let i = usize::from(path == "containers-common");
        return defaults.into_iter().nth(i).map(|(_, p)| p).ok_or(());
    }
    let mut ps = read_profiles(Path::new(path))?;
    if ps.len() > 1 {
        eprintln!("error: {path}: holds {} profiles; give a file with one", ps.len());
        return Err(());
    }
    ps.pop().ok_or(())
}

fn build_or_report(p: &Profile, target: &Target, file: &str) -> Result<kguard_seccomp::Filter, ()> {
    build::build(p, target).map_err(|errs| {
        for e in errs {
            eprintln!("{file}:{}: error: {}", e.pos, e.message);
        }
    })
}

fn lint_cmd(paths: &[PathBuf], arch: Option<&str>, format: Output, output_file: Option<&Path>) -> u8 {
    let arch = match parse_arch(arch) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let target = Target::docker_default(arch);
    let defaults = lint::runtime_defaults();
    let mut findings = Vec::new();
    let mut diagnostics = Vec::new();
    let mut documents = 0;
    for path in paths {
        let file: Arc<str> = Arc::from(path.display().to_string());
        // Regular files only, size-capped, UTF-8: the manifest reader's rules.
        let text = match kguard_model::load::read_input(&kguard_model::load::Input::File(path.clone())) {
            Ok(t) => t,
            Err(d) => {
                diagnostics.push(d);
                continue;
            }
        };
        match profile::parse_file(&text) {
            Err(errs) => {
                for e in errs {
                    diagnostics.push(Diagnostic::error(
                        "invalid-profile",
                        Location { file: file.clone(), pos: Some(e.pos) },
                        e.message,
                    ));
                }
            }
            Ok(ps) => {
                for p in &ps {
                    documents += 1;
                    if let Err(errs) = build::build(p, &target) {
                        for e in errs {
                            diagnostics.push(Diagnostic::error(
                                "invalid-profile",
                                Location { file: file.clone(), pos: Some(e.pos) },
                                e.message,
                            ));
                        }
                    }
                    findings.extend(lint::lint(p, &file, &target, &defaults));
                }
            }
        }
    }
    findings.sort_by(|a, b| (&a.location, &a.rule_id).cmp(&(&b.location, &b.rule_id)));
    let has_errors = !diagnostics.is_empty();
    let failing = findings.iter().any(|f| f.severity >= Severity::Info);
    let summary = Summary {
        files: paths.len(),
        documents,
        objects: documents,
        scanned: documents,
        skipped: 0,
        ..Summary::default()
    };
    let report =
        Report { findings, diagnostics, summary, rules: kguard_seccomp::lint::RULES.to_vec(), ..Report::default() };
    if let Err(code) = output::write_report(format, &report, output_file) {
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

fn diff_cmd(a: &str, b: &str, arch: Option<&str>, format: Output) -> u8 {
    let arch = match parse_arch(arch) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let target = Target::docker_default(arch);
    let (Ok(pa), Ok(pb)) = (read_one(a), read_one(b)) else { return exit::ERROR };
    let (Ok(fa), Ok(fb)) = (build_or_report(&pa, &target, a), build_or_report(&pb, &target, b)) else {
        return exit::ERROR;
    };
    let diffs = lint::compare(&fa, &fb, arch, &[&pa, &pb]);
    let code = if diffs.is_empty() { exit::CLEAN } else { exit::FINDINGS };
    if format != Output::Table {
        let v = serde_json::json!({
            "architecture": arch.oci_name(),
            "a": a,
            "b": b,
            "differences": diffs.iter().map(|d| serde_json::json!({
                "syscall": d.name,
                "nr": d.nr,
                "a": d.a.to_string(),
                "b": d.b.to_string(),
                "byArgs": d.by_args,
                "args": if d.by_args { d.args.iter().map(|v| format!("{v:#x}")).collect::<Vec<_>>() } else { Vec::new() },
            })).collect::<Vec<_>>(),
        });
        if let Err(e) = output::structured(&mut std::io::stdout().lock(), format, &v) {
            return output::write_failed(&e, "the differences");
        }
        return code;
    }
    let mut out = std::io::stdout().lock();
    for d in &diffs {
        let _ = writeln!(out, "{}", d.describe());
    }
    let _ = writeln!(out, "{} syscall(s) decided differently on {} ({a} vs {b})", diffs.len(), arch.oci_name());
    code
}

fn compile_cmd(path: &Path, arch: &str, output: Option<&Path>, format: Output) -> u8 {
    let arch = match parse_arch(Some(arch)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let Ok(p) = read_one(&path.display().to_string()) else { return exit::ERROR };
    let Ok(f) = build_or_report(&p, &Target::docker_default(arch), &path.display().to_string()) else {
        return exit::ERROR;
    };
    let prog = match codegen::compile(&f)
        .map_err(|e| e.to_string())
        .and_then(|p| bpf::verify(&p).map(|()| p).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return exit::ERROR;
        }
    };
    let bytes = match format {
        Output::Json => {
            let insns: Vec<serde_json::Value> = prog
                .iter()
                .map(|i| serde_json::json!({"code": i.code, "jt": i.jt, "jf": i.jf, "k": i.k, "text": i.to_string()}))
                .collect();
            let v = serde_json::json!({
                "architecture": arch.oci_name(),
                "instructions": insns.len(),
                "program": insns,
            });
            serde_json::to_string_pretty(&v).map(|s| s + "\n").unwrap_or_default().into_bytes()
        }
        Output::Table => {
            prog.iter().enumerate().map(|(i, ins)| format!("{i:4}: {ins}\n")).collect::<String>().into_bytes()
        }
        _ => bpf::to_bytes(&prog, arch.endian()),
    };
    let written = match output {
        Some(o) => std::fs::write(o, &bytes).map_err(|e| format!("{}: {e}", o.display())),
        None => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(&bytes).and_then(|()| out.flush()) {
                return output::write_failed(&e, "the program");
            }
            Ok(())
        }
    };
    if let Err(e) = written {
        eprintln!("error: {e}");
        return exit::ERROR;
    }
    eprintln!("{}: {} instructions for {}", path.display(), prog.len(), arch.oci_name());
    exit::CLEAN
}

/// Resolves the program the way `execvp` would (so that exactly one `execve` runs under the filter).
fn resolve_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

fn run_cmd(path: &Path, log: bool, command: &[String]) -> u8 {
    let arch = match parse_arch(None) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let file = path.display().to_string();
    let Ok(mut p) = read_one(&file) else { return exit::ERROR };
    if !p.architectures.is_empty()
        && !p.architectures.iter().any(|a| a.value == arch)
        && p.arch_map.iter().all(|m| m.arch != arch)
    {
        let listed: Vec<String> = p.architectures.iter().map(|a| a.value.oci_name()).collect();
        eprintln!("error: {file}: the profile is for {} but this machine is {}", listed.join(", "), arch.oci_name());
        return exit::ERROR;
    }
    if log {
        complain_mode(&mut p);
    }
    let Ok(f) = build_or_report(&p, &Target::docker_default(arch), &file) else { return exit::ERROR };
    let Some((program, args)) = command.split_first() else { return exit::ERROR };
    let Some(resolved) = resolve_program(program) else {
        eprintln!("error: {program}: command not found");
        return exit::ERROR;
    };
    // the syscalls between loading the filter and the new program: they must run
    for (name, args) in
        [("execve", [0u64; 6]), ("rt_sigprocmask", [2, 1, 0, 8, 0, 0]), ("rt_sigaction", [13, 1, 0, 8, 0, 0])]
    {
        let Some(nr) = arch.syscall_number(name) else { continue };
        let act = Action::from_ret(f.decide(arch.audit_arch(), nr, &args));
        if !act.runs() {
            eprintln!("error: {file}: the profile blocks {name} ({act}): {program} could not be started under it");
            return exit::ERROR;
        }
    }
    let prog = match codegen::compile(&f)
        .map_err(|e| e.to_string())
        .and_then(|p| bpf::verify(&p).map(|()| p).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {file}: {e}");
            return exit::ERROR;
        }
    };
    let filter: Vec<seccompiler::sock_filter> =
        prog.iter().map(|i| seccompiler::sock_filter { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect();
    let mut cmd = std::process::Command::new(&resolved);
    cmd.args(args);
    use std::os::unix::process::CommandExt as _;
    cmd.arg0(program);
    if let Err(e) = seccompiler::apply_filter_all_threads(&filter) {
        eprintln!("error: cannot load the seccomp filter: {e}");
        return exit::ERROR;
    }
    let e = cmd.exec();
    // only reached when execve failed (under the filter: no files may be opened any more)
    let _ = writeln!(std::io::stderr(), "error: {program}: {e}");
    127
}

/// `--log`: every blocking action becomes SCMP_ACT_LOG.
fn complain_mode(p: &mut Profile) {
    use kguard_seccomp::profile::ActionName;
    let soften = |a: &mut ActionName| {
        if !matches!(a, ActionName::Allow | ActionName::Log) {
            *a = ActionName::Log;
        }
    };
    soften(&mut p.default_action.value);
    for r in &mut p.syscalls {
        soften(&mut r.action.value);
    }
}

fn record_cmd(output: &Path, format: Output, command: &[String]) -> u8 {
    let Some(program) = command.first() else { return exit::ERROR };
    let used = match trace::record(command) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: cannot record {program}: {e}");
            return exit::ERROR;
        }
    };
    let fmt = record_format(format);
    let name =
        Path::new(program).file_name().map_or_else(|| "recorded".to_owned(), |n| n.to_string_lossy().into_owned());
    let text = record::profile_text(&used.syscalls, fmt, &name);
    if let Err(e) = std::fs::write(output, text) {
        eprintln!("error: {}: {e}", output.display());
        return exit::ERROR;
    }
    let (names, unknown) = record::names(&used.syscalls);
    eprintln!(
        "{}: {} syscalls recorded from {} task(s); {program} exited with {}",
        output.display(),
        names.len(),
        used.processes,
        used.status
    );
    for (a, nr) in unknown {
        eprintln!("warning: syscall {nr} on {a} has no name in libseccomp's table; not in the profile");
    }
    used.exit_code
}

/// `--duration`: positive seconds, decimals allowed.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 1e9) {
        return Err(format!("{s:?}: give a positive number of seconds"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn record_format(format: Output) -> RecordFormat {
    if format == Output::Yaml { RecordFormat::SeccompProfile } else { RecordFormat::Oci }
}

/// `record --pid` / `--cgroup`: attach, record, detach, write the profile.
fn record_running(output: &Path, format: Output, target: &attach::Target, duration: Option<std::time::Duration>) -> u8 {
    // The output is checked first: a recording must not be lost to an unwritable path (and an
    // empty file made for the check does not outlive a refusal).
    let existed = output.exists();
    if let Err(e) = std::fs::OpenOptions::new().create(true).append(true).open(output) {
        eprintln!("error: {}: {e}", output.display());
        return exit::ERROR;
    }
    let used = match attach::record(target, duration) {
        Ok(u) => u,
        Err(e) => {
            if !existed {
                let _ = std::fs::remove_file(output);
            }
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let text = record::profile_text(&used.syscalls, record_format(format), &used.name);
    if let Err(e) = std::fs::write(output, text) {
        eprintln!("error: {}: {e}", output.display());
        return exit::ERROR;
    }
    let (names, unknown) = record::names(&used.syscalls);
    eprintln!(
        "{}: {} syscalls recorded from {} thread(s) of {} process(es) in {:.1} s ({}); detached",
        output.display(),
        names.len(),
        used.tasks,
        used.processes,
        used.elapsed.as_secs_f64(),
        used.ended
    );
    if !used.not_detached.is_empty() {
        eprintln!(
            "warning: threads {:?} did not stop to be detached; the kernel detaches them as kguard exits",
            used.not_detached
        );
    }
    for (a, nr) in unknown {
        eprintln!("warning: syscall {nr} on {a} has no name in libseccomp's table; not in the profile");
    }
    exit::CLEAN
}

/// Reads a node's seccomp profile directory (`kguard scan --seccomp-root`): every file below it,
/// read as `kguard serve` reads `admission.seccomp.profileDir` (regular files through links,
/// 8 MiB each, 10,000 at most; a directory that cannot be listed is an error).
pub fn node_profiles(dir: &Path) -> Result<kguard_seccomp::kubelet::NodeProfiles, String> {
    kguard_server::seccomp::read_dir(dir, Arch::native())
}

fn traced_exec(command: &[String]) -> u8 {
    let Some((program, args)) = command.split_first() else { return exit::ERROR };
    if let Err(e) = trace::stop_for_tracer() {
        eprintln!("error: cannot be traced: {e}");
        return exit::ERROR;
    }
    use std::os::unix::process::CommandExt as _;
    let e = std::process::Command::new(program).args(args).exec();
    eprintln!("error: {program}: {e}");
    127
}

mod attach;
mod trace;

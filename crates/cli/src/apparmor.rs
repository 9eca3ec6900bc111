//! `kguard apparmor`: parse, check and lint AppArmor profiles.
//!
//! The engines are `kguard_apparmor`'s; this module reads the files (and the includes, through
//! [`RealFs`]) and prints.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kguard_apparmor::scan::{Entry, Fs};
use kguard_apparmor::{Options, ast::Policy, lint, parse, query};
use kguard_model::{Diagnostic, Location};
use kguard_report::{Report, Summary};

use crate::exit;
use crate::output::{self, Format};

const LINT_FORMATS: &[Format] =
    &[Format::Table, Format::Json, Format::Sarif, Format::Junit, Format::Html, Format::Markdown];

/// `kguard apparmor` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum AppArmorCommand {
    /// Parse profiles and report the first error of each as `apparmor_parser` would (like
    /// `apparmor_parser -Q -K`, without a kernel).
    Parse {
        /// Profile files.
        #[arg(required = true)]
        profiles: Vec<PathBuf>,
        /// Include search directories for `include <…>` (default: /etc/apparmor.d).
        #[arg(short = 'I', long = "include")]
        include: Vec<PathBuf>,
        /// Output format: `table` (a line per file) or `json` (per file: `ok`, `profiles`,
        /// `error` with file, line, column and message).
        #[arg(short = 'o', long = "output", default_value = "table",
              value_parser = output::parser(&[Format::Table, Format::Json]))]
        output: Format,
        /// Write the report to FILE instead of stdout.
        #[arg(long = "output-file", value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
    /// Does a profile allow PERM on PATH? Explains which rule decided.
    Check {
        /// The profile file.
        profile: PathBuf,
        /// The path accessed.
        #[arg(long)]
        path: String,
        /// The permission: r, w, a, l, k, m or x.
        #[arg(long, default_value = "r")]
        perm: char,
        /// The profile (or `profile//hat`) in the file, or a program path its attachment matches
        /// (default: the file's only profile).
        #[arg(long)]
        name: Option<String>,
        /// The task does not own the file (rules marked `owner` do not apply).
        #[arg(long)]
        not_owner: bool,
        /// Include search directories (default: /etc/apparmor.d).
        #[arg(short = 'I', long = "include")]
        include: Vec<PathBuf>,
        /// Output format: `table` (text), `json` or `yaml` (docs/apparmor.md).
        #[arg(short = 'o', long = "output", default_value = "table",
              value_parser = output::parser(&[Format::Table, Format::Json, Format::Yaml]))]
        output: Format,
    },
    /// What `aa-status` reports: loaded profiles by mode and confined processes, from the
    /// kernel's profile list and /proc (or the files given). Exit 0; 1 when AppArmor is not
    /// enabled (no list given and none in this kernel); 2 when no profile is loaded.
    Status {
        /// The loaded-profile list (default: /sys/kernel/security/apparmor/profiles), e.g. a
        /// copy taken on a node.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// A /proc tree to read processes from (`<pid>/attr/current`, `<pid>/exe`; default:
        /// /proc when --file is not given, none otherwise).
        #[arg(long, value_name = "DIR")]
        proc: Option<PathBuf>,
        /// Output format: `table` (aa-status's text) or `json` (aa-status's `--json`).
        #[arg(short = 'o', long = "output", default_value = "table",
              value_parser = output::parser(&[Format::Table, Format::Json]))]
        output: Format,
        /// Write the report to FILE instead of stdout.
        #[arg(long = "output-file", value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
    /// Generate profiles: the container template (docker-default) or rules from log lines.
    Generate {
        #[command(subcommand)]
        what: GenerateCommand,
    },
    /// Lint profiles: AA001… (`kguard explain AA001`).
    Lint {
        /// Profile files.
        #[arg(required = true)]
        profiles: Vec<PathBuf>,
        /// Include search directories (default: /etc/apparmor.d).
        #[arg(short = 'I', long = "include")]
        include: Vec<PathBuf>,
        /// Output format: table, json, sarif, junit, html, markdown.
        #[arg(short = 'o', long = "output", default_value = "table", value_parser = output::parser(LINT_FORMATS))]
        output: Format,
        /// Write the report to FILE instead of stdout.
        #[arg(long = "output-file", value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
}

/// `kguard apparmor generate` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum GenerateCommand {
    /// The container template profile, byte for byte as moby's generator writes docker-default.
    Template {
        /// The profile name.
        #[arg(default_value = "docker-default")]
        name: String,
        /// The container runtime's own profile, allowed to signal the containers (default
        /// unconfined).
        #[arg(long, value_name = "PROFILE")]
        daemon_profile: Option<String>,
        /// Write `abi <abi/3.0>,`.
        #[arg(long)]
        abi3: bool,
        /// Include <tunables/global> instead of defining @{PROC}.
        #[arg(long)]
        tunables: bool,
        /// Include <abstractions/base> in the profile.
        #[arg(long)]
        abstractions_base: bool,
        /// A line before the profile (repeatable), e.g. `#include <local/foo>`.
        #[arg(long = "import", value_name = "LINE")]
        imports: Vec<String>,
        /// A line at the top of the profile body (repeatable).
        #[arg(long = "inner-import", value_name = "LINE")]
        inner_imports: Vec<String>,
        /// Output format: `table` (the profile text) or `json`.
        #[arg(short = 'o', long = "output", default_value = "table",
              value_parser = output::parser(&[Format::Table, Format::Json]))]
        output: Format,
        /// Write to FILE instead of stdout.
        #[arg(long = "output-file", value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
    /// Rules from kernel/audit log lines (`apparmor="DENIED"`/`"ALLOWED"` records), read as
    /// libapparmor reads them, proposed as aa-logprof would, one profile per confining profile.
    FromLog {
        /// Log files (audit.log, syslog, dmesg output); `-` for stdin.
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// Widen file paths as aa-logprof's "Glob" (`path`: `/a/b/c.log` → `/a/b/*`) or "Glob
        /// with extension" (`ext`: → `/a/b/*.log`) choice does; events whose paths glob alike
        /// give one rule.
        #[arg(long, value_name = "HOW", default_value = "none", value_parser = ["none", "path", "ext"])]
        glob: String,
        /// Output format: `table` (the profiles) or `json` (events and profiles).
        #[arg(short = 'o', long = "output", default_value = "table",
              value_parser = output::parser(&[Format::Table, Format::Json]))]
        output: Format,
        /// Write to FILE instead of stdout.
        #[arg(long = "output-file", value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
}

/// Reads includes from the file system.
pub struct RealFs;

impl Fs for RealFs {
    fn entry(&self, path: &str) -> Option<Entry> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_dir() {
            let names = std::fs::read_dir(path).ok()?.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
            Some(Entry::Dir(names))
        } else if meta.is_file() {
            std::fs::read(path).ok().map(Entry::File)
        } else {
            None
        }
    }
}

/// Reads a node's AppArmor profiles (`kguard scan --apparmor-profiles`): a loaded-profile list,
/// or a directory of profile sources, read as `kguard serve` reads `admission.apparmor.profiles`.
pub fn node_profiles(path: &Path) -> Result<kguard_apparmor::node::NodeProfiles, String> {
    kguard_server::apparmor::read(path)
}

/// Runs a `kguard apparmor` subcommand; returns the exit code.
pub fn run(cmd: &AppArmorCommand) -> u8 {
    match cmd {
        AppArmorCommand::Parse { profiles, include, output, output_file } => {
            parse_cmd(profiles, include, *output, output_file.as_deref())
        }
        AppArmorCommand::Check { profile, path, perm, name, not_owner, include, output } => {
            let query = Query { path: path.as_str(), perm: *perm, name: name.as_deref(), owner: !*not_owner };
            check_cmd(profile, &query, include, *output)
        }
        AppArmorCommand::Lint { profiles, include, output, output_file } => {
            lint_cmd(profiles, include, *output, output_file.as_deref())
        }
        AppArmorCommand::Generate { what } => generate_cmd(what),
        AppArmorCommand::Status { file, proc, output, output_file } => {
            status_cmd(file.as_deref(), proc.as_deref(), *output, output_file.as_deref())
        }
    }
}

fn emit(output_file: Option<&Path>, body: &str) -> u8 {
    let mut out = match output::sink(output_file) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: cannot create {}: {e}", output_file.map(|p| p.display().to_string()).unwrap_or_default());
            return exit::ERROR;
        }
    };
    if let Err(e) = out.write_all(body.as_bytes()).and_then(|()| out.flush()) {
        return output::write_failed(&e, "the output");
    }
    exit::CLEAN
}

fn generate_cmd(what: &GenerateCommand) -> u8 {
    match what {
        GenerateCommand::Template {
            name,
            daemon_profile,
            abi3,
            tunables,
            abstractions_base,
            imports,
            inner_imports,
            output,
            output_file,
        } => {
            let t = kguard_apparmor::template::Template {
                name: name.clone(),
                daemon_profile: daemon_profile.clone(),
                abi3: *abi3,
                tunables: *tunables,
                abstractions_base: *abstractions_base,
                imports: imports.clone(),
                inner_imports: inner_imports.clone(),
            };
            let text = t.render();
            let body = if *output == Format::Json {
                let v = serde_json::json!({"name": name, "profile": text});
                serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
            } else {
                text
            };
            emit(output_file.as_deref(), &body)
        }
        GenerateCommand::FromLog { logs, glob, output, output_file } => {
            use kguard_apparmor::glob::Glob;
            use kguard_apparmor::log;
            let glob = match glob.as_str() {
                "path" => Glob::Path,
                "ext" => Glob::Ext,
                _ => Glob::None,
            };
            let mut records = Vec::new();
            for path in logs {
                let bytes = if path.as_os_str() == "-" {
                    let mut b = Vec::new();
                    if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut b) {
                        eprintln!("error: stdin: {e}");
                        return exit::ERROR;
                    }
                    b
                } else {
                    match std::fs::read(path) {
                        Ok(b) => b,
                        Err(e) => {
                            eprintln!("error: {}: {e}", path.display());
                            return exit::ERROR;
                        }
                    }
                };
                let text = String::from_utf8_lossy(&bytes);
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let r = log::parse_line(line);
                    if r.event != log::Event::Invalid {
                        records.push((format!("{}:{}", path.display(), i + 1), r));
                    }
                }
            }
            let only: Vec<log::Record> = records.iter().map(|(_, r)| r.clone()).collect();
            let proposals = log::propose_globbed(&only, glob);
            let body = if *output == Format::Json {
                let events: Vec<serde_json::Value> = records
                    .iter()
                    .map(|(at, r)| {
                        serde_json::json!({
                            "location": at,
                            "event": r.event.name(),
                            "operation": r.operation,
                            "profile": r.profile,
                            "name": r.name,
                            "requested_mask": r.requested_mask,
                            "denied_mask": r.denied_mask,
                            "rule": log::propose_rule_globbed(r, glob),
                        })
                    })
                    .collect();
                let profiles: Vec<serde_json::Value> = proposals
                    .iter()
                    .map(|p| serde_json::json!({"profile": p.profile, "rules": p.rules, "hats": p.hats.iter().map(|(h, r)| serde_json::json!({"hat": h, "rules": r})).collect::<Vec<_>>(), "text": p.render()}))
                    .collect();
                serde_json::to_string_pretty(&serde_json::json!({"events": events, "profiles": profiles}))
                    .unwrap_or_default()
                    + "\n"
            } else {
                proposals.iter().map(log::Proposal::render).collect::<Vec<_>>().join("\n")
            };
            if records.is_empty() {
                eprintln!("kguard: no AppArmor events in the input");
            }
            emit(output_file.as_deref(), &body)
        }
    }
}

/// The kernel's profile list.
const KERNEL_PROFILES: &str = "/sys/kernel/security/apparmor/profiles";

fn status_cmd(file: Option<&Path>, proc: Option<&Path>, format: Format, output_file: Option<&Path>) -> u8 {
    use kguard_apparmor::status::Status;
    let (list, proc) = match file {
        Some(f) => (f.to_path_buf(), proc.map(Path::to_path_buf)),
        None => {
            if !Path::new("/sys/module/apparmor").exists() {
                eprintln!(
                    "apparmor not present: this kernel has no AppArmor (no /sys/module/apparmor); \
                     give a node's profile list with --file (a copy of {KERNEL_PROFILES})"
                );
                return 1;
            }
            (PathBuf::from(KERNEL_PROFILES), Some(proc.map_or_else(|| PathBuf::from("/proc"), Path::to_path_buf)))
        }
    };
    let text = match std::fs::read(&list) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if file.is_none() && e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("apparmor filesystem is not mounted ({KERNEL_PROFILES}: {e}).");
            return 3;
        }
        Err(e) => {
            eprintln!("error: {}: {e}", list.display());
            return 4;
        }
    };
    let mut status = Status::from_profiles(&text);
    for line in &status.bad_lines {
        eprintln!("warning: {}: not `name (mode)`, skipped: {line:?}", list.display());
    }
    if status.profiles.is_empty() {
        eprintln!("{}: no profile loaded.", list.display());
        return 2;
    }
    if let Some(dir) = &proc {
        read_processes(dir, &mut status);
    }
    let body = if format == Format::Json { status.json_text() + "\n" } else { status.text() };
    let mut out = match output::sink(output_file) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: cannot create {}: {e}", output_file.map(|p| p.display().to_string()).unwrap_or_default());
            return exit::ERROR;
        }
    };
    if let Err(e) = out.write_all(body.as_bytes()).and_then(|()| out.flush()) {
        return output::write_failed(&e, "the status");
    }
    exit::CLEAN
}

/// Every `<pid>` of a /proc tree: its label (`attr/apparmor/current`, else `attr/current`, as
/// libapparmor reads it) and executable (`exe` resolved, else the link's text); entries that
/// cannot be read are skipped, as aa-status skips them.
fn read_processes(dir: &Path, status: &mut kguard_apparmor::status::Status) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut pids: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    pids.sort_by_key(|p| p.parse::<u64>().unwrap_or(u64::MAX));
    for pid in pids {
        let base = dir.join(&pid);
        let current =
            std::fs::read(base.join("attr/apparmor/current")).or_else(|_| std::fs::read(base.join("attr/current")));
        let Ok(current) = current else { continue };
        let exe_link = base.join("exe");
        let exe = match std::fs::canonicalize(&exe_link) {
            Ok(p) => p.display().to_string(),
            Err(_) => match std::fs::read_link(&exe_link) {
                Ok(p) => p.display().to_string(),
                Err(_) => continue,
            },
        };
        status.add_process(&pid, &String::from_utf8_lossy(&current), &exe);
    }
}

fn search_dirs(include: &[PathBuf]) -> Vec<String> {
    if include.is_empty() {
        vec!["/etc/apparmor.d".to_owned()]
    } else {
        include.iter().map(|p| p.display().to_string()).collect()
    }
}

/// Reads and parses one file; the error is `file:line:column: message`.
fn load(path: &Path, search: &[String]) -> Result<Policy, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.display().to_string();
    let text = kguard_apparmor::error::decode(&name, bytes).map_err(|e| e.to_string())?;
    parse(&name, &text, Options { fs: &RealFs, search, base: "." }).map_err(|e| e.to_string())
}

fn parse_cmd(paths: &[PathBuf], include: &[PathBuf], format: Format, output_file: Option<&Path>) -> u8 {
    let search = search_dirs(include);
    let mut code = exit::CLEAN;
    let mut text = String::new();
    let mut items = Vec::new();
    for p in paths {
        let bytes = std::fs::read(p);
        let result = match bytes {
            Err(e) => Err((None, format!("{}: {e}", p.display()))),
            Ok(b) => match kguard_apparmor::error::decode(&p.display().to_string(), b) {
                Err(e) => {
                    let s = e.to_string();
                    Err((Some(e), s))
                }
                Ok(t) => {
                    let name = p.display().to_string();
                    parse(&name, &t, Options { fs: &RealFs, search: &search, base: "." }).map_err(|e| {
                        let s = e.to_string();
                        (Some(e), s)
                    })
                }
            },
        };
        match result {
            Ok(policy) => {
                let n: usize = policy.profiles.iter().map(count).sum();
                text.push_str(&format!("{}: ok ({n} profile{})\n", p.display(), if n == 1 { "" } else { "s" }));
                items.push(serde_json::json!({"file": p.display().to_string(), "ok": true, "profiles": n}));
            }
            Err((e, msg)) => {
                if format == Format::Table {
                    eprintln!("error: {msg}");
                }
                let error = match e {
                    Some(e) => {
                        serde_json::json!({"file": &*e.file, "line": e.pos.line, "column": e.pos.column, "message": e.message})
                    }
                    None => serde_json::json!({"message": msg}),
                };
                items.push(serde_json::json!({"file": p.display().to_string(), "ok": false, "error": error}));
                code = exit::ERROR;
            }
        }
    }
    let body = if format == Format::Json {
        serde_json::to_string_pretty(&serde_json::Value::Array(items)).unwrap_or_default() + "\n"
    } else {
        text
    };
    let written = emit(output_file, &body);
    if written == exit::CLEAN { code } else { written }
}

fn count(p: &kguard_apparmor::ast::Profile) -> usize {
    1 + p.children.iter().map(count).sum::<usize>()
}

/// What `kguard apparmor check` asks.
struct Query<'a> {
    path: &'a str,
    perm: char,
    name: Option<&'a str>,
    owner: bool,
}

fn check_cmd(path: &Path, q: &Query<'_>, include: &[PathBuf], format: Format) -> u8 {
    let (target, perm, name, owner) = (q.path, q.perm, q.name, q.owner);
    if !"rwalkmx".contains(perm) {
        eprintln!("error: --perm must be one of r, w, a, l, k, m, x");
        return exit::ERROR;
    }
    let policy = match load(path, &search_dirs(include)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let Some(profile) = query::find_profile(&policy, name) else {
        let names: Vec<String> = policy.profiles.iter().map(kguard_apparmor::ast::Profile::display_name).collect();
        eprintln!(
            "error: no profile {} in {} (profiles: {}); use --name",
            name.unwrap_or("given"),
            path.display(),
            names.join(", ")
        );
        return exit::ERROR;
    };
    let d = query::decide(profile, target, perm, owner);
    let code = if d.allowed { exit::CLEAN } else { exit::FINDINGS };
    if format != Format::Table {
        let rule = d.rule.and_then(|i| profile.rules.get(i));
        let v = serde_json::json!({
            "profile": profile.display_name(),
            "mode": profile.mode.as_str(),
            "path": target,
            "perm": perm.to_string(),
            "owner": owner,
            "allowed": d.allowed,
            "logged": d.logged,
            "reason": d.reason,
            "rule": rule.map(describe),
            "location": rule.map(|r| format!("{}:{}", r.span.file, r.span.pos)),
        });
        if let Err(e) = output::structured(&mut std::io::stdout().lock(), format, &v) {
            return output::write_failed(&e, "the answer");
        }
        return code;
    }
    let verdict = if d.allowed { "ALLOWED" } else { "DENIED" };
    println!("{verdict}: profile {} {perm} {target}", profile.display_name());
    println!("  {}", d.reason);
    if let Some(r) = d.rule.and_then(|i| profile.rules.get(i)) {
        println!("  rule at {}:{}: {}", r.span.file, r.span.pos, describe(r));
    }
    println!("  mode: {}{}", profile.mode.as_str(), if d.logged { ", logged" } else { "" });
    code
}

fn describe(r: &kguard_apparmor::ast::Rule) -> String {
    use kguard_apparmor::ast::{Access, RuleKind};
    let mut q = String::new();
    if let Some(p) = r.q.priority {
        q.push_str(&format!("priority={p} "));
    }
    if r.q.audit {
        q.push_str("audit ");
    }
    if r.q.access == Access::Deny {
        q.push_str("deny ");
    }
    if r.q.owner {
        q.push_str("owner ");
    }
    let body = match &r.kind {
        RuleKind::File { path: Some(p), perms, target, .. } => {
            let p = kguard_apparmor::aare::filter_slashes(p);
            format!("{p} {}{}", perms.text(), target.as_ref().map(|t| format!(" -> {t}")).unwrap_or_default())
        }
        RuleKind::File { path: None, .. } => "file".into(),
        RuleKind::All => "all".into(),
        RuleKind::Link { from, to, subset } => format!("link {}{from} -> {to}", if *subset { "subset " } else { "" }),
        other => format!("{other:?}"),
    };
    format!("{q}{body},")
}

fn lint_cmd(paths: &[PathBuf], include: &[PathBuf], format: Format, output_file: Option<&Path>) -> u8 {
    let search = search_dirs(include);
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
        match parse(&file, &text, Options { fs: &RealFs, search: &search, base: "." }) {
            Ok(policy) => {
                documents += policy.profiles.len();
                findings.extend(lint::lint(&policy));
            }
            Err(e) => diagnostics.push(Diagnostic::error(
                "invalid-profile",
                Location { file: e.file.clone(), pos: Some(e.pos) },
                e.message,
            )),
        }
    }
    findings.sort_by(|a, b| (&a.location, &a.rule_id).cmp(&(&b.location, &b.rule_id)));
    let has_errors = !diagnostics.is_empty();
    let failing = !findings.is_empty();
    let summary = Summary {
        files: paths.len(),
        documents,
        objects: documents,
        scanned: documents,
        skipped: 0,
        ..Summary::default()
    };
    let report = Report { findings, diagnostics, summary, rules: lint::RULES.to_vec(), ..Report::default() };
    if let Err(code) = output::write_report(format, &report, output_file) {
        return code;
    }
    if has_errors {
        for d in &report.diagnostics {
            eprintln!("{}: error: {}", d.location, d.message);
        }
        exit::ERROR
    } else if failing {
        exit::FINDINGS
    } else {
        exit::CLEAN
    }
}

//! `kguard detect`: runs Falco-compatible `k8s_audit` rules over Kubernetes audit events.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kguard_engine::detect::{self, RuleMatching, k8saudit, rules::Level};

/// The rules bundled with kguard (written for kguard; Falco's format and `ka.*` fields).
pub const BUNDLED_RULES: &str = include_str!("../../../rules/kguard_k8s_audit_rules.yaml");

/// Output format of alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DetectFormat {
    /// `<time>: <Priority> <message>` lines.
    Text,
    /// One Falco-shaped JSON alert per line.
    Json,
}

/// Arguments of `kguard detect`.
#[derive(Clone, Debug, clap::Args)]
pub struct DetectArgs {
    /// Rules file (repeatable; loaded in order, later files override earlier ones). Default: the bundled rules.
    #[arg(long = "rules", short = 'r', value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Fire every matching rule (Falco `rule_matching: all`), not only the first.
    #[arg(long)]
    pub all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: DetectFormat,
    /// Validate rules files (repeatable, loaded together in order) and exit.
    #[arg(long, value_name = "FILE")]
    pub validate: Vec<PathBuf>,
    /// Lowest priority that fires (emergency … debug).
    #[arg(long, value_name = "PRIORITY")]
    pub min_priority: Option<String>,
    /// Audit event files (JSON lines of Event/EventList), directories, or `-` for stdin.
    #[arg(value_name = "EVENTS")]
    pub events: Vec<PathBuf>,
}

fn read_rules(paths: &[PathBuf]) -> Result<Vec<(String, String)>, String> {
    if paths.is_empty() {
        return Ok(vec![("<bundled>/kguard_k8s_audit_rules.yaml".to_owned(), BUNDLED_RULES.to_owned())]);
    }
    paths
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|t| (p.display().to_string(), t))
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

fn load(paths: &[PathBuf]) -> Result<detect::Engine, u8> {
    let files = read_rules(paths).map_err(|e| {
        eprintln!("error: {e}");
        crate::exit::ERROR
    })?;
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    match detect::load(&refs) {
        Ok((engine, messages)) => {
            for m in messages.iter().filter(|m| m.level == Level::Warning) {
                eprintln!("{m}");
            }
            Ok(engine)
        }
        Err(messages) => {
            for m in &messages {
                eprintln!("{m}");
            }
            Err(crate::exit::ERROR)
        }
    }
}

fn event_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            let hidden = e.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            let ext_ok = e.is_dir()
                || e.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| matches!(x, "json" | "jsonl" | "log" | "ndjson"));
            if !hidden && ext_ok {
                event_files(&e, out)?;
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "kguard".to_owned())
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// Runs `kguard detect`; returns the exit code (0 no alert, 1 alerts, 2 errors).
pub fn run(args: &DetectArgs) -> u8 {
    if !args.validate.is_empty() {
        return match load(&args.validate) {
            Ok(engine) => {
                let k8s = engine.rules().iter().filter(|r| r.is_k8s_audit()).count();
                println!("{} rules ({k8s} for k8s_audit): ok", engine.rules().len());
                crate::exit::CLEAN
            }
            Err(code) => code,
        };
    }
    let mut engine = match load(&args.rules) {
        Ok(e) => e,
        Err(code) => return code,
    };
    if args.all {
        engine.rule_matching = RuleMatching::All;
    }
    if let Some(p) = &args.min_priority {
        match detect::rules::Priority::parse(p) {
            Some(p) => engine.min_priority = Some(p),
            None => {
                eprintln!("error: invalid priority {p:?}");
                return crate::exit::ERROR;
            }
        }
    }
    let mut inputs = Vec::new();
    let mut status = crate::exit::CLEAN;
    let events: Vec<PathBuf> = if args.events.is_empty() { vec![PathBuf::from("-")] } else { args.events.clone() };
    for p in &events {
        if p.as_os_str() == "-" {
            inputs.push(p.clone());
        } else if let Err(e) = event_files(p, &mut inputs) {
            eprintln!("error: {}: {e}", p.display());
            status = crate::exit::ERROR;
        }
    }
    let host = hostname();
    let default_time = now_ns();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut total, mut by_rule) = (0usize, std::collections::BTreeMap::<String, usize>::new());
    for path in &inputs {
        let mut text = String::new();
        let read = if path.as_os_str() == "-" {
            std::io::stdin().lock().read_to_string(&mut text)
        } else {
            std::fs::File::open(path).and_then(|f| std::io::BufReader::new(f).read_to_string(&mut text))
        };
        if let Err(e) = read {
            eprintln!("error: {}: {e}", path.display());
            status = crate::exit::ERROR;
            continue;
        }
        let (evs, err) = k8saudit::parse_events(&text, default_time);
        for ev in &evs {
            for alert in engine.process(ev) {
                total += 1;
                *by_rule.entry(alert.rule.clone()).or_default() += 1;
                let line = match args.format {
                    DetectFormat::Text => alert.output(),
                    DetectFormat::Json => alert.to_json(&host).to_string(),
                };
                if writeln!(out, "{line}").is_err() {
                    return crate::exit::ERROR;
                }
            }
        }
        if let Some(e) = err {
            eprintln!("{}: {}", path.display(), e.message);
            status = crate::exit::ERROR;
        }
    }
    let _ = out.flush();
    eprintln!("Events detected: {total}");
    if !by_rule.is_empty() {
        eprintln!("Triggered rules by rule name:");
        for (r, n) in &by_rule {
            eprintln!("\t{r}: {n}");
        }
    }
    if status == crate::exit::CLEAN && total > 0 { crate::exit::FINDINGS } else { status }
}

//! `kguard scan`: load inputs (in parallel across files), run the engines, render, pick the exit code.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};

use kguard_engine::rules::{self, Selection};
use kguard_engine::scan::{PssDefault, ScanConfig};
use kguard_model::DiagnosticLevel;
use kguard_model::load::{self, Input, Parsed};
use kguard_report::{Format, RenderOptions, Report, Severity, Summary};
use rayon::prelude::*;

use crate::args::{ColorChoice, FailOn, OutputFormat, PssLevel, ScanArgs};
use crate::exit;

/// Runs `kguard scan`; returns the exit code.
pub fn run(args: &ScanArgs) -> u8 {
    let selection = Selection { select: args.select.clone(), ignore: args.ignore.clone() };
    let unknown = selection.unknown();
    if !unknown.is_empty() {
        eprintln!(
            "error: unknown rule selector(s): {}; `kguard rules` lists the rules",
            unknown.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        );
        return exit::ERROR;
    }
    let version = match kguard_engine::podsec::Version::parse(&args.pss_version) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: --pss-version {:?}: {e}", args.pss_version);
            return exit::ERROR;
        }
    };
    let level = match args.pss_level {
        PssLevel::Privileged => kguard_engine::podsec::Level::Privileged,
        PssLevel::Baseline => kguard_engine::podsec::Level::Baseline,
        PssLevel::Restricted => kguard_engine::podsec::Level::Restricted,
    };
    let config = ScanConfig { selection, pss: PssDefault { level, version } };

    let (inputs, mut diagnostics) = load::expand_paths(&args.paths);
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        eprintln!("error: `-` (stdin) may be given only once");
        return exit::ERROR;
    }
    let progress = progress_bar(inputs.len());
    let parsed: Vec<Parsed> = inputs
        .par_iter()
        .map(|input| {
            let p = load::load_input(input);
            if let Some(bar) = &progress {
                bar.inc(1);
            }
            p
        })
        .collect();
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let mut summary = Summary { files: inputs.len(), ..Summary::default() };
    let mut objects = Vec::new();
    for p in parsed {
        summary.documents += p.documents;
        diagnostics.extend(p.diagnostics);
        objects.extend(p.objects);
    }
    summary.objects = objects.len();
    if args.format == OutputFormat::Kubesec {
        return kubesec_mode(args, &objects, &diagnostics);
    }
    let outcome = kguard_engine::scan::scan(&objects, &config);
    summary.scanned = outcome.scanned;
    summary.skipped = outcome.skipped;
    diagnostics.extend(outcome.diagnostics);

    let mut findings = outcome.findings;
    if let Some(min) = args.min_severity {
        findings.retain(|f| f.severity >= min);
    }
    findings.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    if !args.verbose {
        diagnostics.retain(|d| d.level > DiagnosticLevel::Note);
    }
    diagnostics.sort_by(|a, b| (&a.location, a.level).cmp(&(&b.location, b.level)));

    let rules_meta =
        rules::all().filter(|r| kguard_engine::scan::produces(r) && config.selection.enabled(r)).cloned().collect();
    let has_errors = diagnostics.iter().any(|d| d.level == DiagnosticLevel::Error);
    let threshold = match args.fail_on {
        FailOn::Any | FailOn::Info => Some(Severity::Info),
        FailOn::Low => Some(Severity::Low),
        FailOn::Medium => Some(Severity::Medium),
        FailOn::High => Some(Severity::High),
        FailOn::Critical => Some(Severity::Critical),
        FailOn::Never => None,
    };
    let failing = threshold.is_some_and(|t| findings.iter().any(|f| f.severity >= t));
    let report = Report { findings, diagnostics, summary, rules: rules_meta };

    if let Err(e) = write_report(args, &report) {
        eprintln!("error: {e}");
        return exit::ERROR;
    }
    if has_errors {
        exit::ERROR
    } else if failing {
        exit::FINDINGS
    } else {
        exit::CLEAN
    }
}

fn write_report(args: &ScanArgs, report: &Report) -> Result<(), String> {
    let format = match args.format {
        OutputFormat::Table => Format::Table,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Junit => Format::Junit,
        OutputFormat::Kubesec => return Err("the kubesec format is written by kubesec_mode".to_owned()),
    };
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let opts = RenderOptions {
        color,
        verbose: args.verbose,
        quiet: args.quiet,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    match &args.output {
        Some(path) => {
            let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            let mut w = BufWriter::new(file);
            kguard_report::render(format, report, &mut w, &opts)
                .and_then(|()| w.flush())
                // fsync a regular file so a report is on disk when we exit; /dev/null and pipes
                // cannot be synced (EINVAL) and need not be.
                .and_then(|()| if w.get_ref().metadata()?.is_file() { w.get_ref().sync_all() } else { Ok(()) })
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            match kguard_report::render(format, report, &mut w, &opts).and_then(|()| w.flush()) {
                Ok(()) => Ok(()),
                // A closed pipe (`kguard scan . | head`) is not an error worth a message.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(format!("cannot write the report: {e}")),
            }
        }
    }
}

/// A progress bar on stderr for long scans, only when stderr is a terminal.
fn progress_bar(files: usize) -> Option<indicatif::ProgressBar> {
    const MIN_FILES: usize = 500;
    if files < MIN_FILES || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(files as u64);
    let style = indicatif::ProgressStyle::with_template("{spinner} reading {pos}/{len} files {wide_bar} {elapsed}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    Some(bar)
}

/// `--format kubesec`: kubesec's JSON and exit codes, for drop-in use in kubesec pipelines.
fn kubesec_mode(args: &ScanArgs, objects: &[kguard_model::Object], diagnostics: &[kguard_model::Diagnostic]) -> u8 {
    const KUBESEC_ERROR: u8 = 1;
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error).collect();
    for d in &errors {
        eprintln!("{d}");
    }
    let results = kguard_engine::kubesec::score(objects);
    let json = kguard_engine::kubesec::to_json(&results);
    let text = match serde_json::to_string_pretty(&json) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return KUBESEC_ERROR;
        }
    };
    let written = match &args.output {
        Some(path) => {
            std::fs::write(path, format!("{text}\n")).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => writeln!(std::io::stdout().lock(), "{text}").map_err(|e| format!("cannot write the report: {e}")),
    };
    if let Err(e) = written {
        eprintln!("error: {e}");
        return KUBESEC_ERROR;
    }
    if !errors.is_empty() {
        return KUBESEC_ERROR;
    }
    u8::try_from(kguard_engine::kubesec::exit_code(&results, 2)).unwrap_or(KUBESEC_ERROR)
}

/// Findings are shown by file, position, rule and message.
fn sort_key(f: &kguard_report::Finding) -> (Option<(&str, Option<kguard_model::Pos>)>, &str, &str) {
    (f.location.as_ref().map(|l| (&*l.file, l.pos)), &f.rule_id, &f.message)
}

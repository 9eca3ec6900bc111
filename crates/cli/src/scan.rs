//! `kguard scan`: load inputs (in parallel across files), run the engines, render, pick the exit code.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};

use kguard_model::DiagnosticLevel;
use kguard_model::load::{self, Input, Parsed};
use kguard_report::{Format, RenderOptions, Report, Severity, Summary, Suppressed, SuppressionKind};
use kguard_scan::baseline::Baseline;
use kguard_scan::config::ScanFileConfig;
use kguard_scan::{PssDefault, ScanConfig};
use kguard_scan::{Selection, rules};
use rayon::prelude::*;

use crate::args::{ColorChoice, FailOn, PssLevel, ScanArgs};
use crate::exit;
use crate::output::Format as Output;

/// What the command line and the configuration file decide together.
struct Settings {
    config: ScanConfig,
    file: Option<ScanFileConfig>,
    /// `None`: findings never fail the run.
    fail_on: Option<Severity>,
    excludes: load::Excludes,
    /// The baseline file's name and contents.
    baseline: Option<(String, Baseline)>,
    /// `--validate`, else the file's `validate`.
    validate: kguard_scan::config::Validate,
}

/// Reads the configuration file (`--config`, else `.kguard.yaml` upward, unless `--no-config`)
/// and merges the command line over it: flags win; `--ignore` adds to the file's `ignore`.
fn settings(args: &ScanArgs) -> Result<Settings, String> {
    let path = if args.no_config {
        None
    } else if let Some(p) = &args.config {
        Some(p.clone())
    } else {
        kguard_scan::config::find_upward(std::path::Path::new("."))
    };
    let file = match &path {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
            let base = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            Some(kguard_scan::config::parse(&p.display().to_string(), &text, base).map_err(|d| d.to_string())?)
        }
    };
    let f = file.as_ref();
    let selection = Selection {
        select: if args.select.is_empty() {
            f.and_then(|f| f.select.clone()).unwrap_or_default()
        } else {
            args.select.clone()
        },
        ignore: f
            .map(|f| f.ignore.clone())
            .unwrap_or_default()
            .into_iter()
            .chain(args.ignore.iter().cloned())
            .collect(),
    };
    let unknown = rules::unknown_selectors(&selection);
    if !unknown.is_empty() {
        return Err(format!(
            "unknown rule selector(s): {}; `kguard rules` lists the rules",
            unknown.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        ));
    }
    let version = match &args.pss_version {
        Some(v) => kguard_podsec::Version::parse(v).map_err(|e| format!("--pss-version {v:?}: {e}"))?,
        None => f.and_then(|f| f.pss_version).unwrap_or(kguard_podsec::Version::Latest),
    };
    let level = match args.pss_level {
        Some(PssLevel::Privileged) => kguard_podsec::Level::Privileged,
        Some(PssLevel::Baseline) => kguard_podsec::Level::Baseline,
        Some(PssLevel::Restricted) => kguard_podsec::Level::Restricted,
        None => f.and_then(|f| f.pss_level).unwrap_or(kguard_podsec::Level::Restricted),
    };
    let fail_on = match args.fail_on {
        Some(FailOn::Any | FailOn::Info) => Some(Severity::Info),
        Some(FailOn::Low) => Some(Severity::Low),
        Some(FailOn::Medium) => Some(Severity::Medium),
        Some(FailOn::High) => Some(Severity::High),
        Some(FailOn::Critical) => Some(Severity::Critical),
        Some(FailOn::Never) => None,
        None => match f.and_then(|f| f.fail_on) {
            Some(kguard_scan::config::FailOn::AtLeast(s)) => Some(s),
            Some(kguard_scan::config::FailOn::Never) => None,
            None => Some(Severity::Info),
        },
    };
    let mut excludes = load::Excludes::new();
    excludes.add_floating("--exclude", &args.exclude).map_err(|e| e.to_string())?;
    excludes.add_file(&std::path::Path::new(".").join(load::IGNORE_FILE)).map_err(|e| e.to_string())?;
    if let Some(f) = f {
        excludes.add_patterns(&f.base, &f.file, &f.exclude).map_err(|e| e.to_string())?;
    }
    let baseline_path = args.baseline.clone().or_else(|| f.and_then(|f| f.baseline.clone()));
    let baseline = match baseline_path {
        // Writing a baseline replaces it: the old one is not read.
        Some(_) if args.write_baseline.is_some() => None,
        None => None,
        Some(p) => {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{name}: cannot read the baseline: {e}"))?;
            Some((name.clone(), Baseline::parse(&name, &text).map_err(|d| d.to_string())?))
        }
    };
    let validate = args.validate.or_else(|| f.and_then(|f| f.validate)).unwrap_or_default();
    Ok(Settings {
        config: ScanConfig { selection, pss: PssDefault { level, version } },
        file,
        fail_on,
        excludes,
        baseline,
        validate,
    })
}

/// Runs `kguard scan`; returns the exit code.
pub fn run(args: &ScanArgs) -> u8 {
    let Settings { config, file, fail_on, excludes, mut baseline, validate } = match settings(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    // `-f` was once short for --format: `-f json` (no such file) says what is meant now.
    if let Some(f) = args.filename.iter().find(|p| !p.exists() && crate::output::is_format_name(&p.to_string_lossy())) {
        eprintln!(
            "error: -f {f} names no file; -f is --filename (as in kubectl). For the output format use -o {f}",
            f = f.display()
        );
        return exit::ERROR;
    }
    let paths: Vec<std::path::PathBuf> = args.paths.iter().chain(&args.filename).cloned().collect();
    let expanded = load::expand(&paths, excludes);
    let (inputs, mut diagnostics) = (expanded.inputs, expanded.diagnostics);
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
    let mut summary = Summary {
        files: inputs.len(),
        excluded: expanded.excluded,
        chart_files: expanded.chart_files,
        ..Summary::default()
    };
    let mut objects = Vec::new();
    let mut dockerfiles = Vec::new();
    for p in parsed {
        summary.documents += p.documents;
        summary.not_kubernetes += usize::from(p.not_kubernetes);
        diagnostics.extend(p.diagnostics);
        objects.extend(p.objects);
        dockerfiles.extend(p.dockerfile);
    }
    summary.dockerfiles = dockerfiles.len();
    // Dockerfiles: findings at file:line, no object (so no annotation suppresses them).
    let checked: Vec<_> = dockerfiles
        .par_iter()
        .map(|(file, text)| kguard_scan::dockerfile_findings(file, text, &config.selection))
        .collect();
    drop(dockerfiles);
    let mut dockerfile_findings = Vec::new();
    for (findings, problems) in checked {
        dockerfile_findings.extend(findings);
        diagnostics.extend(problems);
    }
    summary.objects = objects.len();
    if args.output == Output::Kubesec {
        return kubesec_mode(args, &objects, &diagnostics);
    }
    if args.images {
        for d in diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error) {
            eprintln!("{d}");
        }
        return crate::scan_images::run(args, &objects);
    }
    // The node's seccomp profiles against the pods that name them (before the trees go).
    let mut seccomp = Vec::new();
    if let Some(dir) = &args.seccomp_root {
        match crate::seccomp::node_profiles(dir) {
            Ok(node) => seccomp = kguard_scan::seccomp_findings(&objects, &config.selection, &node),
            Err(e) => {
                eprintln!("error: --seccomp-root: {e}");
                return exit::ERROR;
            }
        }
    }
    let mut apparmor = Vec::new();
    if let Some(path) = &args.apparmor_profiles {
        match crate::apparmor::node_profiles(path) {
            Ok(node) => apparmor = kguard_scan::apparmor_findings(&objects, &config.selection, &node),
            Err(e) => {
                eprintln!("error: --apparmor-profiles: {e}");
                return exit::ERROR;
            }
        }
    }
    // Each object's parsed tree goes once it is scanned: findings carry their positions.
    let outcome = kguard_scan::scan_owned(objects, &config);
    summary.scanned = outcome.scanned;
    summary.skipped = outcome.skipped;
    diagnostics.extend(outcome.diagnostics);
    kguard_scan::config::apply_validate(&mut diagnostics, validate);

    let mut findings = outcome.findings;
    findings.extend(seccomp);
    findings.extend(apparmor);
    findings.extend(dockerfile_findings);
    // In-source suppressions carry the annotation and the reason it gives (Checkov's `ID=reason`).
    let mut suppressed: Vec<Suppressed> = outcome.suppressed;
    if let Some(f) = &file {
        for finding in &mut findings {
            if let Some(sev) = rules::find(&finding.rule_id).and_then(|r| f.severity_of(r)) {
                finding.severity = sev;
            }
        }
        let ignored = findings.extract_if(.., |finding| {
            let rule = rules::find(&finding.rule_id);
            let file_path = finding.location.as_ref().map(|l| std::path::Path::new(&*l.file));
            rule.zip(file_path).is_some_and(|(r, p)| f.path_ignore(p, r).is_some())
        });
        suppressed.extend(ignored.collect::<Vec<_>>().into_iter().map(|finding| {
            let rule = rules::find(&finding.rule_id);
            let file_path = finding.location.as_ref().map(|l| std::path::PathBuf::from(&*l.file));
            let glob =
                rule.zip(file_path).and_then(|(r, p)| f.path_ignore(&p, r).map(|e| e.glob.clone())).unwrap_or_default();
            Suppressed {
                finding,
                kind: SuppressionKind::External,
                justification: format!("perPathIgnores {glob:?} in {}", f.file),
            }
        }));
    }
    if let Some(min) = args.min_severity {
        findings.retain(|f| f.severity >= min);
        suppressed.retain(|s| s.finding.severity >= min);
    }
    sort_findings(&mut findings);
    if let Some(path) = &args.write_baseline {
        let text = kguard_scan::baseline::write(&findings);
        if let Err(e) = write_atomically(path, text.as_bytes()) {
            eprintln!("error: cannot write the baseline {}: {e}", path.display());
            return exit::ERROR;
        }
        eprintln!("kguard: wrote {} findings to the baseline {}", findings.len(), path.display());
        let name = path.display().to_string();
        suppressed.extend(findings.drain(..).map(|finding| Suppressed {
            finding,
            kind: SuppressionKind::External,
            justification: format!("baseline {name}"),
        }));
    } else if let Some((name, b)) = &mut baseline {
        let accepted: Vec<_> = findings.extract_if(.., |f| b.accepts(f)).collect();
        suppressed.extend(accepted.into_iter().map(|finding| Suppressed {
            finding,
            kind: SuppressionKind::External,
            justification: format!("baseline {name}"),
        }));
        if b.unused() > 0 {
            diagnostics.push(kguard_model::Diagnostic::note(
                "baseline-unused",
                kguard_model::Location::file(name.as_str().into()),
                format!("{} baselined findings are gone (fixed?); --write-baseline refreshes the file", b.unused()),
            ));
        }
    }
    summary.suppressed = suppressed.len();
    if !args.verbose {
        diagnostics.retain(|d| d.level > DiagnosticLevel::Note);
    }
    diagnostics.sort_by(|a, b| (&a.location, a.level).cmp(&(&b.location, b.level)));

    // The Dockerfile rules are listed (SARIF `rules`, JUnit) only when Dockerfiles were read.
    let read_dockerfiles = summary.dockerfiles > 0;
    let rules_meta = rules::all()
        .filter(|r| {
            (kguard_scan::produces(r) && (read_dockerfiles || r.family != kguard_scan::DOCKERFILE_FAMILY)
                || (args.seccomp_root.is_some() && kguard_seccomp::kubelet::RULES.iter().any(|k| k.id == r.id))
                || (args.apparmor_profiles.is_some() && kguard_apparmor::node::RULES.iter().any(|k| k.id == r.id)))
                && config.selection.enabled(r)
        })
        .cloned()
        .collect();
    let has_errors = diagnostics.iter().any(|d| d.level == DiagnosticLevel::Error);
    let failing = fail_on.is_some_and(|t| findings.iter().any(|f| f.severity >= t));
    let report = Report { findings, diagnostics, summary, rules: rules_meta, suppressed };

    // Input problems always reach stderr (CI logs show it), unless the table on stdout shows them.
    if args.output != Output::Table || args.output_file.is_some() {
        let mut err = std::io::stderr().lock();
        for d in &report.diagnostics {
            let _ = writeln!(err, "{d}");
        }
    }
    if let Err(e) = write_report(args, &report) {
        return crate::output::write_failed(&e, &report_name(args));
    }
    if has_errors {
        exit::ERROR
    } else if failing {
        exit::FINDINGS
    } else {
        exit::CLEAN
    }
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, fsynced, renamed
/// over it, and the directory fsynced.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What a write error names: the report file, or "the report" on stdout.
fn report_name(args: &ScanArgs) -> String {
    args.output_file.as_ref().map_or_else(|| "the report".to_owned(), |p| p.display().to_string())
}

fn write_report(args: &ScanArgs, report: &Report) -> std::io::Result<()> {
    let format = match args.output {
        Output::Json | Output::Yaml => Format::Json,
        Output::Sarif => Format::Sarif,
        Output::Junit => Format::Junit,
        Output::Html => Format::Html,
        Output::Markdown => Format::Markdown,
        _ => Format::Table,
    };
    let to_terminal = args.output_file.is_none() && std::io::stdout().is_terminal();
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let opts = RenderOptions {
        color: color && format == Format::Table,
        verbose: args.verbose,
        quiet: args.quiet,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let render = |w: &mut dyn Write| -> std::io::Result<()> {
        if args.output == Output::Yaml {
            // The JSON report's tree, written as YAML.
            let mut json = Vec::new();
            kguard_report::render(Format::Json, report, &mut json, &opts)?;
            let value: serde_json::Value = serde_json::from_slice(&json).map_err(std::io::Error::other)?;
            crate::output::structured(w, Output::Yaml, &value)
        } else {
            kguard_report::render(format, report, w, &opts)
        }
    };
    match &args.output_file {
        Some(path) => {
            let mut w = BufWriter::new(File::create(path)?);
            render(&mut w)?;
            w.flush()?;
            // fsync a regular file so a report is on disk when we exit; /dev/null and pipes
            // cannot be synced (EINVAL) and need not be.
            if w.get_ref().metadata()?.is_file() { w.get_ref().sync_all() } else { Ok(()) }
        }
        None => {
            let mut w = BufWriter::new(std::io::stdout().lock());
            render(&mut w)?;
            w.flush()
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

/// `-o kubesec`: kubesec's JSON and exit codes, for drop-in use in kubesec pipelines.
fn kubesec_mode(args: &ScanArgs, objects: &[kguard_model::Object], diagnostics: &[kguard_model::Diagnostic]) -> u8 {
    const KUBESEC_ERROR: u8 = 1;
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error).collect();
    for d in &errors {
        eprintln!("{d}");
    }
    let results = kguard_hardening::kubesec::score(objects);
    let json = kguard_hardening::kubesec::to_json(&results);
    let text = match serde_json::to_string_pretty(&json) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return KUBESEC_ERROR;
        }
    };
    let written = match &args.output_file {
        Some(path) => {
            std::fs::write(path, format!("{text}\n")).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => writeln!(std::io::stdout().lock(), "{text}").map_err(|e| {
            let _ = crate::output::write_failed(&e, "the report"); // a closed pipe ends here, quietly
            format!("cannot write the report: {e}")
        }),
    };
    if let Err(e) = written {
        eprintln!("error: {e}");
        return KUBESEC_ERROR;
    }
    if !errors.is_empty() {
        return KUBESEC_ERROR;
    }
    u8::try_from(kguard_hardening::kubesec::exit_code(&results, 2)).unwrap_or(KUBESEC_ERROR)
}

/// Sorts findings by [`sort_key`], stably, without the scratch copy of the findings a stable
/// `sort_by` allocates (half of them: for millions of findings, hundreds of megabytes): the
/// positions are sorted, then the findings moved along the cycles of that permutation.
fn sort_findings(findings: &mut [kguard_report::Finding]) {
    let key = |i: usize| findings.get(i).map(sort_key);
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)).then(a.cmp(&b)));
    // order[k] is the finding that belongs at k. Follow each cycle once, swapping along it.
    let mut placed = vec![false; order.len()];
    for start in 0..order.len() {
        let mut k = start;
        while !placed.get(k).copied().unwrap_or(true) {
            if let Some(p) = placed.get_mut(k) {
                *p = true;
            }
            let Some(&src) = order.get(k) else { break };
            if src == start {
                break;
            }
            findings.swap(k, src);
            k = src;
        }
    }
}

/// Findings are shown by file, position, rule and message.
fn sort_key(f: &kguard_report::Finding) -> (Option<(&str, Option<kguard_model::Pos>)>, &str, &str) {
    (f.location.as_ref().map(|l| (&*l.file, l.pos)), &f.rule_id, &f.message)
}

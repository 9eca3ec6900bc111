//! `kguard scan`: load inputs, run the engines, render, pick the exit code.
//!
//! Memory stays a few times the input, whatever the number of findings: a first pass (in parallel
//! across files) keeps each file's text and each object's context view ([`kguard_scan::context_view`]),
//! one document's tree at a time; the engines across objects run on the views; a second pass parses
//! each file again and scans a batch of whole objects at a time; findings go to a sorted spill
//! ([`crate::spill`]) that the renderers read back.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};

use kguard_model::DiagnosticLevel;
use kguard_model::load::{self, Input, Parsed};
use kguard_report::{FindingSource, Format, RenderOptions, Report, Severity, Summary, Suppressed, SuppressionKind};
use kguard_scan::baseline::Baseline;
use kguard_scan::config::ScanFileConfig;
use kguard_scan::{PssDefault, ScanConfig};
use kguard_scan::{Selection, rules};
use rayon::prelude::*;

use crate::args::{ColorChoice, FailOn, PssLevel, ScanArgs};
use crate::exit;
use crate::output::Format as Output;
use crate::spill::{self, Spill};

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
        config: ScanConfig {
            selection,
            pss: PssDefault { level, version },
            linkerd_default: args.linkerd_default_policy,
        },
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
    let (mut inputs, mut diagnostics) = (expanded.inputs, expanded.diagnostics);
    let files = inputs.len();
    let mut cluster = None;
    if args.source.enabled() {
        match crate::cluster::read(&args.source, kguard_server::fetch::What::Everything, args.namespace.as_deref()) {
            Ok(read) => {
                if !args.quiet {
                    eprintln!("kguard: {}", read.summary);
                }
                cluster = Some(read.server);
                inputs.extend(read.inputs);
                diagnostics.extend(read.diagnostics);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::ERROR;
            }
        }
    } else if args.namespace.is_some() || args.all_namespaces {
        eprintln!("error: -n and -A choose what is read from a cluster: add --cluster (or --kubeconfig, --context)");
        return exit::ERROR;
    }
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        eprintln!("error: `-` (stdin) may be given only once");
        return exit::ERROR;
    }
    let mut summary = Summary {
        files,
        cluster,
        excluded: expanded.excluded,
        chart_files: expanded.chart_files,
        ..Summary::default()
    };
    // `-o kubesec` and `--images` read every object at once.
    if args.output == Output::Kubesec || args.images {
        let parsed: Vec<Parsed> = inputs.par_iter().map(load::load_input).collect();
        let mut objects = Vec::new();
        for p in parsed {
            diagnostics.extend(p.diagnostics);
            objects.extend(p.objects);
        }
        if args.output == Output::Kubesec {
            return kubesec_mode(args, &objects, &diagnostics);
        }
        for d in diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error) {
            eprintln!("{d}");
        }
        return crate::scan_images::run(args, &objects);
    }
    // The node's seccomp and AppArmor profiles, for the pods that name them.
    let seccomp = match args.seccomp_root.as_deref().map(crate::seccomp::node_profiles).transpose() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: --seccomp-root: {e}");
            return exit::ERROR;
        }
    };
    let apparmor = match args.apparmor_profiles.as_deref().map(crate::apparmor::node_profiles).transpose() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: --apparmor-profiles: {e}");
            return exit::ERROR;
        }
    };
    let node = NodeChecks { selection: &config.selection, seccomp: seccomp.as_ref(), apparmor: apparmor.as_ref() };

    // Pass 1, in parallel across files: each object's context view (kguard_scan::context_view)
    // is taken as its document is parsed, and the tree goes; a file's text is not kept (only
    // stdin's: it cannot be read twice).
    let progress = progress_bar(inputs.len());
    let read: Vec<FirstPass> = inputs
        .par_iter()
        .map(|input| {
            let p = first_pass(input, &node);
            if let Some(bar) = &progress {
                bar.inc(1);
            }
            p
        })
        .collect();
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let mut views = Vec::new();
    let mut texts = Vec::new();
    let mut node_findings = Vec::new();
    let mut dockerfiles = Vec::new();
    for p in read {
        summary.documents += p.parsed.documents;
        summary.not_kubernetes += usize::from(p.parsed.not_kubernetes);
        summary.objects += p.objects;
        diagnostics.extend(p.parsed.diagnostics);
        views.extend(p.views);
        node_findings.extend(p.node_findings);
        dockerfiles.extend(p.parsed.dockerfile);
        texts.extend(p.text);
    }
    summary.dockerfiles = dockerfiles.len();
    let mut scanner = kguard_scan::Scanner::new(&views, &config);
    drop(views);
    diagnostics.extend(scanner.take_diagnostics());

    // What happens to each finding on its way to the report: the configuration file's severities
    // and path ignores, --min-severity, the baseline.
    let mut sink = Sink {
        spill: Spill::new(),
        suppressed: Vec::new(),
        path_ignored: Vec::new(),
        baselined: Vec::new(),
        file: file.as_ref(),
        min_severity: args.min_severity,
        baseline: if args.write_baseline.is_some() { None } else { baseline.as_mut().map(|(n, b)| (n.as_str(), b)) },
        all_for_baseline: args.write_baseline.as_ref().map(|_| Vec::new()),
    };
    // Dockerfiles: findings at file:line, no object (so no annotation suppresses them).
    let checked: Vec<_> = dockerfiles
        .par_iter()
        .map(|(file, text)| kguard_scan::dockerfile_findings(file, text, &config.selection))
        .collect();
    drop(dockerfiles);
    let mut pushed = Ok(());
    for (findings, problems) in checked {
        pushed = pushed.and_then(|()| findings.into_iter().try_for_each(|f| sink.push(f)));
        diagnostics.extend(problems);
    }
    pushed = pushed.and_then(|()| node_findings.into_iter().try_for_each(|f| sink.push(f)));

    // Pass 2: each file parsed again, a batch of whole objects at a time scanned in parallel, and
    // their findings handed on at once.
    // Parsing (one thread) overlaps scanning (the others); at most a few batches are alive.
    let changed = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<kguard_model::Object>>(2);
        let producer = scope.spawn(move || {
            let mut changed = Vec::new();
            let mut batch = Vec::with_capacity(BATCH);
            let mut open = true;
            for again in texts {
                if !open {
                    break;
                }
                let (file, text) = match again.text() {
                    Ok(t) => t,
                    Err(d) => {
                        changed.push(d);
                        continue;
                    }
                };
                load::parse_text_each(&file, &text, &mut |obj| {
                    batch.push(obj);
                    if open && batch.len() >= BATCH {
                        // A closed channel: the scan stopped on an error; the rest is not read.
                        open = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).is_ok();
                    }
                });
            }
            let _ = tx.send(batch);
            changed
        });
        for batch in rx {
            pushed = std::mem::replace(&mut pushed, Ok(()))
                .and_then(|()| scan_batch(&scanner, batch, &mut sink, &mut summary, &mut diagnostics));
            if pushed.is_err() {
                break;
            }
        }
        producer.join().unwrap_or_default()
    });
    diagnostics.extend(changed);
    let tail = scanner.finish();
    diagnostics.extend(tail.diagnostics);
    sink.suppressed.extend(tail.suppressed);
    pushed = pushed.and_then(|()| tail.findings.into_iter().try_for_each(|f| sink.push(f)));
    pushed = pushed.and_then(|()| sink.spill.finish());
    if let Err(e) = pushed {
        eprintln!("error: cannot keep the findings in a temporary file: {e}");
        return exit::ERROR;
    }
    kguard_scan::config::apply_validate(&mut diagnostics, validate);
    let Sink { spill, mut suppressed, path_ignored, mut baselined, all_for_baseline, .. } = sink;
    // Suppressed by annotation, then by the configuration's paths, then by the baseline (sorted).
    if let Some(min) = args.min_severity {
        suppressed.retain(|s| s.finding.severity >= min);
    }
    suppressed.extend(path_ignored);
    baselined.sort_by(|a, b| spill::sort_key(&a.finding).cmp(&spill::sort_key(&b.finding)));
    suppressed.append(&mut baselined);

    if let (Some(path), Some(mut all)) = (&args.write_baseline, all_for_baseline) {
        all.sort_by(|a, b| spill::sort_key(a).cmp(&spill::sort_key(b)));
        let text = kguard_scan::baseline::write(&all);
        if let Err(e) = write_atomically(path, text.as_bytes()) {
            eprintln!("error: cannot write the baseline {}: {e}", path.display());
            return exit::ERROR;
        }
        eprintln!("kguard: wrote {} findings to the baseline {}", all.len(), path.display());
        let name = path.display().to_string();
        suppressed.extend(all.into_iter().map(|finding| Suppressed {
            finding,
            kind: SuppressionKind::External,
            justification: format!("baseline {name}"),
        }));
    } else if let Some((name, b)) = &baseline
        && b.unused() > 0
    {
        diagnostics.push(kguard_model::Diagnostic::note(
            "baseline-unused",
            kguard_model::Location::file(name.as_str().into()),
            format!("{} baselined findings are gone (fixed?); --write-baseline refreshes the file", b.unused()),
        ));
    }
    // With --write-baseline every finding is in the baseline, none is reported.
    let empty = Spill::new();
    let findings: &dyn FindingSource = if args.write_baseline.is_some() { &empty } else { &spill };
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
    let counts = findings.counts();
    let failing = fail_on.is_some_and(|t| Severity::ALL.iter().any(|&s| s >= t && counts.of(s) > 0));
    let report = Report { findings: Vec::new(), diagnostics, summary, rules: rules_meta, suppressed };

    // Input problems always reach stderr (CI logs show it), unless the table on stdout shows them.
    if args.output != Output::Table || args.output_file.is_some() {
        let mut err = std::io::stderr().lock();
        for d in &report.diagnostics {
            let _ = writeln!(err, "{d}");
        }
    }
    if let Err(e) = write_report(args, &report, findings) {
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

fn write_report(args: &ScanArgs, report: &Report, findings: &dyn FindingSource) -> std::io::Result<()> {
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
            kguard_report::render_source(Format::Json, report, findings, &mut json, &opts)?;
            let value: serde_json::Value = serde_json::from_slice(&json).map_err(std::io::Error::other)?;
            crate::output::structured(w, Output::Yaml, &value)
        } else {
            kguard_report::render_source(format, report, findings, w, &opts)
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

/// Objects scanned at a time in the second pass: enough to keep both cores busy, few enough that
/// their trees are a small part of memory.
const BATCH: usize = 256;

/// The node's profiles that `--seccomp-root` and `--apparmor-profiles` check the pods against.
struct NodeChecks<'a> {
    selection: &'a Selection,
    seccomp: Option<&'a kguard_seccomp::kubelet::NodeProfiles>,
    apparmor: Option<&'a kguard_apparmor::node::NodeProfiles>,
}

/// What the first pass keeps of one input.
struct FirstPass {
    /// Diagnostics, counts, a Dockerfile (`objects` stays empty).
    parsed: Parsed,
    /// How the second pass gets the text again (not for a Dockerfile or an unreadable file).
    text: Option<Again>,
    /// The objects' context views.
    views: Vec<kguard_model::Object>,
    /// How many objects.
    objects: usize,
    /// The node checks' findings (they read the whole pod, so they run here).
    node_findings: Vec<kguard_report::Finding>,
}

fn first_pass(input: &Input, node: &NodeChecks<'_>) -> FirstPass {
    let mut pass =
        FirstPass { parsed: Parsed::default(), text: None, views: Vec::new(), objects: 0, node_findings: Vec::new() };
    let text = match load::read_input(input) {
        Ok(text) => text,
        Err(d) => {
            pass.parsed.diagnostics.push(d);
            return pass;
        }
    };
    let file: std::sync::Arc<str> = input.display_name().into();
    if matches!(input, Input::File(p) if load::is_dockerfile_path(p)) {
        pass.parsed.dockerfile = Some((file, text));
        return pass;
    }
    let (views, objects, node_findings) = (&mut pass.views, &mut pass.objects, &mut pass.node_findings);
    pass.parsed = load::parse_text_each(&file, &text, &mut |obj| {
        *objects += 1;
        let one = std::slice::from_ref(&obj);
        if let Some(profiles) = node.seccomp {
            node_findings.extend(kguard_scan::seccomp_findings(one, node.selection, profiles));
        }
        if let Some(profiles) = node.apparmor {
            node_findings.extend(kguard_scan::apparmor_findings(one, node.selection, profiles));
        }
        views.push(kguard_scan::context_view(&obj));
    });
    pass.text = Some(match input {
        // Read again in the second pass: the texts of many files are not all held.
        Input::File(path) => Again::File { path: path.clone(), file, len: text.len(), hash: text_hash(&text) },
        Input::Stdin => Again::Held(file, text),
        Input::Text { text, .. } => Again::Shared(file, text.clone()),
    });
    pass
}

/// A file's text for the second pass: read again (and checked to be the text the first pass read,
/// whose objects the engines across objects saw), or held (stdin cannot be read twice).
enum Again {
    File { path: std::path::PathBuf, file: std::sync::Arc<str>, len: usize, hash: u64 },
    Held(std::sync::Arc<str>, String),
    Shared(std::sync::Arc<str>, std::sync::Arc<str>),
}

impl Again {
    fn text(self) -> Result<(std::sync::Arc<str>, String), kguard_model::Diagnostic> {
        match self {
            Self::Held(file, text) => Ok((file, text)),
            Self::Shared(file, text) => Ok((file, text.to_string())),
            Self::File { path, file, len, hash } => {
                let text = load::read_input(&Input::File(path))?;
                if text.len() == len && text_hash(&text) == hash {
                    Ok((file, text))
                } else {
                    Err(kguard_model::Diagnostic::error(
                        "changed-during-scan",
                        kguard_model::Location::file(file),
                        "the file changed while it was scanned; its objects are not scanned (scan again)",
                    ))
                }
            }
        }
    }
}

/// A hash of a file's text, to see that the second pass reads what the first read.
fn text_hash(text: &str) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Scans a batch of objects in parallel and hands their findings to the sink, in order.
fn scan_batch(
    scanner: &kguard_scan::Scanner<'_>,
    batch: Vec<kguard_model::Object>,
    sink: &mut Sink<'_>,
    summary: &mut Summary,
    diagnostics: &mut Vec<kguard_model::Diagnostic>,
) -> std::io::Result<()> {
    let scanned: Vec<kguard_scan::ObjectScan> = batch.into_par_iter().map(|obj| scanner.scan_object(&obj)).collect();
    for o in scanned {
        match o.evaluated {
            Some(true) => summary.scanned += 1,
            Some(false) => summary.skipped += 1,
            None => {}
        }
        diagnostics.extend(o.diagnostics);
        sink.suppressed.extend(o.suppressed);
        for f in o.findings {
            sink.push(f)?;
        }
    }
    Ok(())
}

/// Where findings go once made: the configuration file's severities and path ignores,
/// `--min-severity` and the baseline decide, then the spill keeps them sorted for the report.
struct Sink<'a> {
    spill: Spill,
    /// Suppressed by an annotation on the object.
    suppressed: Vec<Suppressed>,
    /// Suppressed by the configuration file's `perPathIgnores`.
    path_ignored: Vec<Suppressed>,
    /// Accepted by the baseline.
    baselined: Vec<Suppressed>,
    file: Option<&'a ScanFileConfig>,
    min_severity: Option<Severity>,
    /// The baseline read (its name, and what it still accepts).
    baseline: Option<(&'a str, &'a mut Baseline)>,
    /// With `--write-baseline`: every finding, for the new baseline.
    all_for_baseline: Option<Vec<kguard_report::Finding>>,
}

impl Sink<'_> {
    fn push(&mut self, mut finding: kguard_report::Finding) -> std::io::Result<()> {
        if let Some(f) = self.file {
            let rule = rules::find(&finding.rule_id);
            if let Some(sev) = rule.and_then(|r| f.severity_of(r)) {
                finding.severity = sev;
            }
            let file_path = finding.location.as_ref().map(|l| std::path::PathBuf::from(&*l.file));
            if let Some(entry) = rule.zip(file_path).and_then(|(r, p)| f.path_ignore(&p, r)) {
                let justification = format!("perPathIgnores {:?} in {}", entry.glob, f.file);
                if self.min_severity.is_none_or(|min| finding.severity >= min) {
                    self.path_ignored.push(Suppressed { finding, kind: SuppressionKind::External, justification });
                }
                return Ok(());
            }
        }
        if self.min_severity.is_some_and(|min| finding.severity < min) {
            return Ok(());
        }
        if let Some(all) = &mut self.all_for_baseline {
            all.push(finding);
            return Ok(());
        }
        if let Some((name, b)) = &mut self.baseline
            && b.accepts(&finding)
        {
            let justification = format!("baseline {name}");
            self.baselined.push(Suppressed { finding, kind: SuppressionKind::External, justification });
            return Ok(());
        }
        self.spill.push(finding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_changed_between_the_passes_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pod.yaml");
        std::fs::write(&path, "kind: Pod\n").unwrap();
        let text = "kind: Pod\n".to_owned();
        let again = |text: &str| Again::File {
            path: path.clone(),
            file: "pod.yaml".into(),
            len: text.len(),
            hash: text_hash(text),
        };
        let (file, read) = again(&text).text().unwrap();
        assert_eq!((&*file, read.as_str()), ("pod.yaml", "kind: Pod\n"));
        std::fs::write(&path, "kind: Pon\n").unwrap();
        let d = again(&text).text().unwrap_err();
        assert_eq!(d.code, "changed-during-scan");
        assert!(d.to_string().contains("pod.yaml"), "{d}");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(again(&text).text().unwrap_err().code, "unreadable");
    }
}

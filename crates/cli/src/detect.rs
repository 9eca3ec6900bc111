//! `kguard detect`: runs Falco-compatible rules over Kubernetes audit events (`k8s_audit`) and
//! over system-call captures (`syscall`, Falco/sysdig `.scap` files).

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use kguard_detect::{RuleMatching, k8saudit, rules::Level};
use kguard_runtime::drops::{DropEffect, DropMonitor, DropStats};
use kguard_server::alerts::HttpOutput;

/// The rules bundled with kguard (written for kguard; Falco's format and `ka.*` fields).
pub const BUNDLED_RULES: &str = include_str!("../../../rules/kguard_k8s_audit_rules.yaml");

/// Output format of alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectFormat {
    /// `<time>: <Priority> <message>` lines.
    Text,
    /// One Falco-shaped JSON alert per line.
    Json,
}

fn detect_format(s: &str) -> Result<DetectFormat, String> {
    use crate::output::Format;
    match crate::output::parser(&[Format::Table, Format::Json])(s)? {
        Format::Json => Ok(DetectFormat::Json),
        _ => Ok(DetectFormat::Text),
    }
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
    /// Output format: `table` (Falco's text lines, `<time>: <Priority> <message>`; `text` is
    /// accepted) or `json` (one Falco-shaped JSON alert per line).
    #[arg(short = 'o', long = "output", alias = "format", value_name = "FORMAT", default_value = "table",
          value_parser = detect_format)]
    pub format: DetectFormat,
    /// Validate rules files (repeatable, loaded together in order) and exit.
    #[arg(long, value_name = "FILE")]
    pub validate: Vec<PathBuf>,
    /// Lowest priority that fires (emergency … debug).
    #[arg(long, value_name = "PRIORITY")]
    pub min_priority: Option<String>,
    /// Disable every rule whose name contains TEXT (Falco's `-D`; repeatable).
    #[arg(short = 'D', long = "disable-rules", value_name = "TEXT")]
    pub disable_rules: Vec<String>,
    /// Disable the rules carrying TAG (Falco's `-T`; repeatable).
    #[arg(short = 'T', long = "disable-tag", value_name = "TAG")]
    pub disable_tags: Vec<String>,
    /// Run only the rules carrying one of these tags (Falco's `-t`; repeatable; not with -D/-T).
    #[arg(short = 't', long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Also append each alert to FILE as a JSON line (Falco's JSON alert; synced to disk at the end).
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Also POST each alert to URL (http:// or https://) as Falco's JSON alert, the body
    /// Falcosidekick accepts; 3 tries with exponential backoff.
    #[arg(long, value_name = "URL")]
    pub http_output: Option<String>,
    /// PEM CA certificates an `https://` --http-output endpoint is verified against (default:
    /// Mozilla's roots).
    #[arg(long, value_name = "FILE", requires = "http_output")]
    pub http_ca_file: Option<PathBuf>,
    /// Falco/sysdig capture (`.scap`, gzipped too) whose system-call events the `syscall`
    /// rules run over (Falco's `-e`; repeatable). Needs rules files with `-r`.
    #[arg(short = 'e', long = "capture", value_name = "FILE")]
    pub captures: Vec<PathBuf>,
    /// Also write the events read to FILE as a scap capture (section 1.2, as libscap writes;
    /// gzipped when FILE ends in `.gz`; synced to disk at the end): with -e, the events with the
    /// process, fd and user lists of the first capture; with --live, the lists read from /proc at
    /// the start and every event the probe delivered. sysdig, Falco and `kguard detect -e` read it.
    #[arg(short = 'w', long = "write-capture", value_name = "FILE")]
    pub write_capture: Option<PathBuf>,
    /// Run the `syscall` rules over this machine's system calls as they happen (eBPF; needs
    /// root, or CAP_BPF and CAP_PERFMON, and a kguard built with the `live` feature) until
    /// SIGINT/SIGTERM or --duration. Needs rules files with `-r`.
    #[arg(long, conflicts_with = "captures")]
    pub live: bool,
    /// Falco configuration file (`falco.yaml`). kguard reads `syscall_event_drops` (the drop
    /// monitor of --capture and --live: `threshold`, `actions` ignore/log/alert/exit, `rate`,
    /// `max_burst`, `simulate_drops`) and `log_level`; other keys are ignored. Without it: the
    /// values of the falco.yaml Falco ships (log and alert above 10 % drops, at most one each 30 s).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// With --live: stop after SECS seconds.
    #[arg(long, value_name = "SECS", requires = "live")]
    pub duration: Option<u64>,
    /// Audit event files (JSON lines of Event/EventList, `.gz` too), directories (`*.json`,
    /// `*.jsonl`, `*.ndjson`, `*.log`, gzipped, rotated logs oldest first), or `-` for stdin.
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

fn load(paths: &[PathBuf]) -> Result<kguard_detect::Engine, u8> {
    let files = read_rules(paths).map_err(|e| {
        eprintln!("error: {e}");
        crate::exit::ERROR
    })?;
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    match kguard_detect::load_with(&refs, &[&kguard_runtime::fields::SyscallFields]) {
        Ok((engine, messages)) => {
            // unused macros and lists are common in shared rules files: shown by --validate only
            for m in messages.iter().filter(|m| m.level == Level::Warning && !m.code.starts_with("LOAD_UNUSED_")) {
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

/// `--validate`: the files load one after the other, as Falco's `-V` loads them; each file's
/// result holds the errors and warnings loading it added. Text: every message with its
/// `file:line:column`, then a summary; JSON: Falco's `falco_load_results`.
fn validate(paths: &[PathBuf], format: DetectFormat) -> u8 {
    let files = match read_rules(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::ERROR;
        }
    };
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let sources: [&dyn kguard_detect::source::FieldSource; 1] = [&kguard_runtime::fields::SyscallFields];
    let mut before: Vec<kguard_detect::rules::LoadMessage> = Vec::new();
    let mut results = Vec::new();
    let mut engine = None;
    for n in 1..=refs.len() {
        let (e, now) = match kguard_detect::load_with(refs.get(..n).unwrap_or(&[]), &sources) {
            Ok((e, m)) => (Some(e), m),
            Err(m) => (None, m),
        };
        let added: Vec<_> = now.iter().filter(|m| !before.contains(m)).cloned().collect();
        results.push((refs.get(n - 1).map_or("", |r| r.0), added));
        before = now;
        engine = e;
    }
    let failed = before.iter().any(|m| m.level == Level::Error);
    match format {
        DetectFormat::Json => {
            let item = |m: &kguard_detect::rules::LoadMessage| {
                let pos = m.pos.map_or(
                    serde_json::Value::Null,
                    |p| serde_json::json!({"name": &*m.file, "line": p.line, "column": p.column}),
                );
                serde_json::json!({
                    "code": m.code,
                    "message": m.message,
                    "context": {"locations": [{"item_type": m.item_type, "item_name": m.item_name, "position": pos}]},
                })
            };
            let list: Vec<serde_json::Value> = results
                .iter()
                .map(|(name, ms)| {
                    let of = |l: Level| ms.iter().filter(|m| m.level == l).map(item).collect::<Vec<_>>();
                    serde_json::json!({
                        "name": name,
                        "successful": !ms.iter().any(|m| m.level == Level::Error),
                        "errors": of(Level::Error),
                        "warnings": of(Level::Warning),
                    })
                })
                .collect();
            println!("{}", serde_json::json!({ "falco_load_results": list }));
        }
        DetectFormat::Text => {
            for (_, ms) in &results {
                for m in ms {
                    eprintln!("{m} [{}]", m.code);
                }
            }
            if let Some(engine) = &engine
                && !failed
            {
                let k8s = engine.rules().iter().filter(|r| r.is_k8s_audit()).count();
                let sys = engine.rules().iter().filter(|r| r.is_compiled() && r.def.source == "syscall").count();
                println!("{} rules ({k8s} for k8s_audit, {sys} for syscall): ok", engine.rules().len());
            }
        }
    }
    if failed { crate::exit::ERROR } else { crate::exit::CLEAN }
}

/// Extensions of audit event files read from a directory (also gzipped, and rotated).
const EVENT_EXT: &str = r"\.(?:json|jsonl|ndjson|log)";

/// How old a file is among the rotations of one log: timestamped backups (kube-apiserver's
/// `audit-2024-05-01T10-00-00.000.log`, logrotate's `dateext` `audit.log-20240501`) oldest
/// first, then numbered ones (`audit.log.3` before `audit.log.1`), then the live file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Age {
    Stamped(String),
    Numbered(std::cmp::Reverse<u64>),
    Current,
}

struct Rotation {
    numbered: regex::Regex,
    dateext: regex::Regex,
    stamped: regex::Regex,
    plain: regex::Regex,
}

impl Rotation {
    #[allow(clippy::expect_used)] // constant patterns, exercised by the tests
    fn new() -> Self {
        let re = |s: String| regex::Regex::new(&s).expect("valid pattern");
        Self {
            numbered: re(format!(r"^(.+{EVENT_EXT})\.(\d+)$")),
            dateext: re(format!(r"^(.+{EVENT_EXT})-(\d[\d-]*)$")),
            stamped: re(format!(r"^(.+)-(\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}-\d{{2}}-\d{{2}}(?:\.\d+)?)({EVENT_EXT})$")),
            plain: re(format!(r"^.+{EVENT_EXT}$")),
        }
    }

    /// The live file's name and the age of this one, or `None` when the name is not an event file's.
    fn key(&self, name: &str) -> Option<(String, Age)> {
        let core = name.strip_suffix(".gz").unwrap_or(name);
        let group = |c: &regex::Captures<'_>, i: usize| c.get(i).map_or("", |m| m.as_str()).to_owned();
        if let Some(c) = self.numbered.captures(core) {
            return Some((group(&c, 1), Age::Numbered(std::cmp::Reverse(group(&c, 2).parse().unwrap_or(u64::MAX)))));
        }
        if let Some(c) = self.dateext.captures(core) {
            return Some((group(&c, 1), Age::Stamped(group(&c, 2))));
        }
        if let Some(c) = self.stamped.captures(core) {
            return Some((format!("{}{}", group(&c, 1), group(&c, 3)), Age::Stamped(group(&c, 2))));
        }
        self.plain.is_match(core).then(|| (core.to_owned(), Age::Current))
    }

    /// Orders files so that the rotations of one log are read oldest first; the logs themselves
    /// stay in the order given (by their first file). Names that show no rotation keep their place.
    fn order(&self, files: Vec<PathBuf>) -> Vec<PathBuf> {
        let mut keyed: Vec<(usize, Age, usize, PathBuf)> = Vec::new();
        let mut groups: Vec<(PathBuf, String)> = Vec::new();
        for (i, f) in files.into_iter().enumerate() {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let (base, age) = self.key(name).unwrap_or_else(|| (format!("\0{i}"), Age::Current));
            let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
            let g = groups.iter().position(|(d, b)| *d == dir && *b == base).unwrap_or_else(|| {
                groups.push((dir, base));
                groups.len() - 1
            });
            keyed.push((g, age, i, f));
        }
        keyed.sort();
        keyed.into_iter().map(|(_, _, _, f)| f).collect()
    }
}

/// How deep directories of event files are entered.
const MAX_DIR_DEPTH: usize = 64;

/// Expands a directory (recursively, sorted, hidden entries skipped) into its event files. Only
/// regular files are taken (a FIFO or a device would block or never end: skipped with a warning);
/// a directory already entered (a symlink loop) is not entered again.
fn event_files(
    rot: &Rotation,
    path: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
    depth: usize,
) -> std::io::Result<()> {
    if depth > MAX_DIR_DEPTH {
        eprintln!("warning: {}: directory nesting deeper than {MAX_DIR_DEPTH}; not entered", path.display());
        return Ok(());
    }
    if !seen.insert(std::fs::canonicalize(path)?) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    let mut files = Vec::new();
    for e in entries {
        let Some(name) = e.file_name().and_then(|n| n.to_str()) else { continue };
        if name.starts_with('.') {
            continue;
        }
        match std::fs::metadata(&e) {
            Ok(m) if m.is_dir() => event_files(rot, &e, out, seen, depth + 1)?,
            _ if rot.key(name).is_none() => {}
            // unreadable (e.g. a broken link): opening it reports why
            Ok(m) if !m.is_file() => {
                eprintln!("warning: {}: not a regular file (a FIFO, socket or device), skipped", e.display());
            }
            _ => files.push(e),
        }
    }
    out.extend(rot.order(files));
    Ok(())
}

/// Reads one line into `buf` (its newline included) unless it is longer than `cap` bytes without
/// the newline: such a line is read to its end without being kept. Returns the bytes read (0 at
/// the end of the input) and, for a line too long, its length without the newline (`buf` is then
/// empty).
fn read_line_capped(input: &mut dyn BufRead, buf: &mut Vec<u8>, cap: usize) -> std::io::Result<(u64, Option<u64>)> {
    let (mut read, mut long) = (0u64, false);
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((read, long.then_some(read)));
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let part = chunk.get(..take).unwrap_or_default();
        if !long {
            let content = buf.len() + part.len() - usize::from(done);
            if content > cap {
                long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        input.consume(take);
        read += take as u64;
        if done {
            return Ok((read, long.then(|| read - 1)));
        }
    }
}

/// Opens an input (`-` is stdin); gzip (by its magic bytes, whatever the name) is decompressed.
/// Runs the `syscall` rules over one capture's events (internal events, such as the process
/// table Falco writes at the start, are not shown to rules); a corrupt block ends the capture with
/// an error naming its offset, after the alerts of the events before it.
fn run_capture(
    engine: &kguard_detect::Engine,
    path: &Path,
    sinks: &mut Sinks,
    total: &mut usize,
    by_rule: &mut std::collections::BTreeMap<String, usize>,
    mut dump: Option<&mut CaptureOut>,
    drops: &mut Drops,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut capture =
        kguard_runtime::Capture::new(BufReader::with_capacity(1 << 16, file)).map_err(|e| e.to_string())?;
    // a capture holds no drop counters (libscap reports zeros for a file): only simulated drops
    let mut monitor = drops.monitor(DropStats::default(), false);
    let result = loop {
        let block = match capture.reader.next_block() {
            Ok(Some(b)) => b,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e.to_string()),
        };
        if let Some(d) = dump.as_deref_mut()
            && let Err(e) = d.write(&block)
        {
            break Err(e);
        }
        if !capture.inspector.feed(block) {
            continue;
        }
        let Some(ev) = capture.inspector.view() else { continue };
        // Falco's drop monitor sees every event, before the rules
        match drops.check(&mut monitor, ev.current.raw.ts, DropStats::default, sinks) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(()) => {
                drops.finish(&monitor);
                return Ok(());
            }
        }
        if ev.is_internal() {
            continue;
        }
        for alert in engine.process_event("syscall", &ev) {
            *total += 1;
            *by_rule.entry(alert.rule.clone()).or_default() += 1;
            if sinks.emit(&alert).is_err() {
                drops.finish(&monitor);
                return Ok(());
            }
        }
    };
    drops.finish(&monitor);
    result
}

/// The drop monitor of the syscall sources (`syscall_event_drops`): one per capture or live run,
/// the counts summed for Falco's summary at the end.
struct Drops {
    config: kguard_runtime::drops::FalcoConfig,
    /// Checks that found drops / whose actions ran, over the finished runs.
    detected: u64,
    actions: u64,
    /// The `exit` action ran.
    exited: bool,
    /// A syscall source ran (the summary is printed).
    ran: bool,
}

impl Drops {
    fn monitor(&mut self, initial: DropStats, ebpf: bool) -> DropMonitor {
        self.ran = true;
        DropMonitor::new(self.config.drops.clone(), initial, ebpf)
    }

    /// Runs the monitor for an event at `ts` and does what it asks: logs at the configured level
    /// to stderr, alerts to the sinks. `Ok(false)`: the `exit` action ran; `Err`: stdout closed.
    fn check(
        &mut self,
        monitor: &mut DropMonitor,
        ts: u64,
        stats: impl FnOnce() -> DropStats,
        sinks: &mut Sinks,
    ) -> Result<bool, ()> {
        for effect in monitor.on_event(ts, stats) {
            match effect {
                DropEffect::Log { level, message } => {
                    if level <= self.config.log_level {
                        eprintln!("{message}");
                    }
                }
                DropEffect::Alert(a) => sinks.emit_internal(&a)?,
                DropEffect::Exit => {
                    self.exited = true;
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn finish(&mut self, monitor: &DropMonitor) {
        self.detected += monitor.drops_detected;
        self.actions += monitor.actions_taken;
    }
}

/// `--write-capture`: a scap writer over a file (gzipped for `.gz`). Process, fd, user and
/// interface lists are written from the first capture only, so several captures make one.
struct CaptureOut {
    path: PathBuf,
    writer: kguard_runtime::writer::Writer<OutFile>,
    lists_done: bool,
}

/// The file a capture is written to, gzipped or not.
enum OutFile {
    Plain(BufWriter<std::fs::File>),
    Gz(flate2::write::GzEncoder<BufWriter<std::fs::File>>),
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(w) => w.write(buf),
            Self::Gz(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(w) => w.flush(),
            Self::Gz(w) => w.flush(),
        }
    }
}

impl CaptureOut {
    fn create(path: &Path) -> Result<Self, String> {
        let fail = |e: std::io::Error| format!("{}: {e}", path.display());
        let sink = BufWriter::with_capacity(1 << 16, std::fs::File::create(path).map_err(fail)?);
        let out = if path.extension().is_some_and(|e| e == "gz") {
            OutFile::Gz(flate2::write::GzEncoder::new(sink, flate2::Compression::fast()))
        } else {
            OutFile::Plain(sink)
        };
        let writer = kguard_runtime::writer::Writer::new(out).map_err(fail)?;
        Ok(Self { path: path.to_owned(), writer, lists_done: false })
    }

    fn write(&mut self, b: &kguard_runtime::scap::Block) -> Result<(), String> {
        use kguard_runtime::scap::Block;
        let list = !matches!(b, Block::Event(_) | Block::SkippedEvent { .. });
        if list && self.lists_done {
            return Ok(());
        }
        if !list {
            // the first event ends the lists of the first capture
            self.lists_done = true;
        }
        self.writer.write_block(b).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Ends the gzip stream, flushes and syncs the file to disk.
    fn finish(self) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("{}: {e}", self.path.display());
        let buffered = match self.writer.into_inner() {
            OutFile::Plain(w) => w,
            OutFile::Gz(g) => g.finish().map_err(fail)?,
        };
        let file = buffered.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)
    }
}

/// Runs the `syscall` rules over live events until SIGINT/SIGTERM or `duration`; prints the
/// source's counters (events/s, drops) to stderr at the end.
#[allow(clippy::too_many_arguments)]
fn run_live(
    engine: &kguard_detect::Engine,
    duration: Option<u64>,
    sinks: &mut Sinks,
    total: &mut usize,
    by_rule: &mut std::collections::BTreeMap<String, usize>,
    mut dump: Option<&mut CaptureOut>,
    drops: &mut Drops,
) -> Result<(), String> {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGTERM);
    mask.thread_block().map_err(|e| format!("cannot block signals: {e}"))?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))?;
    let options = kguard_ebpf::Options {
        record: dump.is_some(),
        ring_bytes: drops.config.ring_bytes().unwrap_or(0),
        ..kguard_ebpf::Options::default()
    };
    let mut metrics = Metrics::open(&drops.config.metrics, engine.min_priority)?;
    let mut live = kguard_ebpf::Live::start(&options).map_err(|e| format!("--live: {e}"))?;
    // -w: the initial state (process, fd, user lists), then every block the state is fed
    let mut write_recorded = |live: &mut kguard_ebpf::Live| -> Result<(), String> {
        match dump.as_deref_mut() {
            Some(d) => live.take_recorded().iter().try_for_each(|b| d.write(b)),
            None => Ok(()),
        }
    };
    write_recorded(&mut live)?;
    eprintln!("kguard detect --live: watching system calls (SIGINT/SIGTERM to stop)");
    let end = duration.map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
    let mut monitor = drops.monitor(live_stats(&live.metrics()), true);
    let mut shown: u64 = 0;
    'run: loop {
        if end.is_some_and(|t| std::time::Instant::now() >= t) || matches!(sfd.read_signal(), Ok(Some(_))) {
            break;
        }
        if metrics.check(&live, shown, by_rule, sinks).is_err() {
            break;
        }
        while let Some(ts) =
            live.next_event(std::time::Duration::from_millis(100)).map_err(|e| e.to_string())?.map(|e| e.current.raw.ts)
        {
            shown += 1;
            // the metrics snapshot is due on the wall clock: looked at every 1,024 events too
            if shown.is_multiple_of(1024) && metrics.check(&live, shown, by_rule, sinks).is_err() {
                break 'run;
            }
            write_recorded(&mut live)?;
            // Falco's drop monitor, before the rules: the probe's counters once a second
            match drops.check(&mut monitor, ts, || live_stats(&live.metrics()), sinks) {
                Ok(true) => {}
                Ok(false) | Err(()) => break 'run,
            }
            let Some(ev) = live.inspector().view() else { continue };
            for alert in engine.process_event("syscall", &ev) {
                *total += 1;
                *by_rule.entry(alert.rule.clone()).or_default() += 1;
                if sinks.emit(&alert).is_err() {
                    break 'run;
                }
            }
        }
    }
    drops.finish(&monitor);
    // what the state was fed after the last event shown (enter events, thread exits)
    write_recorded(&mut live)?;
    eprintln!("Live source: {}", live.metrics());
    Ok(())
}

/// Falco's periodic metrics snapshots of the live source (`metrics:` in the `-c` file): an
/// internal alert to the outputs (`output_rule`, shown when `--min-priority` lets Informational
/// through) and/or a JSON line appended to `output_file`.
struct Metrics {
    snap: kguard_runtime::metrics::Snapshotter,
    show: bool,
    file: Option<(PathBuf, std::fs::File)>,
    host: String,
}

fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Metrics {
    fn open(
        cfg: &kguard_runtime::metrics::MetricsConfig,
        min_priority: Option<kguard_detect::rules::Priority>,
    ) -> Result<Self, String> {
        let host = kguard_ebpf::procfs::host();
        let file = match cfg.output_file.as_deref().filter(|_| cfg.enabled) {
            None => None,
            Some(p) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| format!("metrics.output_file {p}: {e}"))?;
                Some((PathBuf::from(p), f))
            }
        };
        let show = cfg.output_rule && min_priority.is_none_or(|m| kguard_detect::rules::Priority::Informational <= m);
        let hostname = host.hostname.clone();
        let snap = kguard_runtime::metrics::Snapshotter::new(cfg.clone(), "modern_bpf", host, wall_ns());
        Ok(Metrics { snap, show, file, host: hostname })
    }

    /// Emits a snapshot when one is due. `Err`: stdout closed.
    fn check(
        &mut self,
        live: &kguard_ebpf::Live,
        shown: u64,
        by_rule: &std::collections::BTreeMap<String, usize>,
        sinks: &mut Sinks,
    ) -> Result<(), ()> {
        let now = wall_ns();
        if !self.snap.due(now) {
            return Ok(());
        }
        let (threads, fds) = live.inspector().table_sizes();
        let counters = kguard_runtime::metrics::Counters {
            num_evts: shown,
            scap: live_stats(&live.metrics()),
            rule_matches: by_rule.iter().map(|(r, n)| (r.clone(), *n as u64)).collect(),
            threads,
            fds,
        };
        let usage = self.snap.config().resource_utilization_enabled.then(kguard_ebpf::procfs::self_usage);
        let alert = self.snap.snapshot(now, &counters, usage.as_ref());
        if let Some((path, f)) = &mut self.file
            && let Err(e) = writeln!(f, "{}", alert.to_json(&self.host))
        {
            eprintln!("error: metrics.output_file {}: {e}", path.display());
            self.file = None;
        }
        if self.show { sinks.emit_internal(&alert) } else { Ok(()) }
    }
}

/// The live source's counters as libscap's: every record the probe handled (read, or dropped
/// for a full ring buffer or for not fitting the scratch buffer) is an event.
fn live_stats(m: &kguard_ebpf::Metrics) -> DropStats {
    let n_drops = m.drops.saturating_add(m.drops_oversize);
    DropStats {
        n_evts: m.records.saturating_add(n_drops),
        n_drops,
        n_drops_buffer: m.drops,
        n_drops_scratch_map: m.drops_oversize,
        ..DropStats::default()
    }
}

fn open_input(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> =
        if path.as_os_str() == "-" { Box::new(std::io::stdin().lock()) } else { Box::new(std::fs::File::open(path)?) };
    let mut r = BufReader::with_capacity(1 << 16, raw);
    let gz = r.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz { Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(r))) } else { Box::new(r) })
}

/// How many bad lines of one input are reported one by one (the rest are counted).
const MAX_LINE_DIAGNOSTICS: usize = 20;

/// Where alerts go: stdout (text or JSON), and optionally a JSON-lines file and an HTTP endpoint.
struct Sinks {
    format: DetectFormat,
    host: String,
    stdout: std::io::StdoutLock<'static>,
    file: Option<(PathBuf, BufWriter<std::fs::File>)>,
    http: Option<HttpOutput>,
    /// An output failed.
    failed: bool,
}

impl Sinks {
    fn emit(&mut self, alert: &kguard_detect::Alert) -> Result<(), ()> {
        let json = (self.format == DetectFormat::Json || self.file.is_some() || self.http.is_some())
            .then(|| alert.to_json(&self.host).to_string());
        self.emit_line(json, || alert.output())
    }

    /// A message of Falco's own (`source: internal`), such as the syscall event drop alert.
    fn emit_internal(&mut self, alert: &kguard_detect::InternalAlert) -> Result<(), ()> {
        let json = (self.format == DetectFormat::Json || self.file.is_some() || self.http.is_some())
            .then(|| alert.to_json(&self.host).to_string());
        self.emit_line(json, || alert.output())
    }

    fn emit_line(&mut self, json: Option<String>, text: impl FnOnce() -> String) -> Result<(), ()> {
        let line = match (&json, self.format) {
            (Some(j), DetectFormat::Json) => j.clone(),
            _ => text(),
        };
        // stdout closed (e.g. `| head`): stop
        writeln!(self.stdout, "{line}").map_err(|_| ())?;
        if let (Some((path, f)), Some(j)) = (&mut self.file, &json)
            && let Err(e) = writeln!(f, "{j}")
        {
            eprintln!("error: {}: {e}", path.display());
            self.failed = true;
            self.file = None;
        }
        if let (Some(h), Some(j)) = (&self.http, &json)
            && let Err(e) = h.post(j)
        {
            eprintln!("error: --http-output {}: alert not delivered after {} tries: {e}", h.url(), HttpOutput::TRIES);
            self.failed = true;
        }
        Ok(())
    }

    /// Flushes stdout; flushes and syncs the output file to disk.
    fn finish(&mut self) {
        let _ = self.stdout.flush();
        if let Some((path, f)) = &mut self.file
            && let Err(e) = f.flush().and_then(|()| f.get_ref().sync_all())
        {
            eprintln!("error: {}: {e}", path.display());
            self.failed = true;
        }
    }
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
    i64::try_from(kguard_model::time::now_nanos()).unwrap_or(i64::MAX)
}

/// Runs `kguard detect`; returns the exit code (0 no alert, 1 alerts, 2 errors: bad input lines
/// are reported with `file:line` and skipped, alerts are still printed).
pub fn run(args: &DetectArgs) -> u8 {
    if !args.validate.is_empty() {
        return validate(&args.validate, args.format);
    }
    let mut engine = match load(&args.rules) {
        Ok(e) => e,
        Err(code) => return code,
    };
    if args.all {
        engine.rule_matching = RuleMatching::All;
    }
    let selection = kguard_detect::Selection {
        disable_substrings: args.disable_rules.clone(),
        disable_tags: args.disable_tags.clone(),
        only_tags: args.tags.clone(),
    };
    if let Err(e) = engine.select(&selection) {
        eprintln!("error: {e}");
        return crate::exit::ERROR;
    }
    if let Some(p) = &args.min_priority {
        match kguard_detect::rules::Priority::parse(p) {
            Some(p) => engine.min_priority = Some(p),
            None => {
                eprintln!("error: invalid priority {p:?}");
                return crate::exit::ERROR;
            }
        }
    }
    let http = match args
        .http_output
        .as_deref()
        .map(|url| HttpOutput::with_roots(url, args.http_ca_file.as_deref()))
        .transpose()
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: --http-output {e}");
            return crate::exit::ERROR;
        }
    };
    let file = match &args.output_file {
        None => None,
        Some(p) => match std::fs::OpenOptions::new().create(true).append(true).open(p) {
            Ok(f) => Some((p.clone(), BufWriter::new(f))),
            Err(e) => {
                eprintln!("error: {}: {e}", p.display());
                return crate::exit::ERROR;
            }
        },
    };
    if args.write_capture.is_some() && args.captures.is_empty() && !args.live {
        eprintln!("error: -w/--write-capture writes the events of -e captures or of --live: give one of them");
        return crate::exit::ERROR;
    }
    if args.live && args.rules.is_empty() {
        eprintln!(
            "error: --live needs rules files for the syscall source: pass -r FILE (e.g. Falco's falco_rules.yaml)"
        );
        return crate::exit::ERROR;
    }
    if !args.captures.is_empty() && args.rules.is_empty() {
        eprintln!(
            "error: --capture needs rules files for the syscall source: pass -r FILE (e.g. Falco's falco_rules.yaml)"
        );
        return crate::exit::ERROR;
    }
    let drop_config = match &args.config {
        None => kguard_runtime::drops::FalcoConfig {
            drops: kguard_runtime::drops::DropConfig::shipped(),
            ..kguard_runtime::drops::FalcoConfig::default()
        },
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| format!("{}: {e}", p.display()))
            .and_then(|t| kguard_runtime::drops::FalcoConfig::parse(&t, &p.display().to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return crate::exit::ERROR;
            }
        },
    };
    let mut drops = Drops { config: drop_config, detected: 0, actions: 0, exited: false, ran: false };
    let rot = Rotation::new();
    let mut inputs = Vec::new();
    let mut status = crate::exit::CLEAN;
    let events: Vec<PathBuf> = if args.events.is_empty() && args.captures.is_empty() && !args.live {
        vec![PathBuf::from("-")]
    } else {
        args.events.clone()
    };
    let mut files = Vec::new();
    for p in &events {
        if p.as_os_str() == "-" || !p.is_dir() {
            files.push(p.clone());
            continue;
        }
        inputs.extend(rot.order(std::mem::take(&mut files)));
        if let Err(e) = event_files(&rot, p, &mut inputs, &mut std::collections::HashSet::new(), 0) {
            eprintln!("error: {}: {e}", p.display());
            status = crate::exit::ERROR;
        }
    }
    inputs.extend(rot.order(files));
    let mut sinks =
        Sinks { format: args.format, host: hostname(), stdout: std::io::stdout().lock(), file, http, failed: false };
    let default_time = now_ns();
    let (mut total, mut by_rule) = (0usize, std::collections::BTreeMap::<String, usize>::new());
    let mut dump = match args.write_capture.as_deref().map(CaptureOut::create).transpose() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::ERROR;
        }
    };
    for path in &args.captures {
        if let Err(e) = run_capture(&engine, path, &mut sinks, &mut total, &mut by_rule, dump.as_mut(), &mut drops) {
            eprintln!("error: {}: {e}", path.display());
            status = crate::exit::ERROR;
        }
        if drops.exited {
            break;
        }
    }
    if args.live
        && let Err(e) =
            run_live(&engine, args.duration, &mut sinks, &mut total, &mut by_rule, dump.as_mut(), &mut drops)
    {
        eprintln!("error: {e}");
        status = crate::exit::ERROR;
    }
    if drops.ran {
        eprint!("{}", kguard_runtime::drops::summary(drops.detected, drops.actions));
    }
    if drops.exited {
        eprintln!("error: stopped by the syscall event drop action \"exit\"");
        status = crate::exit::ERROR;
        inputs.clear();
    }
    if let Some(d) = dump
        && let Err(e) = d.finish()
    {
        eprintln!("error: {e}");
        status = crate::exit::ERROR;
    }
    let (mut evs, mut errs, mut buf) = (Vec::new(), Vec::new(), Vec::new());
    'inputs: for path in &inputs {
        let name = if path.as_os_str() == "-" { "<stdin>".to_owned() } else { path.display().to_string() };
        let mut input = match open_input(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {name}: {e}");
                status = crate::exit::ERROR;
                continue;
            }
        };
        let mut reader = k8saudit::LineReader::new(default_time);
        let mut bad = 0usize;
        let mut eof = false;
        while !eof {
            buf.clear();
            match read_line_capped(&mut *input, &mut buf, k8saudit::LineReader::MAX_LINE_BYTES) {
                Ok((0, _)) => eof = true,
                Ok((_, Some(len))) => reader.skip_long_line(len, &mut errs),
                Ok(_) => match std::str::from_utf8(&buf) {
                    Ok(line) => reader.push_line(line.trim_end_matches(['\n', '\r']), &mut evs, &mut errs),
                    Err(_) => {
                        errs.push(k8saudit::EventError {
                            line: reader.lines() + 1,
                            message: "Could not read k8s audit event: not UTF-8".to_owned(),
                        });
                        reader.push_line("", &mut evs, &mut errs);
                    }
                },
                Err(e) => {
                    eprintln!("error: {name}: line {}: {e}", reader.lines() + 1);
                    status = crate::exit::ERROR;
                    eof = true;
                }
            }
            if eof {
                reader.finish(&mut errs);
            }
            for e in errs.drain(..) {
                bad += 1;
                if bad <= MAX_LINE_DIAGNOSTICS {
                    eprintln!("{name}:{}: {}, skipped", e.line, e.message);
                }
            }
            for ev in evs.drain(..) {
                for alert in engine.process(&ev) {
                    total += 1;
                    *by_rule.entry(alert.rule.clone()).or_default() += 1;
                    if sinks.emit(&alert).is_err() {
                        break 'inputs;
                    }
                }
            }
        }
        if bad > 0 {
            if bad > MAX_LINE_DIAGNOSTICS {
                eprintln!("{name}: {} more bad lines skipped", bad - MAX_LINE_DIAGNOSTICS);
            }
            status = crate::exit::ERROR;
        }
    }
    sinks.finish();
    if sinks.failed {
        status = crate::exit::ERROR;
    }
    eprintln!("Events detected: {total}");
    if !by_rule.is_empty() {
        eprintln!("Triggered rules by rule name:");
        for (r, n) in &by_rule {
            eprintln!("\t{r}: {n}");
        }
    }
    if status == crate::exit::CLEAN && total > 0 { crate::exit::FINDINGS } else { status }
}

//! Falco's syscall event drop monitoring (`syscall_event_drops` in `falco.yaml`): once a second
//! of event time, the source's counters are compared with those of the previous check; when events
//! were dropped and the share of drops is above the threshold, the configured actions run (`log`
//! a debug message, emit the `Falco internal: syscall event drop` alert, or `exit`), as often as a
//! token bucket allows.
//!
//! Written from the behaviour of Falco's `syscall_evt_drop_mgr` and its configuration loader
//! (falco@2583ea9, the 0.35 line the regression suite was written for, and the current one); the
//! code is ours. Differences, on purpose:
//! * every configured action runs, in the order ignore, log, alert, exit (current Falco; 0.35
//!   stopped after the first of its unordered set);
//! * the token bucket starts full at the first check and refills with event time. Falco starts it
//!   at the wall clock and refills it with event time, so a capture recorded before the run refills
//!   it completely at every claim (an unsigned underflow); a capture here is rate-limited as live
//!   events are.
//!
//! Counters: a capture holds none (libscap reports zero for a file, as here), so drops only come
//! from `simulate_drops`; the live source passes its ring-buffer counters.

use kguard_detect::rules::Priority;
use kguard_model::yaml::{Value, YamlNode};

/// The rule name of the drop alert.
pub const DROP_RULE: &str = "Falco internal: syscall event drop";

/// One second in nanoseconds: how often the counters are looked at (event time).
const CHECK_INTERVAL_NS: u64 = 1_000_000_000;

/// What to do when drops are detected. The order is the order actions run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropAction {
    /// Nothing (cannot be combined with `log` or `alert`).
    Ignore,
    /// A debug log message.
    Log,
    /// The `Falco internal: syscall event drop` alert, priority Debug.
    Alert,
    /// Stop with an error (the message logged as critical, then `Exiting.`).
    Exit,
}

impl DropAction {
    /// The configuration name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ignore => "ignore",
            Self::Log => "log",
            Self::Alert => "alert",
            Self::Exit => "exit",
        }
    }
}

/// `syscall_event_drops`.
#[derive(Clone, Debug, PartialEq)]
pub struct DropConfig {
    /// Share of dropped events in a second above which actions run, in [0, 1] (ignored with
    /// `simulate_drops`: any drop counts).
    pub threshold: f64,
    /// The actions, sorted and without repeats.
    pub actions: Vec<DropAction>,
    /// Tokens per second of the bucket that limits how often actions run.
    pub rate: f64,
    /// Most tokens the bucket holds (and holds at the start).
    pub max_burst: f64,
    /// Add one dropped event at every check (for testing the actions).
    pub simulate_drops: bool,
}

impl Default for DropConfig {
    /// Falco's values when the configuration has no `syscall_event_drops` (no action: `ignore`).
    fn default() -> Self {
        DropConfig {
            threshold: 0.1,
            actions: vec![DropAction::Ignore],
            rate: 0.03333,
            max_burst: 1.0,
            simulate_drops: false,
        }
    }
}

impl DropConfig {
    /// The values of the `falco.yaml` Falco ships: `log` and `alert` above 10 % drops, one message
    /// per 30 s, bursts of one.
    #[must_use]
    pub fn shipped() -> Self {
        DropConfig { actions: vec![DropAction::Log, DropAction::Alert], ..DropConfig::default() }
    }
}

/// What `kguard detect` reads of a Falco configuration file: `syscall_event_drops`,
/// `log_level`, `metrics` and the live source's buffer size (`engine.modern_ebpf.buf_size_preset`,
/// or the older top-level `syscall_buf_size_preset`).
#[derive(Clone, Debug, PartialEq)]
pub struct FalcoConfig {
    /// `syscall_event_drops`.
    pub drops: DropConfig,
    /// `log_level` (default `info`): messages less severe are not logged.
    pub log_level: Priority,
    /// `metrics`.
    pub metrics: crate::metrics::MetricsConfig,
    /// `buf_size_preset` (1–10: 1 MiB doubling to 512 MiB; Falco's default 4 is 8 MiB).
    pub buf_size_preset: Option<u8>,
}

impl Default for FalcoConfig {
    fn default() -> Self {
        FalcoConfig {
            drops: DropConfig::default(),
            log_level: Priority::Informational,
            metrics: crate::metrics::MetricsConfig::default(),
            buf_size_preset: None,
        }
    }
}

impl FalcoConfig {
    /// The ring buffer size `buf_size_preset` asks for, in bytes (`None`: the source's default).
    #[must_use]
    pub fn ring_bytes(&self) -> Option<u32> {
        self.buf_size_preset.map(|p| (1u32 << 20) << (p.clamp(1, 10) - 1))
    }
}

fn number(n: &YamlNode) -> Option<f64> {
    match &n.value {
        Value::Float(f) => Some(*f),
        #[allow(clippy::cast_precision_loss)]
        Value::Int(i) => Some(*i as f64),
        Value::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

impl FalcoConfig {
    /// Reads a Falco configuration document (`name` is the file, for messages). Errors are Falco's
    /// texts: `Error reading config file (<name>): …`.
    ///
    /// # Errors
    /// A threshold outside [0, 1], an unknown action, `log` or `alert` with `ignore`, a value of
    /// the wrong type, an unknown `log_level`.
    pub fn from_yaml(root: Option<&YamlNode>, name: &str) -> Result<Self, String> {
        let err = |m: &str| format!("Error reading config file ({name}): {m}");
        let mut cfg = FalcoConfig::default();
        let Some(root) = root.filter(|r| !r.is_null()) else { return Ok(cfg) };
        if let Some(level) = root.get("log_level").filter(|n| !n.is_null()) {
            let s = level.as_str().unwrap_or_default();
            cfg.log_level = Priority::parse(s).ok_or_else(|| err(&format!("unknown log level {s:?}")))?;
        }
        cfg.metrics = crate::metrics::MetricsConfig::from_yaml(root.get("metrics"), &err)?;
        let preset = root
            .get("engine")
            .and_then(|e| e.get("modern_ebpf"))
            .and_then(|m| m.get("buf_size_preset"))
            .map(|n| ("engine.modern_ebpf.buf_size_preset", n))
            .or_else(|| root.get("syscall_buf_size_preset").map(|n| ("syscall_buf_size_preset", n)))
            .filter(|(_, n)| !n.is_null());
        if let Some((key, n)) = preset {
            let p = number(n)
                .filter(|p| (1.0..=10.0).contains(p) && p.fract() == 0.0)
                .ok_or_else(|| err(&format!("{key} must be a whole number from 1 (1 MiB) to 10 (512 MiB)")))?;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            {
                cfg.buf_size_preset = Some(p as u8);
            }
        }
        let Some(d) = root.get("syscall_event_drops").filter(|n| !n.is_null()) else { return Ok(cfg) };
        let num = |key: &str, default: f64| -> Result<f64, String> {
            match d.get(key).filter(|n| !n.is_null()) {
                None => Ok(default),
                Some(n) => number(n).ok_or_else(|| err(&format!("syscall_event_drops.{key} must be a number"))),
            }
        };
        let drops = &mut cfg.drops;
        drops.actions.clear();
        let acts: Vec<&YamlNode> = match d.get("actions").filter(|n| !n.is_null()) {
            None => Vec::new(),
            Some(n) => match n.as_seq() {
                Some(s) => s.iter().collect(),
                None => return Err(err("syscall_event_drops.actions must be a sequence")),
            },
        };
        for a in acts {
            let act = match a.as_str() {
                Some("ignore") => DropAction::Ignore,
                Some("log") => DropAction::Log,
                Some("alert") => DropAction::Alert,
                Some("exit") => DropAction::Exit,
                _ => {
                    return Err(err(
                        "available actions for syscall event drops are \"ignore\", \"log\", \"alert\", and \"exit\"",
                    ));
                }
            };
            if matches!(act, DropAction::Log | DropAction::Alert) && drops.actions.contains(&DropAction::Ignore) {
                return Err(err(&format!(
                    "syscall event drop action \"{}\" does not make sense with the \"ignore\" action",
                    act.as_str()
                )));
            }
            if !drops.actions.contains(&act) {
                drops.actions.push(act);
            }
        }
        if drops.actions.is_empty() {
            drops.actions.push(DropAction::Ignore);
        }
        drops.actions.sort();
        drops.threshold = num("threshold", 0.1)?;
        if !(0.0..=1.0).contains(&drops.threshold) {
            return Err(err("syscall event drops threshold must be a double in the range [0, 1]"));
        }
        drops.rate = num("rate", 0.03333)?;
        drops.max_burst = num("max_burst", 1.0)?;
        drops.simulate_drops = match d.get("simulate_drops").filter(|n| !n.is_null()) {
            None => false,
            Some(n) => n.as_bool().ok_or_else(|| err("syscall_event_drops.simulate_drops must be a boolean"))?,
        };
        Ok(cfg)
    }

    /// Reads a Falco configuration file's text.
    ///
    /// # Errors
    /// As [`FalcoConfig::from_yaml`]; a text that is not YAML.
    pub fn parse(text: &str, name: &str) -> Result<Self, String> {
        let docs = kguard_model::yaml::parse_documents(text);
        let root = match docs.into_iter().next() {
            None => None,
            Some(d) => d.root.map_err(|e| format!("Error reading config file ({name}): {e}"))?,
        };
        Self::from_yaml(root.as_ref(), name)
    }
}

/// The source's counters (since its start), as libscap's `scap_stats` has them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropStats {
    /// Events the kernel side handled, the dropped ones included.
    pub n_evts: u64,
    /// Events dropped, all causes.
    pub n_drops: u64,
    /// Dropped because the buffer was full.
    pub n_drops_buffer: u64,
    /// Dropped because the event did not fit the scratch buffer.
    pub n_drops_scratch_map: u64,
    /// Dropped on a page fault reading user memory.
    pub n_drops_pf: u64,
    /// Dropped on an invalid condition in the instrumentation.
    pub n_drops_bug: u64,
}

impl DropStats {
    fn minus(&self, o: &DropStats) -> DropStats {
        DropStats {
            n_evts: self.n_evts.wrapping_sub(o.n_evts),
            n_drops: self.n_drops.wrapping_sub(o.n_drops),
            n_drops_buffer: self.n_drops_buffer.wrapping_sub(o.n_drops_buffer),
            n_drops_scratch_map: self.n_drops_scratch_map.wrapping_sub(o.n_drops_scratch_map),
            n_drops_pf: self.n_drops_pf.wrapping_sub(o.n_drops_pf),
            n_drops_bug: self.n_drops_bug.wrapping_sub(o.n_drops_bug),
        }
    }
}

/// What a check asks the caller to do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum DropEffect {
    /// Log `message` at `level` (shown when the configured `log_level` is at least as verbose).
    Log {
        /// Severity.
        level: Priority,
        /// The message.
        message: String,
    },
    /// Emit the drop alert.
    Alert(kguard_detect::InternalAlert),
    /// Stop reading events; the run ends with an error.
    Exit,
}

/// Falco's token bucket: `rate` tokens a second up to `max`; a claim takes one.
#[derive(Clone, Debug)]
struct TokenBucket {
    rate: f64,
    max: f64,
    tokens: f64,
    last_seen: Option<u64>,
}

impl TokenBucket {
    fn claim(&mut self, now: u64) -> bool {
        if let Some(last) = self.last_seen {
            #[allow(clippy::cast_precision_loss)]
            let secs = now.saturating_sub(last) as f64 / 1e9;
            self.tokens += self.rate * secs;
        }
        self.last_seen = Some(now);
        if self.tokens > self.max {
            self.tokens = self.max;
        }
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// The drop monitor of one syscall source.
#[derive(Clone, Debug)]
pub struct DropMonitor {
    cfg: DropConfig,
    bucket: TokenBucket,
    next_check_ts: u64,
    last: DropStats,
    /// Whether the source is the eBPF probe (`ebpf_enabled` in the alert).
    pub ebpf: bool,
    /// Checks that found drops above the threshold (`event drop detected: N occurrences`).
    pub drops_detected: u64,
    /// Checks whose actions ran (`num times actions taken: N`).
    pub actions_taken: u64,
}

impl DropMonitor {
    /// A monitor starting from the source's counters `initial`.
    #[must_use]
    pub fn new(cfg: DropConfig, initial: DropStats, ebpf: bool) -> Self {
        let bucket = TokenBucket { rate: cfg.rate, max: cfg.max_burst, tokens: cfg.max_burst, last_seen: None };
        DropMonitor { cfg, bucket, next_check_ts: 0, last: initial, ebpf, drops_detected: 0, actions_taken: 0 }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &DropConfig {
        &self.cfg
    }

    /// Called for every event, before the rules see it, with its time (ns since the epoch);
    /// `stats` is read only when a check is due (the first event more than a second after the
    /// previous check). Returns what to do, in order.
    pub fn on_event(&mut self, ts: u64, stats: impl FnOnce() -> DropStats) -> Vec<DropEffect> {
        let mut out = Vec::new();
        if self.next_check_ts == 0 {
            self.next_check_ts = ts.saturating_add(CHECK_INTERVAL_NS);
        }
        if self.next_check_ts >= ts {
            return out;
        }
        self.next_check_ts = ts.saturating_add(CHECK_INTERVAL_NS);
        let now = stats();
        let mut delta = now.minus(&self.last);
        self.last = now;
        if self.cfg.simulate_drops {
            out.push(DropEffect::Log {
                level: Priority::Informational,
                message: "Simulating syscall event drop".into(),
            });
            delta.n_drops = delta.n_drops.wrapping_add(1);
        }
        if delta.n_drops == 0 {
            return out;
        }
        // drops over events in the last second (events include the drops; none counted: infinite)
        #[allow(clippy::cast_precision_loss)]
        let ratio = delta.n_drops as f64 / delta.n_evts as f64;
        let threshold = if self.cfg.simulate_drops { 0.0 } else { self.cfg.threshold };
        if ratio.is_nan() || ratio <= threshold {
            return out;
        }
        self.drops_detected += 1;
        if !self.bucket.claim(ts) {
            out.push(DropEffect::Log {
                level: Priority::Debug,
                message: "Syscall event drop but token bucket depleted, skipping actions".into(),
            });
            return out;
        }
        self.actions_taken += 1;
        let message = format!("{DROP_RULE}. {} system calls dropped in last second.", delta.n_drops);
        for act in &self.cfg.actions {
            match act {
                DropAction::Ignore => {}
                DropAction::Log => out.push(DropEffect::Log { level: Priority::Debug, message: message.clone() }),
                DropAction::Alert => out.push(DropEffect::Alert(self.alert(ts, &delta, &message))),
                DropAction::Exit => {
                    out.push(DropEffect::Log { level: Priority::Critical, message: message.clone() });
                    out.push(DropEffect::Log { level: Priority::Critical, message: "Exiting.".into() });
                    out.push(DropEffect::Exit);
                    break;
                }
            }
        }
        out
    }

    /// The alert, with Falco's `output_fields` (all strings; the per-syscall-category counters
    /// kguard's sources do not keep are 0).
    fn alert(&self, ts: u64, d: &DropStats, message: &str) -> kguard_detect::InternalAlert {
        let mut fields: Vec<(String, serde_json::Value)> = [
            ("n_evts", d.n_evts),
            ("n_drops", d.n_drops),
            ("n_drops_buffer_total", d.n_drops_buffer),
            ("n_drops_buffer_clone_fork_enter", 0),
            ("n_drops_buffer_clone_fork_exit", 0),
            ("n_drops_buffer_execve_enter", 0),
            ("n_drops_buffer_execve_exit", 0),
            ("n_drops_buffer_connect_enter", 0),
            ("n_drops_buffer_connect_exit", 0),
            ("n_drops_buffer_open_enter", 0),
            ("n_drops_buffer_open_exit", 0),
            ("n_drops_buffer_dir_file_enter", 0),
            ("n_drops_buffer_dir_file_exit", 0),
            ("n_drops_buffer_other_interest_enter", 0),
            ("n_drops_buffer_other_interest_exit", 0),
            ("n_drops_scratch_map", d.n_drops_scratch_map),
            ("n_drops_page_faults", d.n_drops_pf),
            ("n_drops_bug", d.n_drops_bug),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_string().into()))
        .collect();
        fields.push(("ebpf_enabled".to_owned(), u8::from(self.ebpf).to_string().into()));
        // Falco's output fields are a JSON object with sorted keys
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        kguard_detect::InternalAlert {
            time_ns: i64::try_from(ts).unwrap_or(i64::MAX),
            rule: DROP_RULE.to_owned(),
            priority: Priority::Debug,
            message: message.to_owned(),
            output_fields: fields,
        }
    }

    /// Falco's summary at the end (stderr), three lines.
    #[must_use]
    pub fn summary(&self) -> String {
        summary(self.drops_detected, self.actions_taken)
    }
}

/// Falco's summary of drop monitoring (three lines, for stderr), for counts summed over runs.
#[must_use]
pub fn summary(drops_detected: u64, actions_taken: u64) -> String {
    format!(
        "Syscall event drop monitoring:\n   - event drop detected: {drops_detected} occurrences\n   - num times actions taken: {actions_taken}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<FalcoConfig, String> {
        FalcoConfig::parse(text, "c.yaml")
    }

    #[test]
    fn config_values_and_falcos_errors() {
        let c = cfg("syscall_event_drops:\n  actions: [alert, log, alert]\n  rate: .5\n  max_burst: 3\n").unwrap();
        assert_eq!(c.drops.actions, vec![DropAction::Log, DropAction::Alert]);
        assert!((c.drops.rate - 0.5).abs() < 1e-12 && (c.drops.max_burst - 3.0).abs() < 1e-12);
        assert_eq!(cfg("").unwrap(), FalcoConfig::default());
        assert_eq!(cfg("syscall_event_drops:\n  actions: []\n").unwrap().drops.actions, vec![DropAction::Ignore]);
        assert_eq!(cfg("log_level: debug\n").unwrap().log_level, Priority::Debug);
        let e = cfg("syscall_event_drops:\n  threshold: 1.1\n").unwrap_err();
        assert_eq!(
            e,
            "Error reading config file (c.yaml): syscall event drops threshold must be a double in the range [0, 1]"
        );
        assert!(cfg("syscall_event_drops:\n  threshold: -1\n").is_err());
        let e = cfg("syscall_event_drops:\n  actions: [ignore, alert]\n").unwrap_err();
        assert!(e.ends_with("syscall event drop action \"alert\" does not make sense with the \"ignore\" action"));
        // ignore after log is accepted, as Falco does
        assert!(cfg("syscall_event_drops:\n  actions: [log, ignore]\n").is_ok());
        assert!(cfg("syscall_event_drops:\n  actions: [drop]\n").unwrap_err().contains("available actions"));
        assert!(cfg("log_level: loud\n").is_err());
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn checks_once_a_second_of_event_time_and_compares_with_the_threshold() {
        let c = DropConfig { actions: vec![DropAction::Alert], max_burst: 10.0, ..DropConfig::default() };
        let mut m = DropMonitor::new(c, DropStats::default(), true);
        let mut calls = 0;
        let mut stats = DropStats::default();
        let mut at = |m: &mut DropMonitor, ts: u64, s: DropStats| {
            m.on_event(ts, || {
                calls += 1;
                s
            })
        };
        assert!(at(&mut m, 100 * S, stats).is_empty());
        assert!(at(&mut m, 101 * S, stats).is_empty(), "exactly one second later: not yet");
        // 5 of 100 dropped: 5 % is under the 10 % threshold
        stats.n_evts = 100;
        stats.n_drops = 5;
        assert!(at(&mut m, 101 * S + 1, stats).is_empty());
        assert_eq!(m.drops_detected, 0);
        // 50 more events, 20 of them dropped: 40 %
        stats.n_evts = 150;
        stats.n_drops = 25;
        stats.n_drops_buffer = 20;
        let eff = at(&mut m, 103 * S, stats);
        let [DropEffect::Alert(a)] = eff.as_slice() else { panic!("{eff:?}") };
        assert_eq!(a.message, "Falco internal: syscall event drop. 20 system calls dropped in last second.");
        let f = |k: &str| a.output_fields.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.as_str());
        assert_eq!((f("n_evts"), f("n_drops"), f("n_drops_buffer_total")), (Some("50"), Some("20"), Some("20")));
        assert_eq!(f("ebpf_enabled"), Some("1"));
        assert_eq!(a.output_fields.first().map(|(k, _)| k.as_str()), Some("ebpf_enabled"));
        assert_eq!((m.drops_detected, m.actions_taken), (1, 1));
    }

    #[test]
    fn the_token_bucket_limits_actions_but_not_detections() {
        let c = DropConfig {
            actions: vec![DropAction::Log],
            rate: 0.5,
            max_burst: 2.0,
            simulate_drops: true,
            ..DropConfig::default()
        };
        let mut m = DropMonitor::new(c, DropStats::default(), false);
        let mut logged = 0;
        for i in 0..=10u64 {
            // a check every 1.5 s after the first event
            for e in m.on_event(1000 * S + i * 3 * S / 2, DropStats::default) {
                if matches!(e, DropEffect::Log { level: Priority::Debug, ref message } if message.starts_with(DROP_RULE))
                {
                    logged += 1;
                }
            }
        }
        // 10 checks; 2 tokens at the start and 0.75 gained per check
        assert_eq!(m.drops_detected, 10);
        assert_eq!(m.actions_taken, logged);
        assert!((8..10).contains(&logged), "{logged}");
        assert!(m.summary().contains("event drop detected: 10 occurrences"));
    }

    #[test]
    fn exit_stops_after_logging() {
        let c = DropConfig { actions: vec![DropAction::Exit], simulate_drops: true, ..DropConfig::default() };
        let mut m = DropMonitor::new(c, DropStats::default(), false);
        assert!(m.on_event(5 * S, DropStats::default).is_empty());
        let eff = m.on_event(7 * S, DropStats::default);
        assert_eq!(eff.last(), Some(&DropEffect::Exit));
        assert!(
            eff.iter()
                .any(|e| matches!(e, DropEffect::Log { level: Priority::Critical, message } if message == "Exiting."))
        );
    }
}

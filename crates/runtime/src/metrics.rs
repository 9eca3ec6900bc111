//! Falco's metrics snapshots (`metrics:` in `falco.yaml`): every `interval`, the source's and the
//! engine's counters since the start and since the previous snapshot, emitted as the internal
//! alert `Falco internal: metrics snapshot` (`output_rule`) and/or appended to a JSON-lines file
//! (`output_file`). Field names are Falco's (0.38 and later): `falco.*` for the engine,
//! `scap.*` for the kernel-side counters, `falco.rules.*` for rule matches.
//!
//! Pure: the caller reads the clock and the process's resource usage and passes them in.

use kguard_detect::rules::Priority;
use kguard_model::yaml::YamlNode;
use serde_json::Value;

use crate::drops::DropStats;

/// The rule name of the snapshot alert.
pub const METRICS_RULE: &str = "Falco internal: metrics snapshot";

/// The shortest interval Falco accepts (100 ms).
pub const MIN_INTERVAL_NS: u64 = 100_000_000;

/// `metrics:` of `falco.yaml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `interval`, in ns (default 1h).
    pub interval_ns: u64,
    /// `output_rule` (default true): emit the snapshot as an internal alert.
    pub output_rule: bool,
    /// `output_file`: append each snapshot as a JSON line.
    pub output_file: Option<String>,
    /// `rules_counters_enabled` (default true): `falco.rules.matches_total` and one counter per rule.
    pub rules_counters_enabled: bool,
    /// `resource_utilization_enabled` (default true): CPU and memory of kguard.
    pub resource_utilization_enabled: bool,
    /// `state_counters_enabled` (default true): the thread and fd tables.
    pub state_counters_enabled: bool,
    /// `kernel_event_counters_enabled` (default true): `scap.*` events and drops.
    pub kernel_event_counters_enabled: bool,
    /// `convert_memory_to_mb` (default true): `_mb` fields instead of `_kb`.
    pub convert_memory_to_mb: bool,
    /// `include_empty_values` (default false): keep counters that are zero.
    pub include_empty_values: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: false,
            interval_ns: 3_600_000_000_000,
            output_rule: true,
            output_file: None,
            rules_counters_enabled: true,
            resource_utilization_enabled: true,
            state_counters_enabled: true,
            kernel_event_counters_enabled: true,
            convert_memory_to_mb: true,
            include_empty_values: false,
        }
    }
}

/// A Prometheus time duration (`1h30m20s10ms`; units `ms s m h d w y`), in ns; `None` when it is
/// not one.
#[must_use]
pub fn parse_duration(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let n: u64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let (unit, len) = if rest.starts_with("ms") {
            (1_000_000, 2)
        } else {
            let u = match rest.chars().next()? {
                's' => 1_000_000_000,
                'm' => 60_000_000_000,
                'h' => 3_600_000_000_000,
                'd' => 86_400_000_000_000,
                'w' => 604_800_000_000_000,
                'y' => 31_536_000_000_000_000,
                _ => return None,
            };
            (u, 1)
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = rest.get(len..)?;
    }
    Some(total)
}

impl MetricsConfig {
    /// Reads `metrics:` (`node` may be absent: the defaults). `err` formats a message as the
    /// configuration loader does.
    ///
    /// # Errors
    /// A value of the wrong type; an interval that is not a duration or is under 100 ms.
    pub fn from_yaml(node: Option<&YamlNode>, err: &dyn Fn(&str) -> String) -> Result<Self, String> {
        let mut cfg = MetricsConfig::default();
        let Some(m) = node.filter(|n| !n.is_null()) else { return Ok(cfg) };
        let flag = |key: &str, default: bool| -> Result<bool, String> {
            match m.get(key).filter(|n| !n.is_null()) {
                None => Ok(default),
                Some(n) => n.as_bool().ok_or_else(|| err(&format!("metrics.{key} must be a boolean"))),
            }
        };
        cfg.enabled = flag("enabled", cfg.enabled)?;
        cfg.output_rule = flag("output_rule", cfg.output_rule)?;
        cfg.rules_counters_enabled = flag("rules_counters_enabled", cfg.rules_counters_enabled)?;
        cfg.resource_utilization_enabled = flag("resource_utilization_enabled", cfg.resource_utilization_enabled)?;
        cfg.state_counters_enabled = flag("state_counters_enabled", cfg.state_counters_enabled)?;
        cfg.kernel_event_counters_enabled = flag("kernel_event_counters_enabled", cfg.kernel_event_counters_enabled)?;
        cfg.convert_memory_to_mb = flag("convert_memory_to_mb", cfg.convert_memory_to_mb)?;
        cfg.include_empty_values = flag("include_empty_values", cfg.include_empty_values)?;
        if let Some(i) = m.get("interval").filter(|n| !n.is_null()) {
            let s = i.as_str().unwrap_or_default();
            let ns = parse_duration(s).ok_or_else(|| {
                err(&format!("metrics.interval {s:?} is not a time duration (a number and a unit: 1h30m20s10ms)"))
            })?;
            if ns < MIN_INTERVAL_NS {
                return Err(err(&format!("metrics.interval {s:?} is under the minimum of 100ms")));
            }
            cfg.interval_ns = ns;
        }
        if let Some(f) = m.get("output_file").filter(|n| !n.is_null()) {
            let s = f.as_str().ok_or_else(|| err("metrics.output_file must be a string"))?;
            cfg.output_file = (!s.trim().is_empty()).then(|| s.to_owned());
        }
        Ok(cfg)
    }
}

/// The counters at one moment, since the source started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    /// Events the engine processed (`falco.num_evts`).
    pub num_evts: u64,
    /// The kernel side's counters (`scap.*`).
    pub scap: DropStats,
    /// Matches per rule, in the order to report them.
    pub rule_matches: Vec<(String, u64)>,
    /// Threads and fds in the state tables.
    pub threads: u64,
    /// Fds in the state tables.
    pub fds: u64,
}

/// The process's resource usage, read by the caller (`/proc/self`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage {
    /// CPU time (user + system) since the start, as a percentage of one CPU over the wall time.
    pub cpu_usage_perc: f64,
    /// Resident set size, KiB.
    pub memory_rss_kb: u64,
    /// Virtual size, KiB.
    pub memory_vsz_kb: u64,
    /// Proportional set size, KiB.
    pub memory_pss_kb: u64,
}

/// The machine, read once by the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    /// The host name.
    pub hostname: String,
    /// `uname -r`.
    pub kernel_release: String,
    /// Online CPUs.
    pub num_cpus: u64,
    /// Boot time, ns since the epoch.
    pub boot_ts: u64,
}

/// Makes the snapshots of one run.
#[derive(Clone, Debug)]
pub struct Snapshotter {
    cfg: MetricsConfig,
    engine_name: String,
    host: Host,
    start_ns: u64,
    next_ns: u64,
    prev: Option<(u64, Counters)>,
}

fn num(v: f64) -> Value {
    serde_json::Number::from_f64((v * 100.0).round() / 100.0).map_or(Value::Null, Value::Number)
}

#[allow(clippy::cast_precision_loss)]
fn per_sec(delta: u64, ns: u64) -> f64 {
    if ns == 0 { 0.0 } else { delta as f64 * 1e9 / ns as f64 }
}

impl Snapshotter {
    /// Snapshots for a run that started at `start_ns` (ns since the epoch) on `host`;
    /// `engine_name` is the source (`modern_bpf` for the live probe, `savefile` for a capture).
    #[must_use]
    pub fn new(cfg: MetricsConfig, engine_name: &str, host: Host, start_ns: u64) -> Self {
        let next_ns = start_ns.saturating_add(cfg.interval_ns);
        Snapshotter { cfg, engine_name: engine_name.to_owned(), host, start_ns, next_ns, prev: None }
    }

    /// Whether a snapshot is due at `now_ns`.
    #[must_use]
    pub fn due(&self, now_ns: u64) -> bool {
        self.cfg.enabled && now_ns >= self.next_ns
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &MetricsConfig {
        &self.cfg
    }

    /// The snapshot at `now_ns`, as Falco's internal alert; the next one is due an interval
    /// later.
    pub fn snapshot(&mut self, now_ns: u64, c: &Counters, usage: Option<&Usage>) -> kguard_detect::InternalAlert {
        self.next_ns = now_ns.saturating_add(self.cfg.interval_ns);
        let (prev_ns, prev) = self.prev.take().unwrap_or((self.start_ns, Counters::default()));
        let dt = now_ns.saturating_sub(prev_ns);
        let empty = !self.cfg.include_empty_values;
        let mut f: Vec<(String, Value)> = Vec::new();
        let mut put = |k: &str, v: Value| f.push((k.to_owned(), v));
        put("evt.source", "syscall".into());
        put("evt.time", now_ns.into());
        put("evt.hostname", self.host.hostname.clone().into());
        put("falco.version", concat!("kguard ", env!("CARGO_PKG_VERSION")).into());
        put("falco.start_ts", self.start_ns.into());
        put("falco.duration_sec", (now_ns.saturating_sub(self.start_ns) / 1_000_000_000).into());
        put("falco.kernel_release", self.host.kernel_release.clone().into());
        put("falco.host_num_cpus", self.host.num_cpus.into());
        put("falco.host_boot_ts", self.host.boot_ts.into());
        put("falco.num_evts", c.num_evts.into());
        put("falco.num_evts_prev", prev.num_evts.into());
        put("falco.evts_rate_sec", num(per_sec(c.num_evts.saturating_sub(prev.num_evts), dt)));
        // alerts are written as they are made: no output queue, nothing dropped from it
        put("falco.outputs_queue_num_drops", 0u64.into());
        put("scap.engine_name", self.engine_name.clone().into());
        if self.cfg.resource_utilization_enabled
            && let Some(u) = usage
        {
            put("falco.cpu_usage_perc", num(u.cpu_usage_perc));
            let (unit, div) = if self.cfg.convert_memory_to_mb { ("mb", 1024.0) } else { ("kb", 1.0) };
            #[allow(clippy::cast_precision_loss)]
            for (name, kb) in [("rss", u.memory_rss_kb), ("vsz", u.memory_vsz_kb), ("pss", u.memory_pss_kb)] {
                put(&format!("falco.memory_{name}_{unit}"), num(kb as f64 / div));
            }
        }
        if self.cfg.state_counters_enabled {
            put("falco.n_threads", c.threads.into());
            put("falco.n_fds", c.fds.into());
        }
        if self.cfg.kernel_event_counters_enabled {
            let (s, p) = (&c.scap, &prev.scap);
            let d_evts = s.n_evts.saturating_sub(p.n_evts);
            let d_drops = s.n_drops.saturating_sub(p.n_drops);
            put("scap.n_evts", s.n_evts.into());
            put("scap.n_evts_prev", p.n_evts.into());
            put("scap.evts_rate_sec", num(per_sec(d_evts, dt)));
            put("scap.n_drops", s.n_drops.into());
            put("scap.n_drops_prev", p.n_drops.into());
            put("scap.drops_rate_sec", num(per_sec(d_drops, dt)));
            #[allow(clippy::cast_precision_loss)]
            let perc = if d_evts == 0 { 0.0 } else { d_drops as f64 * 100.0 / d_evts as f64 };
            put("scap.n_drops_perc", num(perc));
            for (k, v) in [
                ("scap.n_drops_buffer_total", s.n_drops_buffer),
                ("scap.n_drops_scratch_map", s.n_drops_scratch_map),
                ("scap.n_drops_page_faults", s.n_drops_pf),
                ("scap.n_drops_bug", s.n_drops_bug),
            ] {
                if v != 0 || !empty {
                    put(k, v.into());
                }
            }
        }
        if self.cfg.rules_counters_enabled {
            let total: u64 = c.rule_matches.iter().map(|(_, n)| n).sum();
            put("falco.rules.matches_total", total.into());
            for (rule, n) in &c.rule_matches {
                if *n != 0 || !empty {
                    put(&format!("falco.rules.{rule}"), (*n).into());
                }
            }
        }
        // Falco's output fields are a JSON object with sorted keys
        f.sort_by(|a, b| a.0.cmp(&b.0));
        self.prev = Some((now_ns, c.clone()));
        kguard_detect::InternalAlert {
            time_ns: i64::try_from(now_ns).unwrap_or(i64::MAX),
            rule: METRICS_RULE.to_owned(),
            priority: Priority::Informational,
            message: "Falco metrics snapshot".to_owned(),
            output_fields: f,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn durations_are_prometheus_durations() {
        assert_eq!(parse_duration("1h30m20s10ms"), Some(5_420_010_000_000));
        assert_eq!(parse_duration("15m"), Some(900 * S));
        assert_eq!(parse_duration("100ms"), Some(MIN_INTERVAL_NS));
        assert_eq!(parse_duration("2d"), Some(172_800 * S));
        for bad in ["", "10", "1x", "h", "1.5h", "-1s", "99999999999999999999y"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_config_is_read_and_checked() {
        let err = |m: &str| format!("E: {m}");
        let doc = kguard_model::yaml::parse_documents(
            "metrics:\n  enabled: true\n  interval: 2s\n  output_file: /tmp/m.jsonl\n  convert_memory_to_mb: false\n",
        );
        let root = doc.into_iter().next().unwrap().root.unwrap().unwrap();
        let c = MetricsConfig::from_yaml(root.get("metrics"), &err).unwrap();
        assert!(c.enabled && c.output_rule && !c.convert_memory_to_mb);
        assert_eq!((c.interval_ns, c.output_file.as_deref()), (2 * S, Some("/tmp/m.jsonl")));
        for (text, want) in [
            ("metrics:\n  interval: 50ms\n", "E: metrics.interval \"50ms\" is under the minimum of 100ms"),
            ("metrics:\n  interval: soon\n", "E: metrics.interval \"soon\" is not a time duration"),
            ("metrics:\n  enabled: maybe\n", "E: metrics.enabled must be a boolean"),
        ] {
            let doc = kguard_model::yaml::parse_documents(text);
            let root = doc.into_iter().next().unwrap().root.unwrap().unwrap();
            let e = MetricsConfig::from_yaml(root.get("metrics"), &err).unwrap_err();
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn snapshots_report_totals_and_rates_between_snapshots() {
        let cfg = MetricsConfig { enabled: true, interval_ns: 10 * S, ..MetricsConfig::default() };
        let host = Host { hostname: "node-1".into(), kernel_release: "6.1.0".into(), num_cpus: 2, boot_ts: 5 };
        let mut s = Snapshotter::new(cfg, "modern_bpf", host, 100 * S);
        assert!(!s.due(109 * S));
        assert!(s.due(110 * S));
        let mut c = Counters {
            num_evts: 1_000,
            scap: DropStats { n_evts: 1_100, n_drops: 100, n_drops_buffer: 100, ..DropStats::default() },
            rule_matches: vec![("Read sensitive file untrusted".into(), 2), ("Quiet".into(), 0)],
            threads: 40,
            fds: 300,
        };
        let usage = Usage { cpu_usage_perc: 12.345, memory_rss_kb: 2048, memory_vsz_kb: 4096, memory_pss_kb: 1024 };
        let a = s.snapshot(110 * S, &c, Some(&usage));
        assert_eq!(
            (a.rule.as_str(), a.priority, a.message.as_str()),
            (METRICS_RULE, Priority::Informational, "Falco metrics snapshot")
        );
        let get = |a: &kguard_detect::InternalAlert, k: &str| {
            a.output_fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        };
        assert_eq!(get(&a, "falco.evts_rate_sec"), Some(serde_json::json!(100.0)));
        assert_eq!(get(&a, "falco.duration_sec"), Some(serde_json::json!(10)));
        assert_eq!(get(&a, "scap.n_drops_perc"), Some(serde_json::json!(9.09)));
        assert_eq!(get(&a, "falco.memory_rss_mb"), Some(serde_json::json!(2.0)));
        assert_eq!(get(&a, "falco.cpu_usage_perc"), Some(serde_json::json!(12.35)));
        assert_eq!(get(&a, "falco.rules.matches_total"), Some(serde_json::json!(2)));
        assert_eq!(get(&a, "falco.rules.Read sensitive file untrusted"), Some(serde_json::json!(2)));
        assert_eq!(get(&a, "falco.rules.Quiet"), None, "zero counters left out unless include_empty_values");
        assert_eq!(get(&a, "scap.n_drops_scratch_map"), None);
        let keys: Vec<&str> = a.output_fields.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "sorted: {keys:?}");
        // the second snapshot: rates over the 5 s since the first
        assert!(!s.due(119 * S));
        c.num_evts = 1_500;
        c.scap.n_evts = 1_600;
        let b = s.snapshot(115 * S, &c, None);
        assert_eq!(get(&b, "falco.num_evts_prev"), Some(serde_json::json!(1000)));
        assert_eq!(get(&b, "falco.evts_rate_sec"), Some(serde_json::json!(100.0)));
        assert_eq!(get(&b, "scap.n_drops_perc"), Some(serde_json::json!(0.0)));
        assert_eq!(get(&b, "falco.memory_rss_mb"), None, "no usage given");
        assert!(
            b.output().starts_with("1970-01-01T00:01:55.000000000+0000: Informational Falco metrics snapshot ("),
            "{}",
            b.output()
        );
        assert_eq!(b.to_json("node-1")["output_fields"]["scap.n_evts"], serde_json::json!(1600));
    }
}

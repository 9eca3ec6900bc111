//! Prometheus metrics, in the text exposition format: requests by endpoint and code, decisions,
//! latency histograms, internal errors, audit events and alerts, reloads.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The webhook endpoints.
pub const ENDPOINTS: [&str; 7] = ["validate", "mutate", "imagereview", "authenticate", "authorize", "audit", "other"];

/// Latency histogram bucket bounds, seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// One endpoint's counters.
#[derive(Debug, Default)]
struct Endpoint {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    allowed: AtomicU64,
    denied: AtomicU64,
    errors: AtomicU64,
}

/// Every metric.
#[derive(Debug, Default)]
pub struct Metrics {
    endpoints: [Endpoint; ENDPOINTS.len()],
    codes: Mutex<Vec<(usize, u16, u64)>>,
    audit_events: AtomicU64,
    alerts: Mutex<Vec<(String, u64)>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    rejected_connections: AtomicU64,
    handshakes_failed: AtomicU64,
    idle_closed: AtomicU64,
    over_budget: AtomicU64,
    body_memory_full: AtomicU64,
    audit_repaired_bytes: AtomicU64,
    audit_repaired_files: AtomicU64,
    audit_write_errors: AtomicU64,
    in_flight: AtomicU64,
    /// The HTTP alert output's deliveries.
    pub alert_http: Arc<crate::alerts::Delivery>,
}

/// A decision, for the `kguard_decisions_total` counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed / authenticated.
    Allowed,
    /// Denied / not authenticated.
    Denied,
    /// Internal error (answered per the failure policy).
    Error,
    /// Not a decision (bad request, health).
    None,
}

fn index(endpoint: &str) -> usize {
    ENDPOINTS.iter().position(|e| *e == endpoint).unwrap_or(ENDPOINTS.len() - 1)
}

impl Metrics {
    /// Records one answered request.
    pub fn record(&self, endpoint: &str, code: u16, decision: Decision, elapsed: Duration) {
        let i = index(endpoint);
        let Some(e) = self.endpoints.get(i) else { return };
        let secs = elapsed.as_secs_f64();
        for (b, bound) in e.buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        e.count.fetch_add(1, Ordering::Relaxed);
        e.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        match decision {
            Decision::Allowed => e.allowed.fetch_add(1, Ordering::Relaxed),
            Decision::Denied => e.denied.fetch_add(1, Ordering::Relaxed),
            Decision::Error => e.errors.fetch_add(1, Ordering::Relaxed),
            Decision::None => 0,
        };
        if let Ok(mut codes) = self.codes.lock() {
            match codes.iter_mut().find(|(ei, c, _)| *ei == i && *c == code) {
                Some(entry) => entry.2 += 1,
                None => codes.push((i, code, 1)),
            }
        }
    }

    /// Counts audit events written.
    pub fn audit_events(&self, n: usize) {
        self.audit_events.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts one alert of `priority`.
    pub fn alert(&self, priority: &str) {
        if let Ok(mut alerts) = self.alerts.lock() {
            match alerts.iter_mut().find(|(p, _)| p == priority) {
                Some(entry) => entry.1 += 1,
                None => alerts.push((priority.to_owned(), 1)),
            }
        }
    }

    /// Counts a reload.
    pub fn reload(&self, ok: bool) {
        if ok { &self.reloads_ok } else { &self.reloads_failed }.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection refused at the connection limit.
    pub fn rejected_connection(&self) {
        self.rejected_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a TLS handshake that failed or timed out.
    pub fn handshake_failed(&self) {
        self.handshakes_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed for idleness (or for sending no request after its handshake).
    pub fn idle_connection_closed(&self) {
        self.idle_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request answered per the failure policy because its evaluation exceeded the budget.
    pub fn over_budget(&self) {
        self.over_budget.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused because request bodies filled the memory budget.
    pub fn body_memory_full(&self) {
        self.body_memory_full.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a repair of the audit log (at start or after a failed write).
    pub fn audit_repair(&self, r: &crate::audit::Repair) {
        self.audit_repaired_bytes.fetch_add(r.bytes, Ordering::Relaxed);
        self.audit_repaired_files.fetch_add(r.removed, Ordering::Relaxed);
    }

    /// Counts a failed audit log write (the batch is not acknowledged).
    pub fn audit_write_error(&self) {
        self.audit_write_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Tracks requests in flight.
    pub fn in_flight(&self, delta: i64) {
        if delta >= 0 {
            self.in_flight.fetch_add(delta.unsigned_abs(), Ordering::Relaxed);
        } else {
            self.in_flight.fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
        }
    }

    /// The text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP kguard_requests_total Webhook requests answered, by endpoint and HTTP code.\n# TYPE kguard_requests_total counter\n");
        if let Ok(codes) = self.codes.lock() {
            let mut codes = codes.clone();
            codes.sort_unstable();
            for (i, code, n) in codes {
                let name = ENDPOINTS.get(i).copied().unwrap_or("other");
                let _ = writeln!(out, "kguard_requests_total{{endpoint=\"{name}\",code=\"{code}\"}} {n}");
            }
        }
        out.push_str("# HELP kguard_decisions_total Decisions, by endpoint and outcome.\n# TYPE kguard_decisions_total counter\n");
        for (name, e) in ENDPOINTS.iter().zip(&self.endpoints) {
            for (decision, v) in [("allowed", &e.allowed), ("denied", &e.denied), ("error", &e.errors)] {
                let _ =
                    writeln!(out, "kguard_decisions_total{{endpoint=\"{name}\",decision=\"{decision}\"}} {}", load(v));
            }
        }
        out.push_str("# HELP kguard_request_duration_seconds Time from request headers to answer.\n# TYPE kguard_request_duration_seconds histogram\n");
        for (name, e) in ENDPOINTS.iter().zip(&self.endpoints) {
            for (b, bound) in e.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "kguard_request_duration_seconds_bucket{{endpoint=\"{name}\",le=\"{bound}\"}} {}",
                    load(b)
                );
            }
            let count = load(&e.count);
            let _ = writeln!(out, "kguard_request_duration_seconds_bucket{{endpoint=\"{name}\",le=\"+Inf\"}} {count}");
            #[allow(clippy::cast_precision_loss)]
            let sum = load(&e.sum_micros) as f64 / 1e6;
            let _ = writeln!(out, "kguard_request_duration_seconds_sum{{endpoint=\"{name}\"}} {sum}");
            let _ = writeln!(out, "kguard_request_duration_seconds_count{{endpoint=\"{name}\"}} {count}");
        }
        out.push_str("# HELP kguard_audit_events_total Audit events written to the log.\n# TYPE kguard_audit_events_total counter\n");
        let _ = writeln!(out, "kguard_audit_events_total {}", load(&self.audit_events));
        out.push_str("# HELP kguard_alerts_total Detection alerts, by priority.\n# TYPE kguard_alerts_total counter\n");
        if let Ok(alerts) = self.alerts.lock() {
            for (p, n) in alerts.iter() {
                let _ = writeln!(out, "kguard_alerts_total{{priority=\"{p}\"}} {n}");
            }
        }
        out.push_str("# HELP kguard_alert_http_total Alerts handed to the HTTP output, by outcome (dropped: queue full).\n# TYPE kguard_alert_http_total counter\n");
        for (result, n) in [
            ("delivered", &self.alert_http.delivered),
            ("failed", &self.alert_http.failed),
            ("dropped", &self.alert_http.dropped),
        ] {
            let _ = writeln!(out, "kguard_alert_http_total{{result=\"{result}\"}} {}", load(n));
        }
        out.push_str(
            "# HELP kguard_reloads_total Configuration and state reloads.\n# TYPE kguard_reloads_total counter\n",
        );
        let _ = writeln!(out, "kguard_reloads_total{{result=\"success\"}} {}", load(&self.reloads_ok));
        let _ = writeln!(out, "kguard_reloads_total{{result=\"failure\"}} {}", load(&self.reloads_failed));
        out.push_str("# HELP kguard_rejected_connections_total Connections closed at the connection limit.\n# TYPE kguard_rejected_connections_total counter\n");
        let _ = writeln!(out, "kguard_rejected_connections_total {}", load(&self.rejected_connections));
        for (name, help, v) in [
            (
                "kguard_tls_handshake_failures_total",
                "TLS handshakes that failed or timed out.",
                &self.handshakes_failed,
            ),
            (
                "kguard_idle_connections_closed_total",
                "Connections closed for sending no request in time, or idle too long.",
                &self.idle_closed,
            ),
            (
                "kguard_evaluations_over_budget_total",
                "Requests answered per the failure policy because evaluation exceeded its budget.",
                &self.over_budget,
            ),
            (
                "kguard_body_memory_rejections_total",
                "Requests refused (429) because request bodies filled the memory budget.",
                &self.body_memory_full,
            ),
            (
                "kguard_audit_log_repaired_bytes_total",
                "Bytes of unfinished lines dropped from the audit log (at start or after a failed write).",
                &self.audit_repaired_bytes,
            ),
            (
                "kguard_audit_log_repaired_files_total",
                "Leftover files of an interrupted rotation or compression removed from the log directory.",
                &self.audit_repaired_files,
            ),
            (
                "kguard_audit_log_write_errors_total",
                "Audit batches that could not be written and fsynced (not acknowledged).",
                &self.audit_write_errors,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", load(v));
        }
        out.push_str(
            "# HELP kguard_requests_in_flight Requests being evaluated.\n# TYPE kguard_requests_in_flight gauge\n",
        );
        let _ = writeln!(out, "kguard_requests_in_flight {}", load(&self.in_flight));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.record("validate", 200, Decision::Denied, Duration::from_micros(300));
        m.record("validate", 200, Decision::Allowed, Duration::from_millis(2));
        m.record("nope", 404, Decision::None, Duration::from_micros(1));
        m.alert("Warning");
        let text = m.render();
        assert!(text.contains("kguard_requests_total{endpoint=\"validate\",code=\"200\"} 2"), "{text}");
        assert!(text.contains("kguard_requests_total{endpoint=\"other\",code=\"404\"} 1"));
        assert!(text.contains("kguard_decisions_total{endpoint=\"validate\",decision=\"denied\"} 1"));
        assert!(text.contains("kguard_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.0005\"} 1"));
        assert!(text.contains("kguard_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.0025\"} 2"));
        assert!(text.contains("kguard_alerts_total{priority=\"Warning\"} 1"));
    }
}

//! The audit webhook backend: an `EventList` is written to the log and fsynced before the 200
//! (a 500 otherwise: kube-apiserver retries), then run through the detection rules; alerts go to
//! stdout, the alert file and the HTTP output.

use std::path::Path;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use hyper::StatusCode;

use crate::metrics::Decision;
use crate::routes::{Resp, json, status_response};
use crate::state::Runtime;
use crate::{Shared, audit, log};

pub(crate) async fn audit_endpoint(shared: &Shared, rt: &Runtime, body: &Bytes) -> (Resp, Decision) {
    let Some(writer) = &shared.audit else {
        return (
            status_response(404, "NotFound", "the audit sink is not configured (audit.log in kguard.yaml)"),
            Decision::None,
        );
    };
    let events = match audit::events(body) {
        Ok(v) => v,
        Err(e) => return (status_response(400, "BadRequest", &e), Decision::None),
    };
    let count = events.len();
    if let Err(e) = writer.append(audit::lines(&events)).await {
        shared.metrics.audit_write_error();
        log(crate::log::Level::Error, &format!("audit log write failed: {e}"));
        return (status_response(500, "InternalError", &format!("audit log write failed: {e}")), Decision::Error);
    }
    shared.metrics.audit_events(count);
    if let Some(engine) = &rt.detect {
        let now_ns = i64::try_from(kguard_model::time::now_nanos()).unwrap_or(i64::MAX);
        for event in events {
            let event = kguard_detect::k8saudit::AuditEvent::new(event, now_ns);
            for alert in engine.process(&event) {
                shared.metrics.alert(alert.priority.as_str());
                let line = alert.to_json(&shared.hostname).to_string();
                if rt.config.audit.alerts.stdout {
                    println!("{line}");
                }
                if let Some(path) = &rt.config.audit.alerts.file {
                    append_alert(path, &line);
                }
                if let Some(queue) = &shared.alert_http
                    && !queue.send(line)
                {
                    let dropped = shared.metrics.alert_http.dropped.load(Ordering::Relaxed);
                    if dropped == 1 || dropped.is_multiple_of(1000) {
                        log(
                            crate::log::Level::Warning,
                            &format!("HTTP alert output: queue full, {dropped} alerts dropped so far"),
                        );
                    }
                }
            }
        }
    }
    (json(StatusCode::OK, &serde_json::json!({})), Decision::Allowed)
}

/// Appends one alert line to the alert file (created 0600, like the audit log: alerts quote
/// audit events).
fn append_alert(path: &Path, line: &str) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        log(crate::log::Level::Error, &format!("alert output {}: {e}", path.display()));
    }
}

//! What a request gets, from its path to its answer: the endpoint, the method and content type,
//! client authentication where the endpoint needs it, readiness of the cluster state, the body
//! (bounded in size, time and total memory), an evaluation slot, then the decision.
//!
//! Bad requests are answered with a Kubernetes `Status`. An evaluation slot is taken only once
//! the body has been read, so a slow sender holds memory (bounded) but no slot.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::SemaphorePermit;

use crate::config::AUTHENTICATED_ENDPOINTS;
use crate::listen::Peer;
use crate::metrics::Decision;
use crate::{Shared, evaluate, sink, wire};

pub(crate) type Resp = hyper::Response<Full<Bytes>>;

pub(crate) fn text(code: StatusCode, body: String, content_type: &'static str) -> Resp {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(crate) fn json(code: StatusCode, value: &Value) -> Resp {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub(crate) fn status_response(code: u16, reason: &str, message: &str) -> Resp {
    json(StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST), &wire::status(code, reason, message))
}

fn retry_later(code: u16, reason: &str, message: &str) -> Resp {
    let mut r = status_response(code, reason, message);
    r.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// The endpoint name of a path (for routing and metrics).
fn endpoint(path: &str) -> &'static str {
    match path {
        "/validate" => "validate",
        "/mutate" => "mutate",
        "/imagereview" => "imagereview",
        "/authenticate" => "authenticate",
        "/authorize" => "authorize",
        "/audit" => "audit",
        _ => "other",
    }
}

/// Answers one request and records it.
pub(crate) async fn handle(shared: &Shared, peer: Peer, req: hyper::Request<Incoming>) -> Resp {
    let started = Instant::now();
    let name = endpoint(req.uri().path());
    let (resp, decision) = route(shared, peer, name, req).await;
    shared.metrics.record(name, resp.status().as_u16(), decision, started.elapsed());
    resp
}

async fn route(shared: &Shared, peer: Peer, name: &'static str, req: hyper::Request<Incoming>) -> (Resp, Decision) {
    if name == "other" {
        let msg = format!("the server could not find the requested resource {:?}", req.uri().path());
        return (status_response(404, "NotFound", &msg), Decision::None);
    }
    if req.method() != Method::POST {
        let msg = format!("{} {}: only POST is allowed", req.method(), req.uri().path());
        let mut r = status_response(405, "MethodNotAllowed", &msg);
        r.headers_mut().insert(hyper::header::ALLOW, HeaderValue::from_static("POST"));
        return (r, Decision::None);
    }
    if let Some(ct) = req.headers().get(CONTENT_TYPE)
        && !ct.to_str().is_ok_and(|v| v.starts_with("application/json"))
    {
        let msg = format!("unsupported Content-Type {ct:?}: expected application/json");
        return (status_response(415, "UnsupportedMediaType", &msg), Decision::None);
    }
    let runtime = shared.runtime();
    // Forged audit events, token probes and authorization probes need a client the configured
    // CA vouches for.
    if AUTHENTICATED_ENDPOINTS.contains(&name)
        && !peer.authenticated
        && !runtime.config.tls.allow_unauthenticated.iter().any(|e| e == name)
    {
        let msg = format!(
            "/{name} needs a client certificate: set tls.clientCAFile to the CA of kube-apiserver's client \
             certificate (or list {name} in tls.allowUnauthenticated)"
        );
        crate::log(
            crate::log::Level::Warning,
            &format!("refused /{name} from {}: no verified client certificate", peer.addr),
        );
        return (status_response(403, "Forbidden", &msg), Decision::None);
    }
    // Until the cluster's objects are listed, answers that depend on them would be made against
    // an empty state (no namespace labels, no RBAC): refuse instead, and let kube-apiserver apply
    // the webhook's own failurePolicy. The image policy and the audit sink do not read the state.
    if !matches!(name, "imagereview" | "audit") && !shared.synced.load(Ordering::SeqCst) {
        let msg = "kguard has not synced the cluster state yet (state.cluster); retry";
        return (retry_later(503, "ServiceUnavailable", msg), Decision::None);
    }
    let limits = &runtime.config.limits;
    let (bytes, _held) = match read_body(shared, req, limits.max_body_bytes, limits.body_timeout_seconds).await {
        Ok(b) => b,
        Err(resp) => return (resp, Decision::None),
    };
    // A slot counts a request whose body is read, until it is answered.
    let Ok(_slot) = shared.permits.try_acquire() else {
        return (retry_later(429, "TooManyRequests", "too many requests in flight; retry"), Decision::None);
    };
    shared.metrics.in_flight(1);
    let out = if name == "audit" {
        sink::audit_endpoint(shared, &runtime, &bytes).await
    } else {
        let deadline = Instant::now() + Duration::from_millis(limits.evaluation_budget_ms);
        let lane = if bytes.len() > limits.heavy_body_bytes { evaluate::Lane::Heavy } else { evaluate::Lane::Light };
        let (rt, body) = (Arc::clone(&runtime), bytes.clone());
        match shared.pool.run(lane, deadline, move || evaluate::evaluate(&rt, name, &body)).await {
            evaluate::Outcome::Done(r) => r,
            evaluate::Outcome::Panicked(what) => {
                crate::log(crate::log::Level::Error, &format!("internal error evaluating /{name}: {what}"));
                evaluate::failure(&runtime, name, &bytes, &what)
            }
            evaluate::Outcome::OverBudget => {
                shared.metrics.over_budget();
                let what = format!("evaluation exceeded its budget of {} ms", limits.evaluation_budget_ms);
                crate::log(crate::log::Level::Warning, &format!("/{name}: {what}"));
                evaluate::failure(&runtime, name, &bytes, &what)
            }
        }
    };
    shared.metrics.in_flight(-1);
    out
}

/// How much of an oversized body is read and discarded before the 413, so that the client
/// (which is still sending) reads the answer instead of a reset connection; beyond it, the
/// connection is closed at once. Go's HTTP server lingers the same way.
const DISCARD_BEFORE_413: u64 = 256 * 1024;

/// Reads a body of at most `max` bytes within `timeout_secs`, holding its size in the shared
/// body-memory budget (released when the returned permits drop).
async fn read_body<'a>(
    shared: &'a Shared,
    req: hyper::Request<Incoming>,
    max: usize,
    timeout_secs: u64,
) -> Result<(Bytes, Vec<SemaphorePermit<'a>>), Resp> {
    let too_large = || {
        let msg = format!("request body exceeds the limit of {max} bytes");
        status_response(413, "RequestEntityTooLarge", &msg)
    };
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_secs);
    let mut body = req.into_body();
    if let Some(n) = declared.filter(|n| *n > max as u64) {
        if n <= max as u64 + DISCARD_BEFORE_413 {
            discard(&mut body, n, deadline).await;
        }
        return Err(too_large());
    }
    let mut buf = BytesMut::with_capacity(declared.map_or(0, |n| usize::try_from(n).unwrap_or(0)).min(max));
    let mut held = Vec::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(status_response(408, "Timeout", "timed out reading the request body")),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(status_response(400, "BadRequest", &format!("reading the request body: {e}")));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        if buf.len() + data.len() > max {
            discard(&mut body, DISCARD_BEFORE_413, deadline).await;
            return Err(too_large());
        }
        let n = u32::try_from(data.len()).unwrap_or(u32::MAX);
        if n > 0 {
            match tokio::time::timeout_at(deadline, shared.body_bytes.acquire_many(n)).await {
                Ok(Ok(p)) => held.push(p),
                _ => {
                    shared.metrics.body_memory_full();
                    let msg = "request bodies fill the server's memory budget; retry";
                    return Err(retry_later(429, "TooManyRequests", msg));
                }
            }
        }
        buf.extend_from_slice(&data);
    }
    Ok((buf.freeze(), held))
}

/// Reads and drops up to `limit` bytes of what remains of a body, within `deadline`.
async fn discard(body: &mut Incoming, limit: u64, deadline: tokio::time::Instant) {
    let mut seen = 0u64;
    while seen < limit {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => seen += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => return,
        }
    }
}

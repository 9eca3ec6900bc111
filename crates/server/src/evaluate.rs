//! The decisions, and where they are computed: fixed pools of evaluation threads, off the
//! connection threads, with a per-request budget. A request that waits or runs past its budget
//! gets the failure policy's answer at once; a job whose deadline passed before a thread took it
//! is dropped unrun. Large reviews (bodies over `limits.heavyBodyBytes`) have a lane of their
//! own, one thread, so a burst of them cannot delay the ordinary ones, and their decoded size in
//! memory is bounded by one at a time. A panic in an evaluation is caught and answered per the
//! failure policy.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hyper::StatusCode;
use kguard_authn::union::{self, Authenticators, Credentials};
use kguard_authz::Verdict;
use tokio::sync::oneshot;

use crate::metrics::Decision;
use crate::routes::{Resp, json, status_response};
use crate::state::Runtime;
use crate::wire::{self, BadRequest};
use crate::{ServeError, config};

/// One evaluation waiting for a thread.
struct Job {
    deadline: Instant,
    work: Box<dyn FnOnce() + Send>,
}

/// The evaluation threads: the lane of ordinary requests and the lane of large ones.
pub(crate) struct Pool {
    light: SyncSender<Job>,
    heavy: SyncSender<Job>,
}

/// Which lane a request takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Ordinary requests (`limits.evaluationThreads` threads).
    Light,
    /// Requests with a body over `limits.heavyBodyBytes` (one thread).
    Heavy,
}

/// What became of an evaluation.
pub(crate) enum Outcome<T> {
    /// Its result.
    Done(T),
    /// It panicked (the message).
    Panicked(String),
    /// No result within the budget (it waited too long, or ran too long).
    OverBudget,
}

impl Pool {
    /// Starts `threads` threads for ordinary requests and one for large ones, each lane taking
    /// jobs from a queue of `queue` places.
    ///
    /// # Errors
    /// When a thread cannot be spawned.
    pub(crate) fn start(threads: usize, queue: usize) -> Result<Self, ServeError> {
        Ok(Self { light: lane("light", threads, queue)?, heavy: lane("heavy", 1, queue)? })
    }

    /// Runs `f` on a thread of `lane`; its result if it is ready by `deadline`.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        deadline: Instant,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Outcome<T> {
        let (done, wait) = oneshot::channel();
        let work = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
                panic
                    .downcast_ref::<&str>()
                    .map(ToString::to_string)
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown error".to_owned())
            });
            let _ = done.send(result);
        });
        let tx = if lane == Lane::Heavy { &self.heavy } else { &self.light };
        match tx.try_send(Job { deadline, work }) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => return Outcome::OverBudget,
        }
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), wait).await {
            Ok(Ok(Ok(r))) => Outcome::Done(r),
            Ok(Ok(Err(panic))) => Outcome::Panicked(panic),
            Ok(Err(_)) | Err(_) => Outcome::OverBudget,
        }
    }
}

fn lane(name: &str, threads: usize, queue: usize) -> Result<SyncSender<Job>, ServeError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(queue.max(1));
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..threads.max(1) {
        let rx = Arc::clone(&rx);
        std::thread::Builder::new()
            .name(format!("kguard-eval-{name}-{i}"))
            .spawn(move || worker(&rx))
            .map_err(|e| ServeError::Runtime(format!("cannot start an evaluation thread: {e}")))?;
    }
    Ok(tx)
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let Ok(rx) = rx.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        // Its requester has already been answered: do not spend the CPU.
        if Instant::now() >= job.deadline {
            continue;
        }
        (job.work)();
    }
}

/// The answer to an internal evaluation error: per the failure policy for admission and image
/// review (`Fail` denies, `Ignore` allows with an audit annotation); authentication and
/// authorization always fail closed.
pub(crate) fn failure(rt: &Runtime, name: &str, body: &[u8], what: &str) -> (Resp, Decision) {
    let message = format!("kguard internal error: {what}");
    let open = rt.config.failure_policy == config::FailurePolicy::Ignore;
    match name {
        "validate" | "mutate" => match wire::admission_review(body) {
            Ok(review) => {
                let mut r = if open {
                    kguard_admission::Response::allow_annotated("kguard-error", &message)
                } else {
                    kguard_admission::Response::deny(kguard_admission::Status {
                        code: 500,
                        reason: "InternalError",
                        message,
                    })
                };
                r.patch.clear();
                (
                    json(StatusCode::OK, &wire::admission_response(&review.api_version, &review.request.uid, &r)),
                    Decision::Error,
                )
            }
            Err(e) => (status_response(e.code, e.reason, &e.message), Decision::Error),
        },
        "imagereview" => {
            let mut audit = BTreeMap::new();
            if open {
                audit.insert("imagepolicywebhook.image-policy.k8s.io/failed-open".to_owned(), "true".to_owned());
            }
            (json(StatusCode::OK, &wire::image_review_response(open, &message, &audit)), Decision::Error)
        }
        _ => (status_response(500, "InternalError", &message), Decision::Error),
    }
}

fn bad(e: &BadRequest) -> (Resp, Decision) {
    (status_response(e.code, e.reason, &e.message), Decision::None)
}

pub(crate) fn evaluate(rt: &Runtime, name: &str, body: &[u8]) -> (Resp, Decision) {
    match name {
        "validate" | "mutate" => {
            let review = match wire::admission_review(body) {
                Ok(r) => r,
                Err(e) => return bad(&e),
            };
            let r = if name == "validate" {
                kguard_admission::validate(&rt.policies, &rt.inventory, &rt.authorizer, &review.request)
            } else {
                kguard_admission::mutate(&rt.policies, &rt.inventory, &rt.authorizer, &review.request)
            };
            let decision = if r.allowed { Decision::Allowed } else { Decision::Denied };
            (json(StatusCode::OK, &wire::admission_response(&review.api_version, &review.request.uid, &r)), decision)
        }
        "imagereview" => {
            let review = match wire::image_review(body) {
                Ok(r) => r,
                Err(e) => return bad(&e),
            };
            let exempt = rt.image_policy.exempt_namespaces.contains(&review.namespace);
            let result =
                if exempt { Ok(()) } else { rt.image_policy.check_all(review.images.iter().map(String::as_str)) };
            let (allowed, reason) = match result {
                Ok(()) => (true, String::new()),
                Err(e) => (false, e.to_string()),
            };
            let mut audit = BTreeMap::new();
            if !allowed {
                audit.insert("denied-images".to_owned(), reason.clone());
            }
            let decision = if allowed { Decision::Allowed } else { Decision::Denied };
            (json(StatusCode::OK, &wire::image_review_response(allowed, &reason, &audit)), decision)
        }
        "authenticate" => {
            let review = match wire::token_review(body) {
                Ok(r) => r,
                Err(e) => return bad(&e),
            };
            authenticate(rt, &review)
        }
        "authorize" => {
            let review = match wire::subject_access_review(body) {
                Ok(r) => r,
                Err(e) => return bad(&e),
            };
            let d = rt.authorizer.decide(&review.attributes);
            let (allowed, denied) = (d.verdict == Verdict::Allow, d.verdict == Verdict::Deny);
            let decision = if allowed { Decision::Allowed } else { Decision::Denied };
            (
                json(
                    StatusCode::OK,
                    &wire::subject_access_review_response(&review.api_version, allowed, denied, &d.reason, ""),
                ),
                decision,
            )
        }
        _ => (status_response(404, "NotFound", "not found"), Decision::None),
    }
}

fn authenticate(rt: &Runtime, review: &wire::TokenReview) -> (Resp, Decision) {
    if review.token.is_empty() {
        let body = wire::token_review_response(&review.api_version, None, &[], "the token is empty");
        return (json(StatusCode::OK, &body), Decision::Denied);
    }
    // Requested audiences narrow the service-account verifier's; without any, the configured
    // API audiences apply (kube-apiserver's `--api-audiences`).
    let narrowed = match (&rt.service_accounts, review.audiences.is_empty()) {
        (Some(v), false) => Some(v.with_audiences(review.audiences.clone())),
        _ => None,
    };
    let authn = Authenticators {
        token_file: rt.token_file.as_deref(),
        service_accounts: narrowed.as_ref().or(rt.service_accounts.as_ref()),
        bootstrap_secrets: rt.bootstrap_secrets.as_deref(),
        anonymous: false,
        ..Authenticators::default()
    };
    let creds = Credentials { bearer_token: Some(&review.token), ..Credentials::default() };
    match union::authenticate(&authn, &creds, kguard_model::time::now_unix()) {
        union::Verdict::Authenticated { user, by } => {
            let audiences = if by == "service-account" { review.audiences.clone() } else { Vec::new() };
            let body = wire::token_review_response(&review.api_version, Some(&user), &audiences, "");
            (json(StatusCode::OK, &body), Decision::Allowed)
        }
        union::Verdict::Unauthorized(reasons) => {
            let body = wire::token_review_response(&review.api_version, None, &[], &reasons.join("; "));
            (json(StatusCode::OK, &body), Decision::Denied)
        }
    }
}

//! Alert delivery over HTTP, as Falco's `http_output` does it: one POST of Falco's JSON alert per
//! alert to a Falcosidekick-compatible endpoint, retried with exponential backoff on connection
//! errors, 5xx, 408 and 429. No proxy, no redirects: requests go to the given URL only.
//!
//! * [`HttpOutput`]: the client (blocking; `kguard detect --http-output` calls it in line).
//! * [`HttpQueue`]: what `kguard serve` uses: a bounded queue drained by one thread, so that a
//!   slow or absent receiver never holds up the audit webhook. When the queue is full an alert
//!   is dropped and counted ([`Delivery`]), never waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;

/// A Falcosidekick-compatible HTTP endpoint.
pub struct HttpOutput {
    agent: ureq::Agent,
    url: String,
    tries: u32,
    backoff: Duration,
}

impl std::fmt::Debug for HttpOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOutput").field("url", &self.url).field("tries", &self.tries).finish_non_exhaustive()
    }
}

impl HttpOutput {
    /// Tries per alert.
    pub const TRIES: u32 = 3;
    const FIRST_BACKOFF: Duration = Duration::from_millis(200);
    const MAX_BACKOFF: Duration = Duration::from_secs(2);

    /// A client for `url` that trusts Mozilla's roots (webpki-roots) for `https://`.
    ///
    /// # Errors
    /// A URL that is not `http://` or `https://`, or has no host.
    pub fn new(url: &str) -> Result<Self, String> {
        Self::with_roots(url, None)
    }

    /// A client for `url` that trusts only the certificates of `ca_file` (PEM) for `https://`
    /// (Falco's `http_output.ca_bundle`), or Mozilla's roots when `None`.
    ///
    /// # Errors
    /// A URL that is not `http://` or `https://`, or has no host; an unreadable CA file or one
    /// without a certificate.
    pub fn with_roots(url: &str, ca_file: Option<&std::path::Path>) -> Result<Self, String> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("http" | "https")) {
            return Err(format!("{url:?}: only http:// and https:// URLs are supported"));
        }
        let uri: ureq::http::Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(format!("{url:?}: no host"));
        }
        let roots = match ca_file {
            None => ureq::tls::RootCerts::WebPki,
            Some(path) => ureq::tls::RootCerts::from(
                crate::tls::certificates(path)
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .map(|der| ureq::tls::Certificate::from_der(&der).to_owned()),
            ),
        };
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(roots)
            .unversioned_rustls_crypto_provider(crate::tls::provider())
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .user_agent(format!("kguard/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self { agent, url: url.to_owned(), tries: Self::TRIES, backoff: Self::FIRST_BACKOFF })
    }

    /// The endpoint.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs one JSON body, retrying what may succeed later; the error of the last try.
    ///
    /// # Errors
    /// Not delivered after [`Self::TRIES`] tries (or at once for a 4xx other than 408/429).
    pub fn post(&self, body: &str) -> Result<(), String> {
        let mut delay = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.tries {
            let retry =
                match self.agent.post(&self.url).header("Content-Type", "application/json").send(body.as_bytes()) {
                    Ok(resp) => {
                        let status = resp.status();
                        let _ = resp.into_body().read_to_vec();
                        if status.is_success() {
                            return Ok(());
                        }
                        last = format!("HTTP {status}");
                        status.is_server_error() || matches!(status.as_u16(), 408 | 429)
                    }
                    Err(e) => {
                        last = e.to_string();
                        !is_tls_failure(&e)
                    }
                };
            if !retry {
                break;
            }
            if attempt < self.tries {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Self::MAX_BACKOFF);
            }
        }
        Err(last)
    }
}

/// A TLS failure (an untrusted or mismatched certificate, a refused handshake) will fail the
/// same way on the next try: not retried.
fn is_tls_failure(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => true,
        ureq::Error::Io(io) => io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()),
        _ => false,
    }
}

/// What became of the alerts handed to an [`HttpQueue`].
#[derive(Debug, Default)]
pub struct Delivery {
    /// Accepted by the endpoint.
    pub delivered: AtomicU64,
    /// Not accepted after every try.
    pub failed: AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: AtomicU64,
}

/// Alerts waiting for delivery by a background thread; the thread ends (after sending what is
/// queued) when the queue is dropped.
#[derive(Debug)]
pub struct HttpQueue {
    tx: SyncSender<String>,
    counts: Arc<Delivery>,
}

impl HttpQueue {
    /// Starts the delivery thread with room for `capacity` alerts.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn start(output: HttpOutput, capacity: usize, counts: Arc<Delivery>) -> Result<Self, String> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(capacity.max(1));
        let thread_counts = Arc::clone(&counts);
        std::thread::Builder::new()
            .name("kguard-alerts-http".to_owned())
            .spawn(move || {
                for alert in rx {
                    match output.post(&alert) {
                        Ok(()) => {
                            thread_counts.delivered.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            thread_counts.failed.fetch_add(1, Ordering::Relaxed);
                            crate::log(
                                crate::log::Level::Error,
                                &format!(
                                    "alert output {}: not delivered after {} tries: {e}",
                                    output.url, output.tries
                                ),
                            );
                        }
                    }
                }
            })
            .map_err(|e| format!("alert delivery thread: {e}"))?;
        Ok(Self { tx, counts })
    }

    /// Queues one alert (Falco's JSON); `false` when it was dropped (queue full).
    pub fn send(&self, alert: String) -> bool {
        match self.tx.try_send(alert) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kguard_testkit::http_receiver;

    fn bodies(received: Vec<kguard_testkit::Received>) -> Vec<String> {
        received.into_iter().map(|r| String::from_utf8(r.body).unwrap()).collect()
    }

    #[test]
    fn urls_other_than_http_are_refused() {
        assert!(HttpOutput::new("file:///etc/passwd").unwrap_err().contains("only http:// and https://"));
        assert!(HttpOutput::new("http://").is_err());
        assert!(HttpOutput::new("https://sidekick:2801/").is_ok());
    }

    #[test]
    fn retries_server_errors_then_gives_up_on_client_errors() {
        let (url, srv) = http_receiver(vec![503, 200]);
        let out = HttpOutput::new(&url).unwrap();
        out.post(r#"{"rule":"a"}"#).unwrap();
        assert_eq!(bodies(srv.join().unwrap()), vec![r#"{"rule":"a"}"#; 2]);

        let (url, srv) = http_receiver(vec![400]);
        let out = HttpOutput::new(&url).unwrap();
        assert_eq!(out.post("{}").unwrap_err(), "HTTP 400 Bad Request");
        assert_eq!(srv.join().unwrap().len(), 1, "a 400 is not retried");
    }

    #[test]
    fn the_queue_delivers_in_order_and_drops_when_full() {
        let (url, srv) = http_receiver(vec![200, 200, 200]);
        let counts = Arc::new(Delivery::default());
        let q = HttpQueue::start(HttpOutput::new(&url).unwrap(), 16, Arc::clone(&counts)).unwrap();
        for i in 0..3 {
            assert!(q.send(format!("{{\"n\":{i}}}")));
        }
        assert_eq!(bodies(srv.join().unwrap()), vec![r#"{"n":0}"#, r#"{"n":1}"#, r#"{"n":2}"#]);
        for _ in 0..100 {
            if counts.delivered.load(Ordering::Relaxed) == 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(counts.delivered.load(Ordering::Relaxed), 3);

        // Nobody listens: the thread is busy retrying the first alert; one more fits the queue,
        // the rest are dropped at once (the webhook never waits).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let counts = Arc::new(Delivery::default());
        let q = HttpQueue::start(HttpOutput::new(&url).unwrap(), 1, Arc::clone(&counts)).unwrap();
        let started = std::time::Instant::now();
        let accepted = (0..50).filter(|_| q.send("{}".to_owned())).count();
        assert!(started.elapsed() < Duration::from_millis(500), "send never blocks");
        assert!((1..=2).contains(&accepted), "{accepted}");
        assert_eq!(counts.dropped.load(Ordering::Relaxed), 50 - accepted as u64);
    }
}

//! The audit webhook backend's sink: events appended to a JSON-lines file, written and fsynced
//! before the request is answered, with kube-apiserver's log rotation semantics (lumberjack:
//! rotate before a write would exceed the maximum size; backups named
//! `<name>-<UTC time>.<ext>`, optionally gzipped; at most `maxBackups` kept, none older than
//! `maxAgeDays`).
//!
//! One writer thread owns the file. Concurrent requests are committed in groups: the thread takes
//! every batch waiting, writes them, calls `fsync` once, then answers them all — so a 200 always
//! means the events are on disk, and throughput does not pay one fsync per request.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use crate::config::AuditLog;

/// One batch to write: the lines (each ending in `\n`) and where to send the result.
struct Job {
    data: Vec<u8>,
    done: oneshot::Sender<Result<(), String>>,
}

/// A handle to the writer thread.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens (or creates, mode 0600) the log and starts the writer thread.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn start(config: &AuditLog) -> Result<Self, String> {
        let mut log = Log::open(config)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kguard-audit-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        jobs.push(more);
                    }
                    let result = log.write_batch(jobs.iter().map(|j| j.data.as_slice()));
                    for job in jobs {
                        let _ = job.done.send(result.clone());
                    }
                }
            })
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        Ok(Self { tx })
    }

    /// Appends `data` (complete lines) and waits until it is fsynced.
    ///
    /// # Errors
    /// Write, fsync or rotation failures, or a stopped writer.
    pub async fn append(&self, data: Vec<u8>) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Job { data, done }).map_err(|_| "the audit writer has stopped".to_owned())?;
        wait.await.map_err(|_| "the audit writer has stopped".to_owned())?
    }
}

/// The open log file and its rotation settings.
struct Log {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_backups: usize,
    max_age: Option<Duration>,
    compress: bool,
}

fn open_append(path: &Path) -> Result<File, String> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path).map_err(|e| format!("{}: {e}", path.display()))
}

impl Log {
    fn open(config: &AuditLog) -> Result<Self, String> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let file = open_append(&config.path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let max_mb = if config.max_size_mb == 0 { 100 } else { config.max_size_mb };
        Ok(Self {
            path: config.path.clone(),
            file,
            size,
            max_size: max_mb.saturating_mul(1024 * 1024),
            max_backups: config.max_backups,
            max_age: (config.max_age_days > 0).then(|| Duration::from_secs(config.max_age_days.saturating_mul(86_400))),
            compress: config.compress,
        })
    }

    fn write_batch<'a>(&mut self, batches: impl Iterator<Item = &'a [u8]>) -> Result<(), String> {
        for data in batches {
            let len = data.len() as u64;
            if self.size > 0 && self.size.saturating_add(len) > self.max_size {
                self.rotate()?;
            }
            self.file.write_all(data).map_err(|e| format!("{}: {e}", self.path.display()))?;
            self.size = self.size.saturating_add(len);
        }
        self.file.sync_data().map_err(|e| format!("{}: fsync: {e}", self.path.display()))
    }

    /// Renames the current file to its backup name, opens a fresh one, then prunes backups.
    fn rotate(&mut self) -> Result<(), String> {
        self.file.sync_all().map_err(|e| format!("{}: fsync: {e}", self.path.display()))?;
        let backup = backup_name(&self.path, SystemTime::now());
        fs::rename(&self.path, &backup).map_err(|e| format!("rotating {}: {e}", self.path.display()))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
        {
            let _ = d.sync_all();
        }
        if self.compress {
            compress(&backup)?;
        }
        self.prune();
        Ok(())
    }

    /// Removes backups beyond `max_backups` (oldest first) and older than `max_age`.
    fn prune(&self) {
        let mut backups = backups(&self.path);
        backups.sort_by_key(|b| std::cmp::Reverse(b.1)); // newest first
        let now = SystemTime::now();
        for (i, (path, stamp)) in backups.iter().enumerate() {
            let too_many = self.max_backups > 0 && i >= self.max_backups;
            let too_old = self.max_age.is_some_and(|age| now.duration_since(*stamp).is_ok_and(|d| d > age));
            if too_many || too_old {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// `<dir>/<stem>-<2006-01-02T15-04-05.000>.<ext>`, lumberjack's backup name (UTC).
fn backup_name(path: &Path, now: SystemTime) -> PathBuf {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(0);
    let stamp = format!(
        "{}.{:03}",
        kguard_engine::authn::rfc3339(secs).trim_end_matches('Z').replace(':', "-"),
        since.subsec_millis()
    );
    let stem = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{stamp}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{stamp}"),
    };
    path.with_file_name(name)
}

/// The backups of `path` with their timestamps (parsed from the name; the modification time
/// when it cannot be).
fn backups(path: &Path) -> Vec<(PathBuf, SystemTime)> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let stem = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let prefix = format!("{stem}-");
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix) && e.path() != path)
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((e.path(), modified))
        })
        .collect()
}

/// Gzips a rotated file to `<file>.gz` and removes the original.
fn compress(path: &Path) -> Result<(), String> {
    let data = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let out = open_append(&gz)?;
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    enc.write_all(&data).map_err(|e| format!("{}: {e}", gz.display()))?;
    let out = enc.finish().map_err(|e| format!("{}: {e}", gz.display()))?;
    out.sync_all().map_err(|e| format!("{}: {e}", gz.display()))?;
    fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The Events of an `EventList` body, each as the log backend writes it: `kind: Event` and the
/// list's `apiVersion`, then the item's own fields.
///
/// # Errors
/// Not an `audit.k8s.io` `EventList`, or items that are not objects.
pub fn events(body: &[u8]) -> Result<Vec<serde_json::Value>, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
    let kind = value.get("kind").and_then(serde_json::Value::as_str).unwrap_or("");
    let api = value.get("apiVersion").and_then(serde_json::Value::as_str).unwrap_or("");
    if kind != "EventList" || !matches!(api, "audit.k8s.io/v1" | "audit.k8s.io/v1beta1") {
        return Err(format!(
            "expected kind EventList in apiVersion audit.k8s.io/v1, found kind {kind:?} in apiVersion {api:?}"
        ));
    }
    let api = api.to_owned();
    let items = match value {
        serde_json::Value::Object(mut list) => match list.remove("items") {
            None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
            Some(serde_json::Value::Array(items)) => items,
            Some(_) => return Err("items: expected an array of Events".to_owned()),
        },
        _ => return Ok(Vec::new()),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let serde_json::Value::Object(obj) = item else {
                return Err(format!("items[{i}]: expected an Event object"));
            };
            let mut event = serde_json::Map::new();
            event.insert("kind".into(), serde_json::Value::String("Event".into()));
            event.insert("apiVersion".into(), serde_json::Value::String(api.clone()));
            event.extend(obj.into_iter().filter(|(k, _)| k != "kind" && k != "apiVersion"));
            Ok(serde_json::Value::Object(event))
        })
        .collect()
}

/// The JSON lines to append for `events` (one compact line each).
#[must_use]
pub fn lines(events: &[serde_json::Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        // Serializing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, event);
        out.push(b'\n');
    }
    out
}

/// The lines to append for an `EventList` body ([`events`] then [`lines`]), and the number of
/// events.
///
/// # Errors
/// As [`events`].
pub fn event_lines(body: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let events = events(body)?;
    Ok((lines(&events), events.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, max_backups: usize, compress: bool) -> AuditLog {
        AuditLog { path: dir.join("audit.log"), max_size_mb: 1, max_backups, max_age_days: 0, compress }
    }

    #[test]
    fn rotates_keeps_backups_and_compresses() {
        let dir = kguard_testkit::TempDir::new("audit-rotate");
        let mut log = Log::open(&config(dir.path(), 2, true)).unwrap();
        let line = vec![b'x'; 400 * 1024];
        for _ in 0..10 {
            log.write_batch(std::iter::once(line.as_slice())).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        let names: Vec<String> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        let gz = names.iter().filter(|n| n.ends_with(".log.gz")).count();
        assert_eq!(gz, 2, "two compressed backups kept: {names:?}");
        assert!(
            names.iter().all(|n| n == "audit.log" || (n.starts_with("audit-") && n.ends_with(".log.gz"))),
            "{names:?}"
        );
        assert!(fs::metadata(dir.path().join("audit.log")).unwrap().len() <= 1024 * 1024);
    }

    #[test]
    fn backup_names_follow_lumberjack() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let name = backup_name(Path::new("/var/log/audit.log"), t);
        assert_eq!(name, PathBuf::from("/var/log/audit-2023-11-14T22-13-20.123.log"));
    }

    #[test]
    fn event_lists_become_lines() {
        let (lines, n) = event_lines(br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"a","verb":"get"},{"auditID":"b"}]}"#).unwrap();
        assert_eq!(n, 2);
        let text = String::from_utf8(lines).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(
            text.starts_with(r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get"}"#),
            "{text}"
        );
        assert!(event_lines(br#"{"kind":"Event"}"#).unwrap_err().contains("expected kind EventList"));
        assert!(
            event_lines(br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[1]}"#)
                .unwrap_err()
                .contains("items[0]")
        );
    }
}

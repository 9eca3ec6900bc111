//! The audit webhook backend's sink: events appended to a JSON-lines file, written and fsynced
//! before the request is answered, with kube-apiserver's log rotation semantics (lumberjack:
//! rotate before a write would exceed the maximum size; backups named
//! `<name>-<UTC time>.<ext>`, optionally gzipped; at most `maxBackups` kept, none older than
//! `maxAgeDays`).
//!
//! One writer thread owns the file. Concurrent requests are committed in groups: the thread takes
//! every batch waiting, writes them, calls `fsync` once, then answers them all — so a 200 always
//! means the events are on disk, and throughput does not pay one fsync per request.
//!
//! An acknowledged event is on disk, whole, exactly once:
//! * at start, an unfinished last line (a crash mid-write) is cut off, and what an interrupted
//!   rotation or compression left is cleaned up ([`Repair`]);
//! * a batch whose write or fsync fails (a full disk) is cut off again before the error is
//!   answered, so nothing unacknowledged stays and the next batch starts on a line boundary;
//! * rotation links the file to a backup name that cannot exist yet (a counter is added within
//!   the same millisecond) before unlinking it, never replacing a backup; compression writes a
//!   temporary file, fsyncs it and renames it into place before removing the original;
//! * pruning touches only files whose names are this log's backup names;
//! * the log, its backups and the directory kguard creates are private (0600, 0700).

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use crate::ServeError;
use crate::config::AuditLog;

/// One batch to write: the lines (each ending in `\n`) and where to send the result.
struct Job {
    data: Vec<u8>,
    done: oneshot::Sender<Result<(), String>>,
}

/// What a repair of the log did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repair {
    /// Bytes of an unfinished line cut off.
    pub bytes: u64,
    /// Leftover files removed (partial compressions, uncompressed twins, a second link).
    pub removed: u64,
}

/// A handle to the writer thread.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens (or creates, mode 0600) the log, repairs it, and starts the writer thread.
    ///
    /// # Errors
    /// When the directory or the file cannot be created, opened or repaired.
    pub fn start(config: &AuditLog) -> Result<(Self, Repair), ServeError> {
        let err = |message: String| ServeError::AuditLog { path: config.path.clone(), message };
        let (mut log, repair) = Log::open(config).map_err(err)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kguard-audit-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        jobs.push(more);
                    }
                    let chunks: Vec<&[u8]> = jobs.iter().map(|j| j.data.as_slice()).collect();
                    let result = log.write_batch(&chunks);
                    for job in jobs {
                        let _ = job.done.send(result.clone());
                    }
                }
            })
            .map_err(|e| ServeError::Runtime(format!("cannot start the audit writer: {e}")))?;
        Ok((Self { tx }, repair))
    }

    /// Appends `data` (complete lines) and waits until it is fsynced.
    ///
    /// # Errors
    /// Write, fsync or rotation failures (nothing of the batch stays in the log), or a stopped
    /// writer.
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
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn dir_of(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

fn sync_dir(path: &Path) {
    if let Ok(d) = File::open(dir_of(path)) {
        let _ = d.sync_all();
    }
}

/// Cuts `file` back to its last complete line; returns the bytes cut.
fn cut_unfinished_line(file: &mut File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    let mut keep = 0u64;
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    'scan: while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = buf.get_mut(..usize::try_from(end - start).unwrap_or(0)).unwrap_or_default();
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            keep = start + i as u64 + 1;
            break 'scan;
        }
        end = start;
    }
    if keep < len {
        file.set_len(keep)?;
        file.sync_all()?;
    }
    Ok(len - keep)
}

impl Log {
    fn open(config: &AuditLog) -> Result<(Self, Repair), String> {
        let dir = dir_of(&config.path);
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let mut repair = Repair { removed: clean_leftovers(&config.path), ..Repair::default() };
        let mut file = open_append(&config.path)?;
        repair.bytes = cut_unfinished_line(&mut file).map_err(|e| format!("repairing the last line: {e}"))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let max_mb = if config.max_size_mb == 0 { 100 } else { config.max_size_mb };
        let log = Self {
            path: config.path.clone(),
            file,
            size,
            max_size: max_mb.saturating_mul(1024 * 1024),
            max_backups: config.max_backups,
            max_age: (config.max_age_days > 0).then(|| Duration::from_secs(config.max_age_days.saturating_mul(86_400))),
            compress: config.compress,
        };
        Ok((log, repair))
    }

    /// Writes a group of batches and fsyncs once. The whole group is acknowledged or none of it:
    /// on an error the file is cut back to where the group began.
    fn write_batch(&mut self, chunks: &[&[u8]]) -> Result<(), String> {
        let total: u64 = chunks.iter().map(|c| c.len() as u64).sum();
        if self.size > 0 && self.size.saturating_add(total) > self.max_size {
            self.rotate()?;
        }
        let start = self.size;
        let written = chunks.iter().try_for_each(|c| self.file.write_all(c)).and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.size = start.saturating_add(total);
                Ok(())
            }
            Err(e) => {
                let cut = self.file.set_len(start).and_then(|()| self.file.sync_data());
                let note = match cut {
                    Ok(()) => String::new(),
                    Err(c) => {
                        // Whatever is there now gets cut at the next start; keep the size honest.
                        self.size = self.file.metadata().map(|m| m.len()).unwrap_or(start);
                        format!("; cutting the partial write failed too: {c}")
                    }
                };
                Err(format!("{}: {e}{note}", self.path.display()))
            }
        }
    }

    /// Moves the current file to a new backup name, opens a fresh one, then compresses and prunes.
    fn rotate(&mut self) -> Result<(), String> {
        self.file.sync_all().map_err(|e| format!("{}: fsync: {e}", self.path.display()))?;
        let backup = link_backup(&self.path, SystemTime::now())?;
        fs::remove_file(&self.path).map_err(|e| format!("rotating {}: {e}", self.path.display()))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        sync_dir(&self.path);
        if self.compress {
            compress(&backup)?;
        }
        self.prune();
        Ok(())
    }

    /// Removes backups beyond `max_backups` (oldest first) and older than `max_age`; only files
    /// named as this log's backups.
    fn prune(&self) {
        let mut backups = backups(&self.path);
        backups.sort_by_key(|b| std::cmp::Reverse(b.1)); // newest first
        let now = SystemTime::now();
        for (i, (path, stamp)) in backups.iter().enumerate() {
            let too_many = self.max_backups > 0 && i >= self.max_backups;
            let too_old = self.max_age.is_some_and(|age| now.duration_since(stamp.time).is_ok_and(|d| d > age));
            if too_many || too_old {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// `<stem>-<2006-01-02T15-04-05.000>[-N].<ext>`, lumberjack's backup name (UTC) with a counter
/// when the millisecond is taken.
fn backup_name(path: &Path, now: SystemTime, n: u32) -> PathBuf {
    let nanos = now.duration_since(UNIX_EPOCH).map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
    let stamp = kguard_model::time::format_rfc3339_millis(nanos).trim_end_matches('Z').replace(':', "-");
    let (stem, ext) = stem_ext(path);
    let counter = if n == 0 { String::new() } else { format!("-{n}") };
    match ext {
        Some(ext) => path.with_file_name(format!("{stem}-{stamp}{counter}.{ext}")),
        None => path.with_file_name(format!("{stem}-{stamp}{counter}")),
    }
}

fn stem_ext(path: &Path) -> (String, Option<String>) {
    let stem = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    (stem, path.extension().map(|e| e.to_string_lossy().into_owned()))
}

/// Links the log to a backup name no file has (checked by the link itself, which never
/// replaces), and returns it.
fn link_backup(path: &Path, now: SystemTime) -> Result<PathBuf, String> {
    for n in 0..1000 {
        let backup = backup_name(path, now, n);
        let gz = PathBuf::from(format!("{}.gz", backup.display()));
        if gz.exists() {
            continue;
        }
        match fs::hard_link(path, &backup) {
            Ok(()) => return Ok(backup),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("rotating {} to {}: {e}", path.display(), backup.display())),
        }
    }
    Err(format!("rotating {}: no free backup name", path.display()))
}

/// When a backup was rotated out, from its name; and its counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Stamp {
    time: SystemTime,
    n: u32,
}

/// The stamp of `name` if it is one of `path`'s backup names (`.gz` or not; `.gz.tmp` when
/// `partial`).
fn parse_backup(path: &Path, name: &str, partial: bool) -> Option<Stamp> {
    let (stem, ext) = stem_ext(path);
    let mut rest = name.strip_prefix(&stem)?.strip_prefix('-')?;
    rest = if partial { rest.strip_suffix(".gz.tmp")? } else { rest.strip_suffix(".gz").unwrap_or(rest) };
    if let Some(ext) = &ext {
        rest = rest.strip_suffix(ext.as_str())?.strip_suffix('.')?;
    }
    // 2006-01-02T15-04-05.000 is 23 characters; an optional -N follows.
    let (stamp, counter) = (rest.get(..23)?, rest.get(23..)?);
    let n = match counter.strip_prefix('-') {
        None if counter.is_empty() => 0,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok()?,
        _ => return None,
    };
    let bytes = stamp.as_bytes();
    let shape = bytes.iter().enumerate().all(|(i, b)| match i {
        4 | 7 | 13 | 16 => *b == b'-',
        10 => *b == b'T',
        19 => *b == b'.',
        _ => b.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    let rfc3339 = format!("{}:{}:{}Z", stamp.get(..13)?, stamp.get(14..16)?, stamp.get(17..)?);
    let nanos = kguard_model::time::parse_rfc3339_nanos(&rfc3339).ok()?;
    let time = UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).ok()?);
    Some(Stamp { time, n })
}

/// This log's backups (compressed or not) with their stamps.
fn backups(path: &Path) -> Vec<(PathBuf, Stamp)> {
    let Ok(entries) = fs::read_dir(dir_of(path)) else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            parse_backup(path, &name, false).map(|s| (e.path(), s))
        })
        .collect()
}

/// Removes what an interrupted rotation or compression left: partial `.gz.tmp` files, an
/// uncompressed backup whose `.gz` is complete, and a backup link of the current file itself
/// (a crash between linking and unlinking). Returns how many files were removed.
fn clean_leftovers(path: &Path) -> u64 {
    let mut removed = 0;
    let Ok(entries) = fs::read_dir(dir_of(path)) else { return 0 };
    let current = fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let p = e.path();
        let leftover = if parse_backup(path, &name, true).is_some() {
            true
        } else if parse_backup(path, &name, false).is_some() && !name.ends_with(".gz") {
            let gz_done = PathBuf::from(format!("{}.gz", p.display())).exists();
            let same_file = current.is_some() && fs::metadata(&p).ok().map(|m| (m.dev(), m.ino())) == current;
            if same_file {
                // The rotation linked the backup but did not unlink the log: keep the backup name,
                // the current name is removed instead (it reopens empty).
                if fs::remove_file(path).is_ok() {
                    removed += 1;
                }
                false
            } else {
                gz_done
            }
        } else {
            false
        };
        if leftover && fs::remove_file(&p).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(path);
    }
    removed
}

/// Gzips a rotated file to `<file>.gz` (through a temporary file, fsynced, renamed) and removes
/// the original.
fn compress(path: &Path) -> Result<(), String> {
    let data = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let tmp = PathBuf::from(format!("{}.gz.tmp", path.display()));
    let out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    enc.write_all(&data).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let out = enc.finish().map_err(|e| format!("{}: {e}", tmp.display()))?;
    out.sync_all().map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, &gz).map_err(|e| format!("{}: {e}", gz.display()))?;
    sync_dir(&gz);
    fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    sync_dir(path);
    Ok(())
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

    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        n.sort();
        n
    }

    #[test]
    fn rotates_keeps_backups_and_compresses() {
        let dir = kguard_testkit::TempDir::new("audit-rotate");
        let (mut log, _) = Log::open(&config(dir.path(), 2, true)).unwrap();
        let line = vec![b'x'; 400 * 1024];
        for _ in 0..10 {
            log.write_batch(&[line.as_slice()]).unwrap();
        }
        let names = names(dir.path());
        let gz = names.iter().filter(|n| n.ends_with(".log.gz")).count();
        assert_eq!(gz, 2, "two compressed backups kept: {names:?}");
        assert!(
            names.iter().all(|n| n == "audit.log" || (n.starts_with("audit-") && n.ends_with(".log.gz"))),
            "{names:?}"
        );
        assert!(fs::metadata(dir.path().join("audit.log")).unwrap().len() <= 1024 * 1024);
    }

    #[test]
    fn rotations_within_one_millisecond_never_replace_a_backup() {
        let dir = kguard_testkit::TempDir::new("audit-collide");
        let (mut log, _) = Log::open(&config(dir.path(), 0, false)).unwrap();
        // Every batch rotates: 600 KiB into a 1 MiB file, many times within a few milliseconds.
        let mut written = 0u64;
        for i in 0..20u8 {
            let mut line = vec![b'a' + i; 600 * 1024];
            *line.last_mut().unwrap() = b'\n';
            log.write_batch(&[line.as_slice()]).unwrap();
            written += line.len() as u64;
        }
        let total: u64 = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        assert_eq!(total, written, "no batch lost to a replaced backup: {:?}", names(dir.path()));
        assert_eq!(names(dir.path()).len(), 20);
    }

    #[test]
    fn pruning_leaves_files_that_are_not_backups() {
        let dir = kguard_testkit::TempDir::new("audit-prune");
        for other in ["audit-policy.yaml", "audit-webhook.kubeconfig", "audit-notes.log", "audit-2023-11-14.log"] {
            fs::write(dir.path().join(other), "keep me").unwrap();
        }
        let (mut log, _) = Log::open(&config(dir.path(), 1, false)).unwrap();
        let line = vec![b'x'; 700 * 1024];
        for _ in 0..4 {
            log.write_batch(&[line.as_slice()]).unwrap();
        }
        let names = names(dir.path());
        for other in ["audit-policy.yaml", "audit-webhook.kubeconfig", "audit-notes.log", "audit-2023-11-14.log"] {
            assert!(names.iter().any(|n| n == other), "{other} was pruned: {names:?}");
        }
        assert_eq!(names.iter().filter(|n| parse_backup(&dir.path().join("audit.log"), n, false).is_some()).count(), 1);
    }

    #[test]
    fn start_cuts_a_torn_line_and_cleans_interrupted_rotations() {
        let dir = kguard_testkit::TempDir::new("audit-repair");
        let path = dir.path().join("audit.log");
        fs::write(&path, "{\"a\":1}\n{\"b\":2}\n{\"c\":").unwrap();
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let backup = backup_name(&path, t, 0);
        fs::write(&backup, "old\n").unwrap();
        fs::write(format!("{}.gz", backup.display()), "complete gz").unwrap();
        fs::write(format!("{}.gz.tmp", backup_name(&path, t, 1).display()), "partial").unwrap();
        fs::write(backup_name(&path, t, 2), "uncompressed, no gz\n").unwrap();
        let (mut log, repair) = Log::open(&config(dir.path(), 0, true)).unwrap();
        assert_eq!(repair, Repair { bytes: 5, removed: 2 });
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"b\":2}\n");
        log.write_batch(&[b"{\"d\":4}\n"]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"b\":2}\n{\"d\":4}\n", "not glued");
        let names = names(dir.path());
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
        assert!(names.contains(&backup_name(&path, t, 2).file_name().unwrap().to_string_lossy().into_owned()));
        // A torn line with no newline at all is cut to nothing.
        fs::write(&path, "{\"torn").unwrap();
        let (_, repair) = Log::open(&config(dir.path(), 0, true)).unwrap();
        assert_eq!(repair.bytes, 6);
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn a_crash_between_link_and_unlink_keeps_one_copy() {
        let dir = kguard_testkit::TempDir::new("audit-link");
        let path = dir.path().join("audit.log");
        fs::write(&path, "{\"a\":1}\n").unwrap();
        let backup = link_backup(&path, SystemTime::now()).unwrap();
        let (_, repair) = Log::open(&config(dir.path(), 0, false)).unwrap();
        assert_eq!(repair.removed, 1);
        assert_eq!(fs::read_to_string(&backup).unwrap(), "{\"a\":1}\n");
        assert_eq!(fs::metadata(&path).unwrap().len(), 0, "the current name reopens empty");
    }

    #[test]
    fn files_and_directories_are_private() {
        let dir = kguard_testkit::TempDir::new("audit-modes");
        let c = AuditLog {
            path: dir.path().join("sub/audit.log"),
            max_size_mb: 1,
            max_backups: 0,
            max_age_days: 0,
            compress: true,
        };
        let (mut log, _) = Log::open(&c).unwrap();
        let line = vec![b'x'; 700 * 1024];
        for _ in 0..3 {
            log.write_batch(&[line.as_slice()]).unwrap();
        }
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("sub")), 0o700);
        for e in fs::read_dir(dir.path().join("sub")).unwrap() {
            let p = e.unwrap().path();
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }

    #[test]
    fn backup_names_follow_lumberjack_and_parse_back() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let name = backup_name(Path::new("/var/log/audit.log"), t, 0);
        assert_eq!(name, PathBuf::from("/var/log/audit-2023-11-14T22-13-20.123.log"));
        assert_eq!(
            backup_name(Path::new("/var/log/audit.log"), t, 3),
            PathBuf::from("/var/log/audit-2023-11-14T22-13-20.123-3.log")
        );
        let log = Path::new("/var/log/audit.log");
        assert_eq!(parse_backup(log, "audit-2023-11-14T22-13-20.123.log", false), Some(Stamp { time: t, n: 0 }));
        assert_eq!(parse_backup(log, "audit-2023-11-14T22-13-20.123-3.log.gz", false), Some(Stamp { time: t, n: 3 }));
        assert_eq!(parse_backup(log, "audit-2023-11-14T22-13-20.123.log.gz.tmp", true), Some(Stamp { time: t, n: 0 }));
        for not in [
            "audit.log",
            "audit-policy.yaml",
            "audit-2023-11-14T22-13-20.123.yaml",
            "audit-2023-11-14T22:13:20.123.log",
            "audit-2023-11-14T22-13-20.123-x.log",
            "xaudit-2023-11-14T22-13-20.123.log",
        ] {
            assert_eq!(parse_backup(log, not, false), None, "{not}");
        }
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

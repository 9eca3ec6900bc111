//! The files a scan reads, whatever holds them: a root directory on disk ([`Dir`]) or the
//! merged layers of an image ([`crate::image::Layered`]). Paths are relative, `/`-separated,
//! without `.` or `..`; only regular files are read (symlinks are never followed).

use std::path::{Path, PathBuf};

use crate::lang::installed::{Analyzed, MAX_FILES};
use crate::pkgdb::PkgDbError;

/// Read access to a file tree (shared between the threads of one scan).
pub trait Files: Sync {
    /// The contents of the regular file at `rel` (at most [`crate::pkgdb::MAX_DB`] bytes), or
    /// `None` when there is none (absent, a directory, a symlink).
    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, PkgDbError>;
    /// The names of the regular files directly in directory `rel`, sorted.
    fn list(&self, rel: &str) -> Result<Vec<String>, PkgDbError>;
    /// Whether `rel` is a regular file.
    fn is_file(&self, rel: &str) -> bool;
    /// How to name `rel` in messages.
    fn display(&self, rel: &str) -> String;
    /// A path on disk holding `rel`, where there is one (a database library needs a file).
    fn on_disk(&self, _rel: &str) -> Option<PathBuf> {
        None
    }
    /// Every file of the tree that `keep` accepts, given its path and whether it is
    /// executable, sorted by path, with that flag. At most
    /// [`crate::lang::installed::MAX_FILES`]; `proc`, `sys`, `dev` at the root and `.git`
    /// directories are not entered (Trivy's default skips).
    fn walk(&self, keep: &dyn Fn(&str, bool) -> bool) -> Result<Vec<(String, bool)>, PkgDbError>;
    /// What the archive or executable at `rel` holds (see
    /// [`crate::lang::installed::analyze_bytes`]); `None` when it is neither.
    fn analyze(&self, rel: &str) -> Result<Option<Analyzed>, PkgDbError> {
        Ok(self.read(rel)?.and_then(|b| crate::lang::installed::analyze_bytes(rel, &b)))
    }
}

/// Whether a walk from the root skips directory `rel`.
pub(crate) fn skipped_dir(rel: &str) -> bool {
    matches!(rel, "proc" | "sys" | "dev") || rel.rsplit('/').next() == Some(".git")
}

/// A root directory on disk.
#[derive(Debug, Clone, Copy)]
pub struct Dir<'a>(pub &'a Path);

impl Dir<'_> {
    /// `root/rel` for a relative path made only of normal components.
    #[must_use]
    pub fn join(&self, rel: &str) -> PathBuf {
        let mut p = self.0.to_path_buf();
        for c in rel.split('/').filter(|c| !c.is_empty() && *c != "." && *c != "..") {
            p.push(c);
        }
        p
    }

    /// [`Dir::join`] when no directory on the way from the root to `rel` is a symlink, so that
    /// nothing is read through a link that may point out of the root; `None` otherwise (or
    /// when one is missing).
    fn inside(&self, rel: &str) -> Option<PathBuf> {
        let mut p = self.0.to_path_buf();
        let mut parts = rel.split('/').filter(|c| !c.is_empty() && *c != "." && *c != "..").peekable();
        while let Some(c) = parts.next() {
            p.push(c);
            if parts.peek().is_some() && !std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                return None;
            }
        }
        Some(p)
    }

    /// Opens the regular file at `rel` when no symlink is on the way to it (nor is it one):
    /// with its length, or `None` (absent, a symlink on the way, not a regular file). On Linux
    /// one `openat2(RESOLVE_NO_SYMLINKS)` has the kernel check the whole path; elsewhere, or
    /// where it finds a symlink (perhaps in the root's own path) or is refused, each directory
    /// below the root is checked first.
    fn open_file(&self, rel: &str) -> std::io::Result<Option<(std::fs::File, u64)>> {
        #[cfg(target_os = "linux")]
        if let Some(found) = self.open_beneath(rel)? {
            return Ok(found);
        }
        let Some(path) = self.inside(rel) else { return Ok(None) };
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some((std::fs::File::open(&path)?, m.len()))),
            Ok(_) => Ok(None),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Dir::open_file`] by `openat2`; `Ok(None)` when that cannot decide (the kernel does not
    /// offer it, or a symlink is on the way, which may be in the root's own path): then the
    /// caller checks the directories itself.
    #[cfg(target_os = "linux")]
    fn open_beneath(&self, rel: &str) -> std::io::Result<Option<Option<(std::fs::File, u64)>>> {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        use rustix::io::Errno;
        let path = self.join(rel);
        if path.as_os_str() == self.0.as_os_str() {
            return Ok(Some(None));
        }
        // Non-blocking, so that a FIFO at the path cannot stall the open; nothing but a
        // regular file is read.
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        match rustix::fs::openat2(rustix::fs::CWD, &path, flags, Mode::empty(), ResolveFlags::NO_SYMLINKS) {
            Ok(fd) => {
                let f = std::fs::File::from(fd);
                let m = f.metadata()?;
                Ok(Some(m.is_file().then_some((f, m.len()))))
            }
            Err(Errno::NOENT | Errno::NOTDIR) => Ok(Some(None)),
            Err(Errno::LOOP | Errno::NOSYS | Errno::PERM | Errno::INVAL | Errno::XDEV) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl Files for Dir<'_> {
    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, PkgDbError> {
        let io = |e| PkgDbError::Io(self.join(rel).display().to_string(), e);
        let Some((f, len)) = self.open_file(rel).map_err(io)? else { return Ok(None) };
        // Sized once: growing by doubling would copy and fault in fresh pages for large files.
        let mut buf = Vec::with_capacity(usize::try_from(len.min(crate::pkgdb::MAX_DB)).unwrap_or(0) + 1);
        std::io::Read::read_to_end(&mut std::io::Read::take(f, crate::pkgdb::MAX_DB), &mut buf).map_err(io)?;
        Ok(Some(buf))
    }

    fn list(&self, rel: &str) -> Result<Vec<String>, PkgDbError> {
        let Some(dir) = self.inside(rel) else { return Ok(Vec::new()) };
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            _ => return Ok(Vec::new()),
        }
        let rd = std::fs::read_dir(&dir).map_err(|e| PkgDbError::Io(dir.display().to_string(), e))?;
        let mut out: Vec<String> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        out.sort();
        Ok(out)
    }

    fn is_file(&self, rel: &str) -> bool {
        self.inside(rel).is_some_and(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
    }

    fn display(&self, rel: &str) -> String {
        self.join(rel).display().to_string()
    }

    fn on_disk(&self, rel: &str) -> Option<PathBuf> {
        let p = self.inside(rel)?;
        std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()).then_some(p)
    }

    fn walk(&self, keep: &dyn Fn(&str, bool) -> bool) -> Result<Vec<(String, bool)>, PkgDbError> {
        let mut out = Vec::new();
        let mut stack = vec![String::new()];
        let mut visited = 0usize;
        while let Some(rel_dir) = stack.pop() {
            let dir = self.join(&rel_dir);
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for entry in rd.flatten() {
                visited += 1;
                if visited > MAX_FILES * 4 || out.len() >= MAX_FILES {
                    return Err(PkgDbError::Io(
                        self.0.display().to_string(),
                        std::io::Error::other(format!("more than {} entries; walk stopped", MAX_FILES * 4)),
                    ));
                }
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
                let rel = if rel_dir.is_empty() { name } else { format!("{rel_dir}/{name}") };
                let Ok(ft) = entry.file_type() else { continue };
                if ft.is_dir() {
                    if !skipped_dir(&rel) {
                        stack.push(rel);
                    }
                } else if ft.is_file() {
                    let exec = entry.metadata().is_ok_and(|m| is_executable(&m));
                    if keep(&rel, exec) {
                        out.push((rel, exec));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn analyze(&self, rel: &str) -> Result<Option<Analyzed>, PkgDbError> {
        let io = |e| PkgDbError::Io(self.join(rel).display().to_string(), e);
        let Some((mut f, len)) = self.open_file(rel).map_err(io)? else { return Ok(None) };
        let archive = crate::lang::installed::is_analyzed_archive(rel);
        // Look at the first bytes before reading a whole executable.
        let mut head = Vec::with_capacity(4);
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut f, 4), &mut head).map_err(io)?;
        if !archive && !crate::lang::rustbinary::is_binary_format(&head) {
            return Ok(None);
        }
        if len > crate::pkgdb::MAX_DB {
            return Ok(Some(Analyzed::Failed(format!("larger than {} bytes; not read", crate::pkgdb::MAX_DB))));
        }
        if !archive {
            // An executable: only its headers and the sections that hold packages are read.
            let data = crate::image::Window::new(std::sync::Arc::new(f), 0, len);
            return Ok(crate::lang::installed::analyze_executable(&object::ReadCache::new(data)));
        }
        let mut buf = head;
        std::io::Read::read_to_end(&mut std::io::Read::take(f, crate::pkgdb::MAX_DB), &mut buf).map_err(io)?;
        Ok(crate::lang::installed::analyze_bytes(rel, &buf))
    }
}

#[cfg(unix)]
fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_m: &std::fs::Metadata) -> bool {
    false
}

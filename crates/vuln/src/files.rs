//! The files a scan reads, whatever holds them: a root directory on disk ([`Dir`]) or the
//! merged layers of an image ([`crate::image::Layered`]). Paths are relative, `/`-separated,
//! without `.` or `..`; only regular files are read (symlinks are never followed).

use std::path::{Path, PathBuf};

use crate::pkgdb::PkgDbError;

/// Read access to a file tree.
pub trait Files {
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
}

impl Files for Dir<'_> {
    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, PkgDbError> {
        let path = self.join(rel);
        let io = |e| PkgDbError::Io(path.display().to_string(), e);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Ok(None),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
                return Ok(None);
            }
            Err(e) => return Err(io(e)),
        }
        let f = std::fs::File::open(&path).map_err(io)?;
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(f, crate::pkgdb::MAX_DB), &mut buf).map_err(io)?;
        Ok(Some(buf))
    }

    fn list(&self, rel: &str) -> Result<Vec<String>, PkgDbError> {
        let dir = self.join(rel);
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
        std::fs::symlink_metadata(self.join(rel)).is_ok_and(|m| m.is_file())
    }

    fn display(&self, rel: &str) -> String {
        self.join(rel).display().to_string()
    }

    fn on_disk(&self, rel: &str) -> Option<PathBuf> {
        let p = self.join(rel);
        std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()).then_some(p)
    }
}

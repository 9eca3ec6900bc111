//! Reading a node's seccomp profile directory (`admission.seccomp.profileDir`; also what
//! `kguard scan --seccomp-root` reads): every file below it, by its path relative to the
//! directory, with its text or why it cannot be read. The profiles are judged by
//! `kguard_seccomp` (pure).
//!
//! What is read, and what refuses the whole directory:
//! - regular files, also through symbolic links (a ConfigMap or Secret volume links each key to
//!   `..data/KEY`); entries whose name begins with `..` (those volumes' atomic-writer
//!   internals) are skipped;
//! - a file that cannot be read, is larger than [`MAX_FILE`], is not UTF-8, or is not a regular
//!   file (a FIFO is never opened) is kept with its error: a pod naming it is denied, the others
//!   are unaffected;
//! - a directory (or subdirectory) that cannot be listed, more than [`MAX_FILES`] files, or
//!   directories nested deeper than [`MAX_DEPTH`] (a symbolic-link loop) refuse the whole
//!   directory: judging pods against part of it would call present profiles missing.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use kguard_seccomp::Arch;
use kguard_seccomp::kubelet::NodeProfiles;

/// The largest profile read (moby's default profile is 18 KiB).
pub const MAX_FILE: u64 = 8 << 20;
/// The most files a profile directory may hold.
pub const MAX_FILES: usize = 10_000;
/// The deepest directory nesting followed.
pub const MAX_DEPTH: usize = 16;

/// The kubelet's default profile directory (`<root-dir>/seccomp`), against which
/// `localhostProfile` is resolved and which messages name.
pub const KUBELET_ROOT: &str = "/var/lib/kubelet/seccomp";

/// The files below `dir`: (path relative to `dir`, path) in sorted order.
///
/// # Errors
/// `dir` or a subdirectory cannot be listed, too many files, nesting too deep.
pub fn list(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(format!("{}: directories nested deeper than {MAX_DEPTH} (a symbolic-link loop?)", d.display()));
        }
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", d.display()))?;
            if entry.file_name().to_string_lossy().starts_with("..") {
                continue;
            }
            let path = entry.path();
            // Followed through symbolic links; a dangling link is a file that cannot be read.
            if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                stack.push((path, depth + 1));
                continue;
            }
            let rel = path.strip_prefix(dir).map(|r| r.to_string_lossy().into_owned()).unwrap_or_default();
            out.push((rel, path));
            if out.len() > MAX_FILES {
                return Err(format!("{}: more than {MAX_FILES} files", dir.display()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one profile file: its text, or why not.
fn read_file(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    if meta.len() > MAX_FILE {
        return Err(format!("larger than {} MiB ({} bytes)", MAX_FILE >> 20, meta.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!("larger than {} MiB", MAX_FILE >> 20));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
}

/// Reads the profile directory `dir` of a node of architecture `arch` (default: this machine's).
///
/// # Errors
/// As [`list`].
pub fn read_dir(dir: &Path, arch: Option<Arch>) -> Result<NodeProfiles, String> {
    let files: BTreeMap<String, Result<String, String>> =
        list(dir)?.into_iter().map(|(rel, path)| (rel, read_file(&path))).collect();
    Ok(NodeProfiles {
        root: KUBELET_ROOT.to_owned(),
        display: dir.display().to_string(),
        files,
        arch: arch.or_else(Arch::native),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_links_and_what_is_refused() {
        let d = kguard_testkit::TempDir::new("serve-seccomp-dir");
        let root = d.path();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::write(root.join("a.json"), "{}").unwrap();
        std::fs::write(root.join("sub/deeper/b.json"), "{}").unwrap();
        std::fs::write(root.join("binary.json"), [0xff, 0xfe]).unwrap();
        // a ConfigMap volume's layout: KEY -> ..data/KEY, ..data -> ..2024_timestamp
        std::fs::create_dir(root.join("..2024_01_01")).unwrap();
        std::fs::write(root.join("..2024_01_01/cm.json"), "{\"defaultAction\":\"SCMP_ACT_ERRNO\"}").unwrap();
        std::os::unix::fs::symlink("..2024_01_01", root.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/cm.json", root.join("cm.json")).unwrap();
        std::os::unix::fs::symlink("nowhere.json", root.join("dangling.json")).unwrap();
        // a FIFO is listed but never opened (opening it would block)
        let fifo = std::process::Command::new("mkfifo").arg(root.join("pipe.json")).status().is_ok_and(|s| s.success());
        let node = read_dir(root, Some(Arch::X86_64)).unwrap();
        let mut keys: Vec<&str> = node.files.keys().map(String::as_str).collect();
        if fifo {
            assert_eq!(node.files["pipe.json"], Err("not a regular file".to_owned()));
            keys.retain(|k| *k != "pipe.json");
        }
        assert_eq!(keys, ["a.json", "binary.json", "cm.json", "dangling.json", "sub/deeper/b.json"]);
        assert_eq!(node.files["cm.json"].as_deref(), Ok("{\"defaultAction\":\"SCMP_ACT_ERRNO\"}"));
        assert_eq!(node.files["binary.json"], Err("not UTF-8 text".to_owned()));
        assert!(node.files["dangling.json"].as_ref().is_err_and(|e| e.contains("No such file")));
        assert_eq!((node.root.as_str(), node.arch), (KUBELET_ROOT, Some(Arch::X86_64)));
        // what refuses the whole directory
        assert!(read_dir(&root.join("missing"), None).unwrap_err().contains("No such file"));
        assert!(read_dir(&root.join("a.json"), None).unwrap_err().ends_with("a.json: not a directory"));
        std::os::unix::fs::symlink(".", root.join("sub/loop")).unwrap();
        assert!(read_dir(root, None).unwrap_err().contains("nested deeper than 16"));
    }
}

//! Reading a node's AppArmor profiles (`admission.apparmor.profiles`; also what `kguard scan
//! --apparmor-profiles` reads): a file is the node's loaded-profile list (a copy of
//! `/sys/kernel/security/apparmor/profiles`, `name (mode)` a line); a directory holds the profile
//! sources the node loads (as `/etc/apparmor.d`): each regular file at its top (subdirectories
//! are include targets: `abstractions/`, `tunables/`, `local/` …; names `apparmor_parser`
//! skips are skipped) is parsed with that directory as the include search directory. A source
//! that does not parse is kept as an error (its profiles are unknown); a file or directory that
//! cannot be read is an error for the whole set. The profiles are judged by
//! `kguard_apparmor::node` (pure).

use std::path::Path;

use kguard_apparmor::node::NodeProfiles;
use kguard_apparmor::scan::{Entry, Fs, skipped_entry};

/// The largest file read (lists and sources).
pub const MAX_FILE: u64 = 8 << 20;
/// The most source files a directory may hold.
pub const MAX_FILES: usize = 10_000;

/// Reads includes from the file system (regular files up to [`MAX_FILE`], directories).
pub struct RealFs;

impl Fs for RealFs {
    fn entry(&self, path: &str) -> Option<Entry> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_dir() {
            let names = std::fs::read_dir(path).ok()?.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
            Some(Entry::Dir(names))
        } else if meta.is_file() && meta.len() <= MAX_FILE {
            std::fs::read(path).ok().map(Entry::File)
        } else {
            None
        }
    }
}

fn read_text(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_FILE {
        return Err(format!("{}: larger than {} MiB", path.display(), MAX_FILE >> 20));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))
}

/// Reads a node's profiles from `path` (a loaded-profile list or a directory of sources).
///
/// # Errors
/// `path` (or a list, or the directory's listing) cannot be read, or more than [`MAX_FILES`]
/// sources.
pub fn read(path: &Path) -> Result<NodeProfiles, String> {
    let display = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| format!("{display}: {e}"))?;
    if !meta.is_dir() {
        return Ok(NodeProfiles::from_loaded(&display, &read_text(path)?));
    }
    let mut names: Vec<String> = std::fs::read_dir(path)
        .map_err(|e| format!("{display}: {e}"))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !skipped_entry(n))
        .filter(|n| std::fs::metadata(path.join(n)).is_ok_and(|m| m.is_file()))
        .collect();
    if names.len() > MAX_FILES {
        return Err(format!("{display}: more than {MAX_FILES} files"));
    }
    names.sort();
    let search = vec![display.clone()];
    let mut policies = Vec::new();
    let mut errors = Vec::new();
    for n in names {
        let file = path.join(&n);
        let name = file.display().to_string();
        let text = match read_text(&file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let opts = kguard_apparmor::Options { fs: &RealFs, search: &search, base: &display };
        match kguard_apparmor::parse(&name, &text, opts) {
            Ok(p) => policies.push(p),
            Err(e) => errors.push(e.to_string()),
        }
    }
    Ok(NodeProfiles::from_sources(&display, &policies, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_and_sources() {
        let d = kguard_testkit::TempDir::new("serve-apparmor-dir");
        let root = d.path();
        std::fs::write(root.join("list"), "k8s-a (enforce)\nk8s-b (complain)\n").unwrap();
        let n = read(&root.join("list")).unwrap();
        assert_eq!(n.profiles.len(), 2);
        std::fs::create_dir(root.join("src")).unwrap();
        std::fs::create_dir(root.join("src/tunables")).unwrap();
        std::fs::write(root.join("src/tunables/global"), "@{HOME}=/home/\n").unwrap();
        std::fs::write(root.join("src/one"), "include <tunables/global>\nprofile one { /tmp/** r, }\n").unwrap();
        std::fs::write(root.join("src/two"), "profile two flags=(complain) { }\n").unwrap();
        std::fs::write(root.join("src/one.dpkg-old"), "profile old { }\n").unwrap();
        std::fs::write(root.join("src/bad"), "profile bad {\n").unwrap();
        let n = read(&root.join("src")).unwrap();
        let names: Vec<&str> = n.profiles.keys().map(String::as_str).collect();
        assert_eq!(names, ["one", "two"]);
        assert_eq!(n.errors.len(), 1, "{:?}", n.errors);
        assert!(read(&root.join("missing")).is_err());
    }
}

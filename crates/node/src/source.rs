//! Where node checks read files from: the [`Source`] trait (a root directory on the machine,
//! [`crate::host::RootFs`], or files held in memory, [`MemSource`], for tests and fuzzing) and
//! glob(3)-style expansion over it, as `Include` and kube-bench's paths need.

use std::collections::BTreeMap;

/// Files as a node check sees them: absolute paths (`/etc/ssh/sshd_config`), resolved under
/// whatever root the implementation has.
pub trait Source {
    /// The contents of a regular file, or why it cannot be read.
    ///
    /// # Errors
    /// Missing, unreadable, not a regular file, too large or not UTF-8.
    fn read(&self, path: &str) -> Result<String, String>;
    /// Entry names of a directory, sorted (empty when it does not exist).
    fn list_dir(&self, path: &str) -> Vec<String>;
    /// Whether a path exists (file or directory).
    fn exists(&self, path: &str) -> bool;
    /// The target of a symbolic link (`/proc/PID/fd/N` → `socket:[INODE]`), if it is one.
    fn read_link(&self, _path: &str) -> Option<String> {
        None
    }
    /// Permission bits, owner uid and gid of a path, where the source knows them.
    fn mode(&self, _path: &str) -> Option<(u32, u32, u32)> {
        None
    }
}

/// Files held in memory: path → contents. Directories exist implicitly.
#[derive(Clone, Debug, Default)]
pub struct MemSource {
    files: BTreeMap<String, String>,
    links: BTreeMap<String, String>,
    modes: BTreeMap<String, (u32, u32, u32)>,
}

impl MemSource {
    /// An empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: impl Into<String>, contents: impl Into<String>) {
        self.files.insert(path.into(), contents.into());
    }
    /// Adds a symbolic link (it lists in its directory like a file).
    pub fn link(&mut self, path: impl Into<String>, target: impl Into<String>) {
        let path = path.into();
        self.files.entry(path.clone()).or_default();
        self.links.insert(path, target.into());
    }
    /// Sets a path's permission bits, uid and gid.
    pub fn set_mode(&mut self, path: impl Into<String>, mode: u32, uid: u32, gid: u32) {
        self.modes.insert(path.into(), (mode, uid, gid));
    }
}

impl Source for MemSource {
    fn read(&self, path: &str) -> Result<String, String> {
        self.files.get(path).cloned().ok_or_else(|| format!("{path}: No such file or directory"))
    }
    fn list_dir(&self, path: &str) -> Vec<String> {
        let prefix = if path.ends_with('/') { path.to_owned() } else { format!("{path}/") };
        let mut out: Vec<String> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
            .collect();
        out.dedup();
        out.sort();
        out.dedup();
        out
    }
    fn exists(&self, path: &str) -> bool {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.files.contains_key(path) || self.files.keys().any(|k| k.starts_with(&prefix))
    }
    fn read_link(&self, path: &str) -> Option<String> {
        self.links.get(path).cloned()
    }
    fn mode(&self, path: &str) -> Option<(u32, u32, u32)> {
        self.modes.get(path).copied()
    }
}

/// fnmatch(3) without flags: `*`, `?`, `[...]` (with `!`/`^` negation and ranges), `\` escapes.
#[must_use]
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Memoised on (pattern position, name position): a pattern of many `*` against a long name
    // is quadratic at worst, never exponential (a fuzzed `Include /etc/s*****…` hung).
    let mut memo = vec![None; (p.len() + 1) * (n.len() + 1)];
    fn go(p: &[char], n: &[char], pi: usize, ni: usize, memo: &mut [Option<bool>]) -> bool {
        let key = pi * (n.len() + 1) + ni;
        if let Some(Some(known)) = memo.get(key) {
            return *known;
        }
        let rest_n = n.get(ni..).unwrap_or(&[]);
        let result = match p.get(pi) {
            None => rest_n.is_empty(),
            Some('*') => (ni..=n.len()).any(|i| go(p, n, pi + 1, i, memo)),
            Some('?') => !rest_n.is_empty() && go(p, n, pi + 1, ni + 1, memo),
            Some('[') => match rest_n.first() {
                None => false,
                Some(&ch) => {
                    let after_bracket = p.get(pi + 1..).unwrap_or(&[]);
                    match class(after_bracket, ch) {
                        Some((true, after)) => go(p, n, p.len() - after.len(), ni + 1, memo),
                        Some((false, _)) => false,
                        None => ch == '[' && go(p, n, pi + 1, ni + 1, memo),
                    }
                }
            },
            Some('\\') => match p.get(pi + 1) {
                Some(&e) => rest_n.first() == Some(&e) && go(p, n, pi + 2, ni + 1, memo),
                None => rest_n.first() == Some(&'\\') && go(p, n, pi + 1, ni + 1, memo),
            },
            Some(&c) => rest_n.first() == Some(&c) && go(p, n, pi + 1, ni + 1, memo),
        };
        if let Some(slot) = memo.get_mut(key) {
            *slot = Some(result);
        }
        result
    }
    // A bracket expression after its `[`: (matched, rest of the pattern) or None when unclosed.
    fn class(p: &[char], ch: char) -> Option<(bool, &[char])> {
        let mut i = 0;
        let negate = matches!(p.first(), Some('!' | '^'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        loop {
            let c = *p.get(i)?;
            if c == ']' && !first {
                return Some((matched != negate, p.get(i + 1..).unwrap_or(&[])));
            }
            first = false;
            if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
                let hi = *p.get(i + 2)?;
                if c <= ch && ch <= hi {
                    matched = true;
                }
                i += 3;
            } else {
                if c == ch {
                    matched = true;
                }
                i += 1;
            }
        }
    }
    go(&p, &n, 0, 0, &mut memo)
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// glob(3) over a [`Source`]: absolute pattern in, matching paths out, sorted (as glob sorts
/// them); hidden entries only match a pattern component that starts with `.`.
#[must_use]
pub fn glob(src: &dyn Source, pattern: &str) -> Vec<String> {
    let absolute = pattern.starts_with('/');
    let mut current: Vec<String> = vec![if absolute { String::new() } else { ".".to_owned() }];
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let mut next = Vec::new();
        for base in &current {
            let dir = if base.is_empty() { "/".to_owned() } else { base.clone() };
            if has_magic(comp) {
                for name in src.list_dir(&dir) {
                    if name.starts_with('.') && !comp.starts_with('.') {
                        continue;
                    }
                    if fnmatch(comp, &name) {
                        next.push(format!("{base}/{name}"));
                    }
                }
            } else {
                let unescaped = comp.replace('\\', "");
                let path = format!("{base}/{unescaped}");
                if !last || src.exists(&path) {
                    next.push(path);
                }
            }
        }
        current = next;
    }
    let mut out: Vec<String> = current
        .into_iter()
        .filter(|p| src.exists(p))
        .map(|p| if absolute { p } else { p.trim_start_matches("./").to_owned() })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_basics() {
        assert!(fnmatch("*.conf", "10-a.conf"));
        assert!(!fnmatch("*.conf", "10-a.conf~"));
        assert!(fnmatch("sshd_config.i.*", "sshd_config.i.0"));
        assert!(fnmatch("a[0-9]?", "a1x"));
        assert!(!fnmatch("a[!0-9]", "a1"));
        assert!(fnmatch("[", "["));
        assert!(fnmatch("a\\*b", "a*b") && !fnmatch("a\\*b", "axb"));
    }

    #[test]
    fn fnmatch_many_stars_is_not_exponential() {
        let pattern = format!("s{}x", "*".repeat(200));
        let name = "s".repeat(250);
        let start = std::time::Instant::now();
        assert!(!fnmatch(&pattern, &name));
        assert!(fnmatch(&format!("{}y", "*a".repeat(30)), &format!("{}y", "a".repeat(200))));
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "took {:?}", start.elapsed());
    }

    #[test]
    fn glob_sorted_and_missing() {
        let mut m = MemSource::new();
        m.insert("/etc/ssh/sshd_config.d/20-b.conf", "");
        m.insert("/etc/ssh/sshd_config.d/10-a.conf", "");
        m.insert("/etc/ssh/sshd_config.d/.hidden.conf", "");
        assert_eq!(
            glob(&m, "/etc/ssh/sshd_config.d/*.conf"),
            ["/etc/ssh/sshd_config.d/10-a.conf", "/etc/ssh/sshd_config.d/20-b.conf"]
        );
        assert!(glob(&m, "/etc/ssh/nothing-*.conf").is_empty());
        assert_eq!(glob(&m, "/etc/ssh/sshd_config.d/10-a.conf"), ["/etc/ssh/sshd_config.d/10-a.conf"]);
    }
}

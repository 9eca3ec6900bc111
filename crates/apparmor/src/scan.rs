//! The character scanner under the parser: a stack of sources (the file and the files it
//! includes), positions, whitespace and comments, and include resolution through [`Fs`].

use std::sync::Arc;

use kguard_model::Pos;

use crate::error::Error;

/// What the parser needs from a file system to follow `include` (the crate does no I/O itself).
pub trait Fs {
    /// The entry at `path`: a file's bytes, a directory's entry names, or `None` when nothing is
    /// there.
    fn entry(&self, path: &str) -> Option<Entry>;
}

/// One file-system entry as [`Fs::entry`] returns it.
#[derive(Clone, Debug)]
pub enum Entry {
    /// A regular file's bytes.
    File(Vec<u8>),
    /// A directory's entry names (not paths).
    Dir(Vec<String>),
}

/// No file system: every include is missing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFs;

impl Fs for NoFs {
    fn entry(&self, _: &str) -> Option<Entry> {
        None
    }
}

/// File-name suffixes that `apparmor_parser` skips when it includes a directory (package
/// managers' and editors' leftovers).
pub const SKIPPED_SUFFIXES: &[&str] = &[
    ".dpkg-new",
    ".dpkg-old",
    ".dpkg-dist",
    ".dpkg-bak",
    ".dpkg-remove",
    ".pacsave",
    ".pacnew",
    ".rpmnew",
    ".rpmsave",
    ".orig",
    ".rej",
    "~",
];

/// Whether a directory entry is skipped when the directory is included.
#[must_use]
pub fn skipped_entry(name: &str) -> bool {
    name.starts_with('.') || SKIPPED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Most nested includes followed (a loop is caught earlier, by name).
pub const MAX_INCLUDE_DEPTH: usize = 64;
/// Most files included in one parse, all together.
pub const MAX_INCLUDED_FILES: usize = 10_000;

struct Frame {
    file: Arc<str>,
    /// The include path as written, for loop detection.
    key: String,
    chars: Vec<char>,
    i: usize,
    line: u32,
    col: u32,
}

/// The scanner.
pub struct Scanner<'a> {
    frames: Vec<Frame>,
    fs: &'a dyn Fs,
    search: &'a [String],
    base: &'a str,
    included: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner over `text`, named `file`.
    pub fn new(file: Arc<str>, text: &str, fs: &'a dyn Fs, search: &'a [String], base: &'a str) -> Self {
        let frame =
            Frame { file: file.clone(), key: file.to_string(), chars: text.chars().collect(), i: 0, line: 1, col: 1 };
        Self { frames: vec![frame], fs, search, base, included: 0 }
    }

    fn top(&self) -> Option<&Frame> {
        self.frames.last()
    }

    /// Drops exhausted included frames.
    fn settle(&mut self) {
        while self.frames.len() > 1 && self.top().is_some_and(|f| f.i >= f.chars.len()) {
            self.frames.pop();
        }
    }

    /// The current character.
    pub fn cur(&mut self) -> Option<char> {
        self.settle();
        self.top().and_then(|f| f.chars.get(f.i).copied())
    }

    /// The character `k` after the current one, in the current source only.
    #[must_use]
    pub fn peek(&self, k: usize) -> Option<char> {
        self.top().and_then(|f| f.chars.get(f.i + k).copied())
    }

    /// Whether the current source continues with `s`.
    #[must_use]
    pub fn looking_at(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(k, c)| self.peek(k) == Some(c))
    }

    /// Consumes one character.
    pub fn bump(&mut self) -> Option<char> {
        self.settle();
        let f = self.frames.last_mut()?;
        let c = f.chars.get(f.i).copied()?;
        f.i += 1;
        if c == '\n' {
            f.line += 1;
            f.col = 1;
        } else {
            f.col += 1;
        }
        Some(c)
    }

    /// The current file and position.
    #[must_use]
    pub fn here(&self) -> (Arc<str>, Pos) {
        match self.top() {
            Some(f) => (f.file.clone(), Pos::new(f.line, f.col)),
            None => (Arc::from("-"), Pos::new(1, 1)),
        }
    }

    /// An error at the current position.
    #[must_use]
    pub fn error(&self, msg: impl Into<String>) -> Error {
        let (file, pos) = self.here();
        Error { file, pos, message: msg.into() }
    }

    /// Skips whitespace and comments; stops before `#include` (a directive, not a comment).
    pub fn skip_ws(&mut self) {
        loop {
            match self.cur() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('#') => {
                    if self.at_hash_include() {
                        return;
                    }
                    while let Some(c) = self.cur() {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                _ => return,
            }
        }
    }

    /// Whether the current position is `#include` followed by a blank. `#  include` (blanks
    /// after the `#`) is a comment, as in `apparmor_parser`'s lexer: Debian's abstractions
    /// rely on it (`#   include <abstractions/ubuntu-helpers>` in their usage notes).
    #[must_use]
    pub fn at_hash_include(&self) -> bool {
        self.looking_at("#include") && self.peek(8).is_some_and(char::is_whitespace)
    }

    /// Whether the current source is at the end (of everything).
    pub fn at_end(&mut self) -> bool {
        self.cur().is_none()
    }

    /// A mark to come back to (within the current source).
    #[must_use]
    pub fn mark(&self) -> (usize, usize, u32, u32) {
        match self.top() {
            Some(f) => (self.frames.len(), f.i, f.line, f.col),
            None => (0, 0, 1, 1),
        }
    }

    /// Comes back to a mark taken in the current source.
    pub fn reset(&mut self, m: (usize, usize, u32, u32)) {
        if self.frames.len() == m.0
            && let Some(f) = self.frames.last_mut()
        {
            f.i = m.1;
            f.line = m.2;
            f.col = m.3;
        }
    }

    /// How deep the include stack is (1 = the main file).
    #[must_use]
    pub fn depth(&self) -> usize {
        self.frames.len()
    }

    /// Follows an include: `<name>` through the search directories, `"name"` relative to the base
    /// directory (or absolute). A directory includes its files, sorted, skipping
    /// [`SKIPPED_SUFFIXES`]. `if_exists` makes a missing target a no-op.
    pub fn include(&mut self, name: &str, angle: bool, if_exists: bool) -> Result<(), Error> {
        let candidates: Vec<String> = if angle {
            self.search.iter().map(|d| join(d, name)).collect()
        } else if name.starts_with('/') {
            vec![name.to_owned()]
        } else {
            vec![join(self.base, name)]
        };
        let found = candidates.iter().find_map(|p| self.fs.entry(p).map(|e| (p.clone(), e)));
        let Some((path, entry)) = found else {
            if if_exists {
                return Ok(());
            }
            return Err(self.error(format!("Could not open '{name}'")));
        };
        let mut files = Vec::new();
        match entry {
            Entry::File(bytes) => files.push((path.clone(), bytes)),
            Entry::Dir(mut names) => {
                names.sort();
                for n in names.iter().filter(|n| !skipped_entry(n)) {
                    let p = join(&path, n);
                    if let Some(Entry::File(b)) = self.fs.entry(&p) {
                        files.push((p, b));
                    }
                }
            }
        }
        // Pushed in reverse so that the first file is read first.
        for (p, bytes) in files.into_iter().rev() {
            if self.frames.iter().any(|f| f.key == p) {
                // already being read: upstream reads a file once per include chain
                continue;
            }
            if self.frames.len() >= MAX_INCLUDE_DEPTH {
                return Err(self.error(format!("includes nested deeper than {MAX_INCLUDE_DEPTH} at '{name}'")));
            }
            self.included += 1;
            if self.included > MAX_INCLUDED_FILES {
                return Err(self.error(format!("more than {MAX_INCLUDED_FILES} files included")));
            }
            let text = crate::error::decode(&p, bytes)?;
            let file: Arc<str> = Arc::from(p.as_str());
            self.frames.push(Frame { file, key: p, chars: text.chars().collect(), i: 0, line: 1, col: 1 });
        }
        Ok(())
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_owned()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

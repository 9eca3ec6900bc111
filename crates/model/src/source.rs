//! Source positions.

use std::fmt;
use std::sync::Arc;

/// A position in a source file: 1-based line and 1-based column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in Unicode scalar values.
    pub column: u32,
}

impl Pos {
    /// A position from 1-based line and column.
    #[must_use]
    pub const fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A place in an input: the file (as the user named it, `-` for stdin) and a position in it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file path as given on the command line (or found under a given directory).
    pub file: Arc<str>,
    /// The position; `None` when the problem concerns the whole file.
    pub pos: Option<Pos>,
}

impl Location {
    /// A location for a whole file.
    #[must_use]
    pub fn file(file: Arc<str>) -> Self {
        Self { file, pos: None }
    }

    /// A location at a position in a file.
    #[must_use]
    pub fn at(file: Arc<str>, pos: Pos) -> Self {
        Self { file, pos: Some(pos) }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(pos) => write!(f, "{}:{}", self.file, pos),
            None => f.write_str(&self.file),
        }
    }
}

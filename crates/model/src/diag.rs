//! Diagnostics: problems with the input itself (not security findings).

use std::fmt;

use crate::source::{Location, Pos};

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiagnosticLevel {
    /// Shown only in verbose mode (e.g. an unknown kind was skipped).
    Note,
    /// Something suspicious that did not stop the scan of the object (e.g. a duplicate key).
    Warning,
    /// Input that could not be read or understood; the exit code becomes 2.
    Error,
}

impl DiagnosticLevel {
    /// Lower-case name, as printed.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for DiagnosticLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem with the input: where, how bad, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious it is.
    pub level: DiagnosticLevel,
    /// A short stable code, e.g. `yaml-syntax`, `not-utf8`, `duplicate-key`.
    pub code: &'static str,
    /// Where.
    pub location: Location,
    /// What went wrong, in one line.
    pub message: String,
}

impl Diagnostic {
    /// An error diagnostic.
    #[must_use]
    pub fn error(code: &'static str, location: Location, message: impl Into<String>) -> Self {
        Self { level: DiagnosticLevel::Error, code, location, message: message.into() }
    }

    /// A warning diagnostic.
    #[must_use]
    pub fn warning(code: &'static str, location: Location, message: impl Into<String>) -> Self {
        Self { level: DiagnosticLevel::Warning, code, location, message: message.into() }
    }

    /// A note (verbose only).
    #[must_use]
    pub fn note(code: &'static str, location: Location, message: impl Into<String>) -> Self {
        Self { level: DiagnosticLevel::Note, code, location, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {} [{}]", self.location, self.level, self.message, self.code)
    }
}

/// A field of an object or configuration that is missing or holds the wrong thing: which field
/// (a path such as `spec.runAsUser.rule` or `defaults.enforce`; empty for the document itself),
/// what is wrong with it, and where it is written when the input carried positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path.
    pub field: String,
    /// What is wrong (upstream's wording where kguard reproduces it).
    pub message: String,
    /// Where the field (or its nearest existing parent) is written.
    pub pos: Option<Pos>,
}

impl FieldError {
    /// An error about `field`.
    #[must_use]
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), pos: None }
    }

    /// The same error, located.
    #[must_use]
    pub fn at(mut self, pos: Pos) -> Self {
        self.pos = Some(pos);
        self
    }
}

impl fmt::Display for FieldError {
    /// `field: message` (just the message for the document itself); the position is the
    /// renderer's, which knows the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.field, self.message) }
    }
}

impl std::error::Error for FieldError {}

//! Diagnostics: problems with the input itself (not security findings).

use std::fmt;

use crate::source::Location;

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

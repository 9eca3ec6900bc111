//! Parse errors: what `apparmor_parser` would reject, with the file and position.

use std::fmt;
use std::sync::Arc;

use kguard_model::Pos;

/// A profile that does not parse or does not pass the parser's checks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    /// The file (an included file where the problem is there).
    pub file: Arc<str>,
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

impl Error {
    /// The message as `apparmor_parser` prints it for `main` (the file given on its command
    /// line): `AppArmor parser error for MAIN in profile FILE at line N: MESSAGE`.
    #[must_use]
    pub fn upstream(&self, main: &str) -> String {
        format!("AppArmor parser error for {main} in profile {} at line {}: {}", self.file, self.pos.line, self.message)
    }
}

/// Something `apparmor_parser --warn=…` would warn about; the policy still loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub file: Arc<str>,
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

impl Warning {
    /// As `apparmor_parser --warn=deprecated` prints it.
    #[must_use]
    pub fn upstream(&self, main: &str) -> String {
        format!("Warning from {main} ({} line {}): {}", self.file, self.pos.line, self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.pos, self.message)
    }
}

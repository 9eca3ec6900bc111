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

/// Decodes a profile file: the text, or an [`Error`] at the line and column of the first byte
/// that is not UTF-8 (profiles are text; `apparmor_parser` reads bytes, kguard refuses them).
///
/// # Errors
/// The first invalid byte, placed.
pub fn decode(file: &str, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|e| {
        let err = e.utf8_error();
        let bytes = e.as_bytes();
        let good = bytes.get(..err.valid_up_to()).unwrap_or_default();
        // the valid prefix is UTF-8: count its lines and characters
        let prefix = std::str::from_utf8(good).unwrap_or_default();
        let line = u32::try_from(prefix.matches('\n').count() + 1).unwrap_or(u32::MAX);
        let col = u32::try_from(prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1).unwrap_or(u32::MAX);
        let byte = bytes.get(err.valid_up_to()).copied().unwrap_or_default();
        Error {
            file: Arc::from(file),
            pos: Pos::new(line, col),
            message: format!("not UTF-8 text (byte 0x{byte:02x})"),
        }
    })
}

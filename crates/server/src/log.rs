//! The server's log on stderr: one JSON object per line (`ts`, `level`, `msg`) by default, or
//! one text line (`TS LEVEL message`) for people at a terminal; lines below the chosen level
//! (info by default) are not written.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// How much the server logs, from most to least.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Every TLS handshake failure and other per-connection detail.
    Debug = 0,
    /// Start, reloads, state syncs, shutdown (the default).
    Info = 1,
    /// Refused requests, skipped state, dropped alerts.
    Warning = 2,
    /// Failed writes and reloads, internal errors.
    Error = 3,
}

impl Level {
    const fn name(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "debug" => Ok(Self::Debug),
            "info" => Ok(Self::Info),
            "warning" | "warn" => Ok(Self::Warning),
            "error" => Ok(Self::Error),
            other => Err(format!("unknown log level {other:?} (expected debug, info, warning or error)")),
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static TEXT: AtomicBool = AtomicBool::new(false);

/// Sets the least level written and the line format (JSON unless `text`); for the whole process.
pub fn configure(level: Level, text: bool) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    TEXT.store(text, Ordering::Relaxed);
}

/// Whether a line at `level` would be written.
pub(crate) fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// The line for one message, without its newline.
fn line(level: Level, message: &str, text: bool) -> String {
    let ts = kguard_model::time::format_rfc3339_millis(kguard_model::time::now_nanos());
    if text {
        format!("{ts} {:<7} {message}", level.name())
    } else {
        serde_json::json!({"ts": ts, "level": level.name(), "msg": message}).to_string()
    }
}

/// Writes one log line when its level is enabled.
pub(crate) fn log(level: Level, message: &str) {
    if enabled(level) {
        eprintln!("{}", line(level, message, TEXT.load(Ordering::Relaxed)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_order_and_format() {
        assert_eq!("warn".parse::<Level>(), Ok(Level::Warning));
        assert!("verbose".parse::<Level>().unwrap_err().contains("expected debug, info, warning or error"));
        assert!(Level::Debug < Level::Info && Level::Warning < Level::Error);
        let json: serde_json::Value = serde_json::from_str(&line(Level::Warning, "a \"b\"", false)).unwrap();
        assert_eq!((json["level"].as_str(), json["msg"].as_str()), (Some("warning"), Some("a \"b\"")));
        let text = line(Level::Error, "disk full", true);
        assert!(text.ends_with("Z error   disk full"), "{text}");
    }
}

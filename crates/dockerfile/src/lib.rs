//! Dockerfiles: BuildKit's grammar with positions ([`parse`]) and the checks `kguard scan` runs on
//! them ([`RULES`], `DF001`–`DF031`), each the exact decision of the Trivy `DS` check of the same
//! number (Trivy v0.59.1; its ids are the rules' aliases). Pure: text in, findings out; the
//! CLI finds and reads the files (`Dockerfile`, `Dockerfile.*`, `*.Dockerfile`, `Containerfile`,
//! `Containerfile.*`, `*.Containerfile`, as Trivy's config scanner does).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod catalogue;
pub mod checks;
pub mod parse;
pub mod shell;

use std::sync::Arc;

use kguard_model::{Diagnostic, Location};
use kguard_report::Finding;

pub use catalogue::RULES;
pub use parse::{Command, Dockerfile, ParseError, Stage, parse};

/// The family name of the rules (`--select dockerfile`).
pub const FAMILY: &str = "dockerfile";

/// Checks one Dockerfile: its findings (at the instruction's line and column, or about the
/// whole file), or the error that makes it unreadable (as for `docker build` and Trivy: then no
/// finding).
#[must_use]
pub fn check(file: &Arc<str>, text: &str) -> (Vec<Finding>, Vec<Diagnostic>) {
    match parse(text) {
        Err(e) => {
            let location = Location::at(file.clone(), e.pos);
            (Vec::new(), vec![Diagnostic::error("dockerfile-syntax", location, format!("Dockerfile: {}", e.message))])
        }
        Ok(df) => {
            let findings = checks::run(&df)
                .into_iter()
                .map(|hit| {
                    let location = match hit.pos {
                        Some(pos) => Location::at(file.clone(), pos),
                        None => Location::file(file.clone()),
                    };
                    Finding::new(hit.rule, hit.message, None, None, Some(location))
                })
                .collect();
            (findings, Vec::new())
        }
    }
}

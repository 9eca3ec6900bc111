//! Findings and how they are shown.
//!
//! * [`finding`]: the one [`Finding`] type every engine produces, [`Severity`], and [`RuleMeta`]
//!   (what a renderer needs to know about a rule).
//! * One renderer per output format: [`table`], [`json`], [`sarif`], [`junit`].
//!
//! Renderers write to any `std::io::Write`; they never open files themselves.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod finding;

pub use finding::{Finding, Report, RuleMeta, Severity, Summary};

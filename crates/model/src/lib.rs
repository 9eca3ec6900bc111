//! Kubernetes objects as kguard sees them.
//!
//! * [`yaml`]: a YAML/JSON reader that follows Kubernetes' own reading (YAML 1.1 booleans,
//!   legacy octal, merge keys) and keeps the source position of every node.
//! * [`load`]: files, directories and stdin into documents, with diagnostics for what cannot be read.
//! * [`object`]: one Kubernetes object (apiVersion, kind, metadata) with its source.
//! * [`pod`]: typed views of the pod-spec fields security rules read.
//! * [`workload`]: the pod template of each workload kind, containers with their JSON pointers,
//!   effective security contexts.
//! * [`text`]: Go's `%q`, for messages reproduced byte for byte.
//! * [`time`]: RFC 3339 timestamps, parsed and written in one place.
//!
//! This crate does file I/O only in [`load`]; everything else is pure.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod diag;
pub mod load;
pub mod object;
pub mod pod;
mod source;
pub mod text;
pub mod time;
pub mod workload;
pub mod yaml;

pub use diag::{Diagnostic, DiagnosticLevel, FieldError};
pub use object::{Object, ObjectError, ObjectRef};
pub use source::{Location, Pos};
pub use yaml::{Value, YamlNode};

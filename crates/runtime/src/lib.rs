//! Falco's syscall event source, offline: reads scap captures (`.scap`, as written by sysdig,
//! Falco and libscap), keeps libsinsp's thread and fd state, and extracts the `syscall` fields
//! Falco rules use, rendered as libsinsp renders them.
//!
//! * [`scap`]: a streaming, bounded reader of the block format (gzip'd or plain).
//! * [`event`]: the event table (transcribed from falcosecurity/libs `driver/`, MIT) and typed
//!   parameter values.
//! * [`state`]: the [`Inspector`], which applies events to a thread table and an fd table seeded
//!   from the capture's process and fd lists, as libsinsp's parsers do.
//! * [`fields`]: [`fields::SyscallFields`], the `syscall` source for `kguard_detect`, and the
//!   event view it reads.
//! * [`drops`]: Falco's syscall event drop monitoring (`syscall_event_drops`) and its alert.
//! * [`writer`]: writes captures in the same format (section 1.2, current block versions).
//!
//! Pure: callers pass readers or bytes; nothing here opens a file.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod container;
pub mod drops;
pub mod event;
pub mod fields;
pub mod metrics;
pub mod render;
pub mod scap;
pub mod state;
pub mod writer;

pub use state::{Capture, EventView, Inspector};

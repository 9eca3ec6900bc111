//! Typed views of pod specs (filled in by the workloads work).

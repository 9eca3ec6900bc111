//! Risk analysis of an RBAC inventory (filled in below).

use kguard_report::{Finding, RuleMeta};

use super::rbac::Rbac;

/// Every RBAC risk rule.
pub const RULES: &[RuleMeta] = &[];

/// Findings about `rbac`.
#[must_use]
pub fn risks(rbac: &Rbac) -> Vec<Finding> {
    let _ = rbac;
    Vec::new()
}

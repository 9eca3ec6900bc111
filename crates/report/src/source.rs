//! Where a renderer reads the findings from: a slice in memory, or a stream that is not held
//! whole (`kguard scan` keeps a large scan's findings in a sorted file on disk and reads them back
//! once per pass).

use std::io;

use crate::{Finding, Severity};

/// How many findings there are, of each severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// All of them.
    pub total: usize,
    /// By severity, indexed as [`Severity::ALL`] (info first).
    by_severity: [usize; 5],
}

impl Counts {
    /// Counts one finding of `severity`.
    pub fn add(&mut self, severity: Severity) {
        self.total += 1;
        if let Some(n) = self.by_severity.get_mut(severity as usize) {
            *n += 1;
        }
    }

    /// How many findings have exactly this severity.
    #[must_use]
    pub fn of(&self, severity: Severity) -> usize {
        self.by_severity.get(severity as usize).copied().unwrap_or(0)
    }

    /// The counts of `findings`.
    #[must_use]
    pub fn of_findings<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        let mut counts = Self::default();
        for f in findings {
            counts.add(f.severity);
        }
        counts
    }
}

/// Findings a renderer reads in order, as many times as it needs (a renderer that writes a
/// count or a column width before the findings reads them twice).
pub trait FindingSource {
    /// How many findings there are, of each severity.
    fn counts(&self) -> Counts;

    /// Calls `each` with every finding, in order; stops at the first error (of `each`, or of
    /// reading the findings back).
    ///
    /// # Errors
    /// The first error of `each`, or of reading the findings.
    fn for_each(&self, each: &mut dyn FnMut(&Finding) -> io::Result<()>) -> io::Result<()>;
}

impl FindingSource for [Finding] {
    fn counts(&self) -> Counts {
        Counts::of_findings(self)
    }

    fn for_each(&self, each: &mut dyn FnMut(&Finding) -> io::Result<()>) -> io::Result<()> {
        self.iter().try_for_each(each)
    }
}

impl FindingSource for Vec<Finding> {
    fn counts(&self) -> Counts {
        self.as_slice().counts()
    }

    fn for_each(&self, each: &mut dyn FnMut(&Finding) -> io::Result<()>) -> io::Result<()> {
        self.as_slice().for_each(each)
    }
}

/// Calls `each` with every finding of `source` inside a serde serializer: `each`'s own error
/// (the serializer's) comes back as it is, an error reading the findings as a custom one.
///
/// # Errors
/// The first error of `each`, or of reading the findings.
pub fn serialize_each<E: serde::ser::Error>(
    source: &dyn FindingSource,
    mut each: impl FnMut(&Finding) -> Result<(), E>,
) -> Result<(), E> {
    let mut failed = None;
    let read = source.for_each(&mut |f| {
        each(f).map_err(|e| {
            let message = e.to_string();
            failed = Some(e);
            io::Error::other(message)
        })
    });
    match failed {
        Some(e) => Err(e),
        None => read.map_err(E::custom),
    }
}

/// Every finding of `source`, in memory (for the renderers that need them all at once: JUnit,
/// HTML and Markdown group or embed the whole list).
///
/// # Errors
/// An error reading the findings back.
pub fn collect(source: &dyn FindingSource) -> io::Result<Vec<Finding>> {
    let mut all = Vec::with_capacity(source.counts().total);
    source.for_each(&mut |f| {
        all.push(f.clone());
        Ok(())
    })?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_severity() {
        let mut c = Counts::default();
        for s in [Severity::High, Severity::High, Severity::Info, Severity::Critical] {
            c.add(s);
        }
        assert_eq!(c.total, 4);
        assert_eq!(c.of(Severity::High), 2);
        assert_eq!(c.of(Severity::Info), 1);
        assert_eq!(c.of(Severity::Critical), 1);
        assert_eq!(c.of(Severity::Low), 0);
    }
}

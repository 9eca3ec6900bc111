//! The findings of `kguard scan`, sorted, without holding them all: an external merge sort.
//!
//! Findings arrive in the order the scan makes them. Up to [`RUN`] of them are held; then they
//! are sorted and written, compactly encoded, to an unnamed temporary file as one run. A report
//! reads them back ([`FindingSource::for_each`], once per renderer pass) by merging the runs:
//! memory holds one run while scanning, and one finding per run while rendering, whatever the
//! number of findings (a 16 MiB file of pods gives about 900,000). A scan with fewer findings than
//! [`RUN`] never touches the disk.
//!
//! The encoding keeps what a finding shares with others once: rule ids, files, pointers,
//! container names and object references are numbered in tables held in memory (they grow with
//! the distinct values, not with the findings), and the `'static` texts a finding borrows from
//! its rule (title, remediation, references, merged rule ids) are numbered by address, so a
//! finding read back is equal to the one written ([`Finding`]'s `PartialEq`), borrowed parts
//! borrowed again.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use kguard_model::{Location, ObjectRef, Pos};
use kguard_report::{Counts, Finding, FindingSource, Severity};

/// Findings held in memory before they are sorted and written as a run.
pub const RUN: usize = 8_192;

/// How much of a run a reader holds at a time.
const READ_CHUNK: usize = 16 * 1024;

/// The order of a report: by file, position, rule and message (findings without a location
/// first); equal keys keep the order they arrived in.
pub fn sort_key(f: &Finding) -> (Option<(&str, Option<Pos>)>, &str, &str) {
    (f.location.as_ref().map(|l| (&*l.file, l.pos)), &f.rule_id, &f.message)
}

/// Numbers for values that many findings share.
struct Table<T: std::hash::Hash + Eq + Clone> {
    index: HashMap<T, u32>,
    values: Vec<T>,
    /// The value numbered last (findings of one object come together: most lookups are this one).
    last: Option<(T, u32)>,
}

impl<T: std::hash::Hash + Eq + Clone> Default for Table<T> {
    fn default() -> Self {
        Self { index: HashMap::new(), values: Vec::new(), last: None }
    }
}

impl<T: std::hash::Hash + Eq + Clone> Table<T> {
    fn number(&mut self, value: &T) -> u32 {
        if let Some((last, n)) = &self.last
            && last == value
        {
            return *n;
        }
        let n = match self.index.get(value) {
            Some(&n) => n,
            None => {
                let n = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
                self.values.push(value.clone());
                self.index.insert(value.clone(), n);
                n
            }
        };
        self.last = Some((value.clone(), n));
        n
    }

    fn get(&self, n: u32) -> io::Result<&T> {
        self.values.get(n as usize).ok_or_else(|| corrupt("a table number out of range"))
    }
}

/// A `'static` text, numbered by its address and length (two equal texts at different addresses
/// are two entries, which is harmless).
#[derive(Clone, Copy)]
struct StaticStr(&'static str);

impl PartialEq for StaticStr {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}
impl Eq for StaticStr {}
impl std::hash::Hash for StaticStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.0, state);
    }
}

/// A `'static` list of references, numbered by address and length.
#[derive(Clone, Copy)]
struct StaticList(&'static [&'static str]);

impl PartialEq for StaticList {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}
impl Eq for StaticList {}
impl std::hash::Hash for StaticList {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.0, state);
    }
}

#[derive(Default)]
struct Tables {
    /// Rule ids and container names.
    texts: Table<Arc<str>>,
    /// Files.
    files: Table<Arc<str>>,
    /// Pointers.
    pointers: Table<Arc<str>>,
    objects: Table<Arc<ObjectRef>>,
    statics: Table<StaticStr>,
    lists: Table<StaticList>,
}

/// One run in the file: where it starts and how long it is.
#[derive(Clone, Copy, Debug)]
struct Run {
    offset: u64,
    len: u64,
}

/// Findings, sorted, held in memory up to [`RUN`] and on disk beyond.
pub struct Spill {
    held: Vec<Finding>,
    file: Option<File>,
    written: u64,
    runs: Vec<Run>,
    tables: Tables,
    counts: Counts,
    buf: Vec<u8>,
}

impl Default for Spill {
    fn default() -> Self {
        Self::new()
    }
}

impl Spill {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self {
            held: Vec::new(),
            file: None,
            written: 0,
            runs: Vec::new(),
            tables: Tables::default(),
            counts: Counts::default(),
            buf: Vec::new(),
        }
    }

    /// Adds a finding; writes a run when [`RUN`] are held.
    ///
    /// # Errors
    /// The temporary file cannot be made or written.
    pub fn push(&mut self, finding: Finding) -> io::Result<()> {
        self.counts.add(finding.severity);
        self.held.push(finding);
        if self.held.len() >= RUN { self.write_run() } else { Ok(()) }
    }

    /// Sorts what is held; when runs were written, writes it as the last one. Call once, after
    /// the last [`Spill::push`].
    ///
    /// # Errors
    /// The temporary file cannot be written.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.runs.is_empty() {
            self.held.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
            Ok(())
        } else {
            self.write_run()
        }
    }

    /// How many runs are on disk (0: all in memory).
    #[cfg(test)]
    #[must_use]
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    fn write_run(&mut self) -> io::Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        self.held.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(tempfile::tempfile()?),
        };
        let mut out = io::BufWriter::with_capacity(READ_CHUNK, &*file);
        let offset = self.written;
        let mut record = Vec::new();
        for f in self.held.drain(..) {
            record.clear();
            encode(&f, &mut self.tables, &mut record);
            self.buf.clear();
            put_u64(&mut self.buf, record.len() as u64);
            out.write_all(&self.buf)?;
            out.write_all(&record)?;
            self.written += (self.buf.len() + record.len()) as u64;
        }
        out.flush()?;
        self.runs.push(Run { offset, len: self.written - offset });
        self.held.shrink_to(RUN);
        Ok(())
    }
}

impl FindingSource for Spill {
    fn counts(&self) -> Counts {
        self.counts
    }

    fn for_each(&self, each: &mut dyn FnMut(&Finding) -> io::Result<()>) -> io::Result<()> {
        let Some(file) = &self.file else {
            return self.held.iter().try_for_each(each);
        };
        let mut readers: Vec<RunReader<'_>> = self.runs.iter().map(|&run| RunReader::new(file, run)).collect();
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(f) = r.next(&self.tables)? {
                heap.push(Head { finding: f, run: i });
            }
        }
        while let Some(Head { finding, run }) = heap.pop() {
            each(&finding)?;
            if let Some(next) = readers.get_mut(run).map(|r| r.next(&self.tables)).transpose()?.flatten() {
                heap.push(Head { finding: next, run });
            }
        }
        Ok(())
    }
}

/// The next finding of one run, in the merge (a min-heap on the sort key, then the run: earlier
/// runs hold earlier arrivals).
struct Head {
    finding: Finding,
    run: usize,
}

impl Head {
    fn order(&self, other: &Self) -> Ordering {
        sort_key(&self.finding).cmp(&sort_key(&other.finding)).then(self.run.cmp(&other.run))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.order(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    /// Reversed: [`BinaryHeap`] pops the greatest.
    fn cmp(&self, other: &Self) -> Ordering {
        other.order(self)
    }
}

/// Reads one run's records back, a chunk at a time.
struct RunReader<'a> {
    file: &'a File,
    next_read: u64,
    end: u64,
    buf: Vec<u8>,
    at: usize,
}

impl<'a> RunReader<'a> {
    fn new(file: &'a File, run: Run) -> Self {
        Self { file, next_read: run.offset, end: run.offset + run.len, buf: Vec::new(), at: 0 }
    }

    /// Makes at least `n` unread bytes available; false at the end of the run.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.buf.len() - self.at >= n {
            return Ok(true);
        }
        self.buf.drain(..self.at);
        self.at = 0;
        while self.buf.len() < n && self.next_read < self.end {
            let want = usize::try_from(self.end - self.next_read).unwrap_or(usize::MAX).min(READ_CHUNK.max(n));
            let old = self.buf.len();
            self.buf.resize(old + want, 0);
            let got = self.file.read_at(self.buf.get_mut(old..).unwrap_or_default(), self.next_read)?;
            self.buf.truncate(old + got);
            if got == 0 {
                return Err(corrupt("a run ends early"));
            }
            self.next_read += got as u64;
        }
        Ok(self.buf.len() >= n)
    }

    fn next(&mut self, tables: &Tables) -> io::Result<Option<Finding>> {
        if !self.fill(1)? {
            return Ok(None);
        }
        // The record's length (a varint of at most 10 bytes).
        self.fill(10)?;
        let mut r = Reader { bytes: self.buf.get(self.at..).unwrap_or_default() };
        let len = usize::try_from(r.u64()?).map_err(|_| corrupt("a record length"))?;
        let header = self.buf.len() - self.at - r.bytes.len();
        self.at += header;
        if !self.fill(len)? {
            return Err(corrupt("a record ends early"));
        }
        let record = self.buf.get(self.at..self.at + len).ok_or_else(|| corrupt("a record"))?;
        let finding = decode(&mut Reader { bytes: record }, tables)?;
        self.at += len;
        Ok(Some(finding))
    }
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("the scan's temporary findings file is damaged: {what}"))
}

fn put_u64(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A number in a table, or 0 for none.
fn put_opt(out: &mut Vec<u8>, n: Option<u32>) {
    put_u64(out, n.map_or(0, |n| u64::from(n) + 1));
}

#[allow(clippy::ptr_arg)] // whether it is borrowed is what is written
fn put_cow(out: &mut Vec<u8>, tables: &mut Tables, text: &Cow<'static, str>) {
    match text {
        Cow::Borrowed(s) => {
            out.push(0);
            put_u64(out, u64::from(tables.statics.number(&StaticStr(s))));
        }
        Cow::Owned(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

fn encode(f: &Finding, tables: &mut Tables, out: &mut Vec<u8>) {
    let rule = match tables.texts.index.get(f.rule_id.as_str()) {
        Some(&n) => n,
        None => tables.texts.number(&Arc::from(f.rule_id.as_str())),
    };
    put_u64(out, u64::from(rule));
    out.push(f.severity as u8);
    put_cow(out, tables, &f.title);
    put_str(out, &f.message);
    put_opt(out, f.object.as_ref().map(|o| tables.objects.number(o)));
    put_opt(out, f.container.as_ref().map(|c| tables.texts.number(c)));
    put_opt(out, f.pointer.as_ref().map(|p| tables.pointers.number(p)));
    match &f.location {
        None => out.push(0),
        Some(Location { file, pos: None }) => {
            out.push(1);
            put_u64(out, u64::from(tables.files.number(file)));
        }
        Some(Location { file, pos: Some(pos) }) => {
            out.push(2);
            put_u64(out, u64::from(tables.files.number(file)));
            put_u64(out, u64::from(pos.line));
            put_u64(out, u64::from(pos.column));
        }
    }
    match &f.remediation {
        None => out.push(2),
        Some(r) => put_cow(out, tables, r),
    }
    put_u64(out, u64::from(tables.lists.number(&StaticList(f.references))));
    put_u64(out, f.merged.len() as u64);
    for id in &f.merged {
        put_u64(out, u64::from(tables.statics.number(&StaticStr(id))));
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> io::Result<u8> {
        let (&b, rest) = self.bytes.split_first().ok_or_else(|| corrupt("a record ends early"))?;
        self.bytes = rest;
        Ok(b)
    }

    fn u64(&mut self) -> io::Result<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(corrupt("a number too long"))
    }

    fn u32(&mut self) -> io::Result<u32> {
        u32::try_from(self.u64()?).map_err(|_| corrupt("a number out of range"))
    }

    fn opt(&mut self) -> io::Result<Option<u32>> {
        Ok(self.u32()?.checked_sub(1))
    }

    fn string(&mut self) -> io::Result<String> {
        let len = usize::try_from(self.u64()?).map_err(|_| corrupt("a text length"))?;
        if len > self.bytes.len() {
            return Err(corrupt("a text ends early"));
        }
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8(text.to_vec()).map_err(|_| corrupt("a text that is not UTF-8"))
    }

    fn cow(&mut self, tag: u8, tables: &Tables) -> io::Result<Cow<'static, str>> {
        match tag {
            0 => Ok(Cow::Borrowed(tables.statics.get(self.u32()?)?.0)),
            1 => Ok(Cow::Owned(self.string()?)),
            _ => Err(corrupt("a text tag")),
        }
    }
}

fn decode(r: &mut Reader<'_>, tables: &Tables) -> io::Result<Finding> {
    let rule_id = tables.texts.get(r.u32()?)?.to_string();
    let severity = *Severity::ALL.get(usize::from(r.byte()?)).ok_or_else(|| corrupt("a severity"))?;
    let tag = r.byte()?;
    let title = r.cow(tag, tables)?;
    let message = r.string()?;
    let object = r.opt()?.map(|n| tables.objects.get(n).cloned()).transpose()?;
    let container = r.opt()?.map(|n| tables.texts.get(n).cloned()).transpose()?;
    let pointer = r.opt()?.map(|n| tables.pointers.get(n).cloned()).transpose()?;
    let location = match r.byte()? {
        0 => None,
        1 => Some(Location { file: tables.files.get(r.u32()?)?.clone(), pos: None }),
        2 => {
            let file = tables.files.get(r.u32()?)?.clone();
            let line = r.u32()?;
            let column = r.u32()?;
            Some(Location { file, pos: Some(Pos::new(line, column)) })
        }
        _ => return Err(corrupt("a location tag")),
    };
    let remediation = match r.byte()? {
        2 => None,
        tag => Some(r.cow(tag, tables)?),
    };
    let references = tables.lists.get(r.u32()?)?.0;
    let merged_len = usize::try_from(r.u64()?).map_err(|_| corrupt("a count"))?;
    let mut merged = Vec::with_capacity(merged_len.min(64));
    for _ in 0..merged_len {
        merged.push(tables.statics.get(r.u32()?)?.0);
    }
    Ok(Finding {
        rule_id,
        severity,
        title,
        message,
        object,
        container,
        pointer,
        location,
        remediation,
        references,
        merged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kguard_report::RuleMeta;

    static RULE: RuleMeta = RuleMeta {
        id: "KG001",
        name: "privileged",
        family: "workload",
        severity: Severity::Critical,
        title: "Privileged container",
        what: "",
        why: "",
        fix: "Remove privileged: true.",
        references: &["https://example.com/a", "https://example.com/b"],
        aliases: &[],
        opt_in: false,
    };

    /// Findings in a scrambled order, with every optional part present or absent.
    fn findings(n: usize) -> Vec<Finding> {
        (0..n)
            .map(|i| {
                let k = (i * 7919) % n;
                let file: Arc<str> = format!("dir/f{}.yaml", k % 5).into();
                let object = ObjectRef {
                    api_version: "v1".into(),
                    kind: "Pod".into(),
                    namespace: k.is_multiple_of(2).then(|| format!("ns{}", k % 3)),
                    name: format!("pod-{}", k % 11),
                };
                let location = match k % 9 {
                    0 => None,
                    1 => Some(Location::file(file)),
                    _ => Some(Location::at(file, Pos::new(u32::try_from(k % 300).unwrap() + 1, 3))),
                };
                let mut f = Finding::new(
                    &RULE,
                    format!("message {}", k % 13),
                    (!k.is_multiple_of(4)).then_some(object),
                    (!k.is_multiple_of(3)).then(|| format!("/spec/containers/{}", k % 2)),
                    location,
                )
                .in_container(k.is_multiple_of(5).then(|| "main".to_owned()));
                if k.is_multiple_of(6) {
                    f.title = Cow::Owned(format!("title {k}"));
                    f.remediation = None;
                    f.severity = Severity::Low;
                }
                if k.is_multiple_of(10) {
                    f.merged = vec!["KG002", RULE.id];
                    f.references = &[];
                }
                f
            })
            .collect()
    }

    fn read_back(spill: &Spill) -> Vec<Finding> {
        let mut out = Vec::new();
        spill
            .for_each(&mut |f| {
                out.push(f.clone());
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn runs_on_disk_read_back_sorted_and_equal() {
        let all = findings(RUN * 2 + 123);
        let mut spill = Spill::new();
        for f in all.clone() {
            spill.push(f).unwrap();
        }
        spill.finish().unwrap();
        assert_eq!(spill.runs(), 3);
        let mut expected = all;
        expected.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        let got = read_back(&spill);
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the findings read back differ from the ones written (stable sort)");
        // Read again (a renderer reads twice), with the same counts.
        assert_eq!(read_back(&spill).len(), expected.len());
        assert_eq!(spill.counts(), Counts::of_findings(&expected));
        // Borrowed parts are borrowed again.
        assert!(got.iter().any(|f| matches!(f.title, Cow::Borrowed(_))));
        assert!(got.iter().any(|f| matches!(f.title, Cow::Owned(_))));
    }

    #[test]
    fn few_findings_stay_in_memory() {
        let all = findings(100);
        let mut spill = Spill::new();
        for f in all.clone() {
            spill.push(f).unwrap();
        }
        spill.finish().unwrap();
        assert_eq!(spill.runs(), 0);
        let mut expected = all;
        expected.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        assert!(read_back(&spill) == expected);
    }

    #[test]
    fn a_damaged_record_is_an_error_not_a_panic() {
        let tables = Tables::default();
        for bytes in [&[][..], &[0x80; 12][..], &[0, 9][..], &[5, 0, 0, 200, 200][..]] {
            assert!(decode(&mut Reader { bytes }, &tables).is_err());
        }
    }
}

//! Event sources other than `k8s_audit`: what a source must provide for the engine to compile
//! its rules ([`FieldSource`]) and evaluate them on its events ([`Event`]).
//!
//! `k8s_audit` is built in (its fields are in [`crate::k8saudit`]); other sources — the syscall
//! source of `kguard-runtime` — register a [`FieldSource`] with [`crate::Engine::compile_with`]
//! and hand their events to [`crate::Engine::process_event`]. Values cross the boundary as text,
//! as in libsinsp's string rendering of a field; [`FieldDef::kind`] says how comparisons read
//! them (numbers numerically, addresses and networks as addresses).

pub use crate::k8saudit::ArgKind;

/// How the values of a field compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FieldKind {
    /// Text (libsinsp's `PT_CHARBUF`, `PT_FSPATH`, …): byte-wise comparisons.
    #[default]
    Text,
    /// An integer (signed or unsigned, absolute or relative time): numeric comparisons.
    Number,
    /// A boolean, rendered `true`/`false`.
    Bool,
    /// An IPv4 or IPv6 address: `=`/`in` accept addresses and `a.b.c.d/n` networks.
    IpAddr,
    /// An IP network (the address's network): as [`FieldKind::IpAddr`].
    IpNet,
}

/// A field of a source, as resolved when a rule compiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// The field's name (`proc.name`, `evt.arg`, …).
    pub name: &'static str,
    /// A source-defined id, so extraction needs no name lookup.
    pub id: u32,
    /// The argument it takes.
    pub arg: ArgKind,
    /// Whether it yields a list of values (`in`/`intersects`/`exists` only).
    pub is_list: bool,
    /// How its values compare.
    pub kind: FieldKind,
}

impl FieldDef {
    /// Whether comparisons are numeric.
    #[must_use]
    pub fn numeric(&self) -> bool {
        self.kind == FieldKind::Number
    }
}

/// The fields of one event source.
pub trait FieldSource: Sync {
    /// The source's name, as rules name it in `source:` (`syscall`).
    fn name(&self) -> &'static str;

    /// Resolves a field reference as written in a condition or output: `name` and the bracketed
    /// argument if any. Returns the field and the effective argument (a source may read part of
    /// the name as the argument, as libsinsp reads `evt.arg.fd` as `evt.arg[fd]`).
    ///
    /// # Errors
    /// The message libsinsp gives: `filter_check called with nonexistent field <name>` for an
    /// unknown field, or one about a missing or unexpected argument.
    fn resolve(&self, name: &str, arg: Option<&str>) -> Result<(FieldDef, Option<String>), String>;

    /// Whether `name` names a field (with or without its argument); used to find where a
    /// `%field` token in an output ends.
    fn knows(&self, name: &str) -> bool;

    /// The names `evt.type` takes and how many event codes each stands for (enter, exit and
    /// older versions), for Falco's load-time checks: an unknown name in an `evt.type`
    /// comparison is an error, and a rule matching more than 100 codes gets a `LOAD_NO_EVTTYPE`
    /// warning. Empty (the default): the source has no event types.
    fn event_types(&self) -> Vec<(&'static str, usize)> {
        Vec::new()
    }
}

/// One event of a source.
pub trait Event {
    /// Event time, nanoseconds since the epoch.
    fn time_ns(&self) -> i64;

    /// The value(s) of a field, rendered as text; `None` when the field has no value for this
    /// event (every comparison on it is then false, and outputs print `<NA>`).
    fn extract(&self, field: &FieldDef, arg: Option<&str>) -> Option<Vec<String>>;
}

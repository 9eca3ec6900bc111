//! A filter: libseccomp's filter collection (`scmp_filter_ctx`, `db_col_*` in `db.c`, the API
//! checks of `api.c`, syscall translation of `arch.c`, socket/ipc multiplexing of `syscalls.c`),
//! and what the BPF libseccomp generates from it returns for a syscall ([`Filter::decide`]).

use std::fmt;

use crate::action::Action;
use crate::arch::{Arch, Endian, X32_SYSCALL_BIT};
use crate::db::{ARG_COUNT_MAX, ArgCmp, Db, DbError, Idx, Op, Rule};

/// Why libseccomp refuses an operation (its negative errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// `-EINVAL`: bad argument (argument index > 5, an argument compared twice, syscall -2…-99).
    #[error("invalid argument (EINVAL)")]
    Invalid,
    /// `-EACCES`: the rule's action is the filter's default action.
    #[error("the rule's action is the default action (EACCES)")]
    DefaultAction,
    /// `-EEXIST`: the architecture is already present, or the rule conflicts with an existing
    /// rule (same comparisons, another action).
    #[error("conflicts with an existing rule or architecture (EEXIST)")]
    Exists,
    /// `-EDOM`: the syscall does not exist on an architecture of the filter (exact rules), or
    /// the architectures' byte orders differ.
    #[error("not representable on an architecture of the filter (EDOM)")]
    Domain,
    /// `-EFAULT`: the syscall number has no name to translate it to another architecture.
    #[error("syscall cannot be translated to another architecture (EFAULT)")]
    Fault,
    /// `-EOPNOTSUPP`: exact rules with several architectures, or an unsupported attribute value.
    #[error("not supported (EOPNOTSUPP)")]
    NotSupported,
    /// libseccomp's rule merge would link this rule's comparisons into a loop (libseccomp 2.5.4
    /// and 2.6.1 hang on it); the rule is refused and the filter left as it was.
    #[error(
        "the comparisons of this rule cannot be merged with the syscall's earlier rules (libseccomp loops forever on this combination); split or simplify the argument conditions"
    )]
    Loop,
}

impl From<DbError> for FilterError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Exists => FilterError::Exists,
            DbError::Loop => FilterError::Loop,
        }
    }
}

/// Filter attributes (`SCMP_FLTATR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attrs {
    /// `ACT_BADARCH`: returned for a syscall of an architecture not in the filter.
    pub act_badarch: u32,
    /// `CTL_NNP`.
    pub nnp: bool,
    /// `CTL_TSYNC`.
    pub tsync: bool,
    /// `API_TSKIP`: rules for syscall -1 are kept.
    pub api_tskip: bool,
    /// `CTL_LOG`.
    pub log: bool,
    /// `CTL_SSB`.
    pub spec_allow: bool,
    /// `CTL_OPTIMIZE` (1 priority order, 2 binary tree): no effect on decisions.
    pub optimize: u32,
}

impl Default for Attrs {
    fn default() -> Self {
        Attrs {
            act_badarch: Action::KillThread.ret(),
            nnp: true,
            tsync: false,
            api_tskip: false,
            log: false,
            spec_allow: false,
            optimize: 1,
        }
    }
}

/// An argument comparison as the API takes it (`struct scmp_arg_cmp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApiArg {
    /// Argument index.
    pub arg: u32,
    /// Comparison.
    pub op: Op,
    /// `datum_a` (the mask for `MASKED_EQ`).
    pub datum_a: u64,
    /// `datum_b` (the value for `MASKED_EQ`).
    pub datum_b: u64,
}

/// A libseccomp filter collection.
#[derive(Clone, Debug)]
pub struct Filter {
    native: Arch,
    default_action: u32,
    /// Attributes.
    pub attrs: Attrs,
    dbs: Vec<Db>,
    endian: Option<Endian>,
    snapshots: Vec<(Vec<Db>, Option<Endian>, bool)>,
}

impl Filter {
    /// `seccomp_init(def_action)` on a machine whose native ABI is `native`.
    #[must_use]
    pub fn new(native: Arch, default_action: Action) -> Self {
        Filter {
            native,
            default_action: default_action.ret(),
            attrs: Attrs::default(),
            dbs: vec![Db::new(native)],
            endian: Some(native.endian()),
            snapshots: Vec::new(),
        }
    }

    /// The default action.
    #[must_use]
    pub fn default_action(&self) -> Action {
        Action::from_ret(self.default_action)
    }

    /// The native ABI the filter was created for.
    #[must_use]
    pub fn native(&self) -> Arch {
        self.native
    }

    /// The architectures, in order.
    pub fn arches(&self) -> impl Iterator<Item = Arch> + '_ {
        self.dbs.iter().map(|d| d.arch)
    }

    /// `seccomp_reset(ctx, def_action)`.
    pub fn reset(&mut self, default_action: Action) {
        *self = Filter::new(self.native, default_action);
    }

    /// `seccomp_arch_add`.
    ///
    /// # Errors
    /// `Exists` when present, `Domain` when the byte order differs from the filter's.
    pub fn add_arch(&mut self, arch: Arch) -> Result<(), FilterError> {
        if self.endian.is_some_and(|e| e != arch.endian()) {
            return Err(FilterError::Domain);
        }
        if self.dbs.iter().any(|d| d.arch.token() == arch.token()) {
            return Err(FilterError::Exists);
        }
        self.dbs.push(Db::new(arch));
        self.endian = Some(arch.endian());
        Ok(())
    }

    /// `seccomp_arch_remove`.
    ///
    /// # Errors
    /// `Invalid` when the architecture is not in the filter.
    pub fn remove_arch(&mut self, arch: Arch) -> Result<(), FilterError> {
        let Some(i) = self.dbs.iter().position(|d| d.arch.token() == arch.token()) else {
            return Err(FilterError::Invalid);
        };
        self.dbs.remove(i);
        if self.dbs.is_empty() {
            self.endian = None;
        }
        Ok(())
    }

    /// `seccomp_attr_set` by libseccomp's attribute name (`ACT_BADARCH`, `CTL_NNP`, `CTL_TSYNC`,
    /// `API_TSKIP`, `CTL_LOG`, `CTL_SSB`, `CTL_OPTIMIZE`, `API_SYSRAWRC`, `CTL_WAITKILL`).
    ///
    /// # Errors
    /// `Invalid` for an unknown attribute, `DefaultAction` for `ACT_DEFAULT` (read-only),
    /// `NotSupported` for an optimize level other than 1 or 2.
    pub fn set_attr(&mut self, name: &str, value: u32) -> Result<(), FilterError> {
        match name {
            "ACT_DEFAULT" => return Err(FilterError::DefaultAction),
            "ACT_BADARCH" => self.attrs.act_badarch = value,
            "CTL_NNP" => self.attrs.nnp = value != 0,
            "CTL_TSYNC" => self.attrs.tsync = value != 0,
            "API_TSKIP" => self.attrs.api_tskip = value != 0,
            "CTL_LOG" => self.attrs.log = value != 0,
            "CTL_SSB" => self.attrs.spec_allow = value != 0,
            "CTL_OPTIMIZE" => match value {
                1 | 2 => self.attrs.optimize = value,
                _ => return Err(FilterError::NotSupported),
            },
            "API_SYSRAWRC" | "CTL_WAITKILL" => {}
            _ => return Err(FilterError::Invalid),
        }
        Ok(())
    }

    /// `seccomp_syscall_resolve_name`: a name on the native ABI.
    #[must_use]
    pub fn resolve_native(&self, name: &str) -> Option<i32> {
        self.native.resolve_name(name)
    }

    /// `seccomp_rule_add_array` (`strict` = false) / `seccomp_rule_add_exact_array` (true);
    /// `syscall` is a native number (or pseudo number).
    ///
    /// # Errors
    /// What libseccomp returns; on error the filter is unchanged.
    pub fn add_rule(&mut self, strict: bool, action: Action, syscall: i32, args: &[ApiArg]) -> Result<(), FilterError> {
        if args.len() > ARG_COUNT_MAX || self.dbs.is_empty() {
            return Err(FilterError::Invalid);
        }
        if !(self.attrs.api_tskip && syscall == -1) && (-99..=-1).contains(&syscall) {
            return Err(FilterError::Invalid);
        }
        let action = action.ret();
        if action == self.default_action {
            return Err(FilterError::DefaultAction);
        }
        if strict && self.dbs.len() > 1 {
            return Err(FilterError::NotSupported);
        }
        let mut chain: [Option<ArgCmp>; ARG_COUNT_MAX] = [None; ARG_COUNT_MAX];
        for a in args {
            let slot = usize::try_from(a.arg).ok().and_then(|i| chain.get_mut(i)).ok_or(FilterError::Invalid)?;
            if slot.is_some() {
                return Err(FilterError::Invalid);
            }
            *slot = Some(match a.op {
                Op::MaskedEq => ArgCmp { arg: a.arg, op: a.op, mask: a.datum_a, datum: a.datum_b },
                op => ArgCmp { arg: a.arg, op, mask: u64::MAX, datum: a.datum_a },
            });
        }
        let rule = Rule { strict, action, syscall, args: chain };
        let native = self.native;
        let mut failed = None;
        for db in &mut self.dbs {
            if let Err(e) = arch_filter_rule_add(native, db, &rule) {
                failed = Some(e);
                break;
            }
        }
        if let Some(e) = failed {
            // db_col_transaction_abort: the snapshot is a replay of the rules added so far
            for db in &mut self.dbs {
                let rules = std::mem::take(&mut db.rules);
                *db = Db::new(db.arch);
                for r in &rules {
                    let _ = arch_filter_rule_add(native, db, r);
                }
                db.rules = rules;
            }
            return Err(e);
        }
        for db in &mut self.dbs {
            db.rules.push(rule.clone());
        }
        Ok(())
    }

    /// `seccomp_syscall_priority` (no effect on decisions; kept for fidelity).
    pub fn syscall_priority(&mut self, syscall: i32, priority: u8) {
        if self.dbs.is_empty() || (!(self.attrs.api_tskip && syscall == -1) && (-99..=-1).contains(&syscall)) {
            return;
        }
        let native = self.native;
        for db in &mut self.dbs {
            let Ok(mut sc) = translate(native, db.arch, syscall) else { continue };
            if sc < -1 {
                if !db.arch.is_mux_abi() {
                    continue;
                }
                match rewrite(db.arch, sc) {
                    Some(n) => sc = n,
                    None => continue,
                }
            }
            db.syscall_priority(sc, priority);
        }
    }

    /// `seccomp_merge(self, other)`.
    ///
    /// # Errors
    /// `Invalid` when the default action or NNP/TSYNC attributes differ, `Domain` when byte
    /// orders differ, `Exists` when both hold an architecture.
    pub fn merge(&mut self, other: Filter) -> Result<(), FilterError> {
        if self.default_action != other.default_action
            || self.attrs.nnp != other.attrs.nnp
            || self.attrs.tsync != other.attrs.tsync
        {
            return Err(FilterError::Invalid);
        }
        if self.endian != other.endian {
            return Err(FilterError::Domain);
        }
        if self.dbs.iter().any(|a| other.dbs.iter().any(|b| a.arch.token() == b.arch.token())) {
            return Err(FilterError::Exists);
        }
        self.dbs.extend(other.dbs);
        Ok(())
    }

    /// `seccomp_transaction_start`.
    pub fn transaction_start(&mut self) {
        self.snapshots.push((self.dbs.clone(), self.endian, true));
    }

    /// `seccomp_transaction_commit`.
    pub fn transaction_commit(&mut self) {
        if self.snapshots.last().is_some_and(|s| s.2) {
            self.snapshots.pop();
        }
    }

    /// `seccomp_transaction_reject`.
    pub fn transaction_reject(&mut self) {
        if self.snapshots.last().is_some_and(|s| s.2)
            && let Some((dbs, endian, _)) = self.snapshots.pop()
        {
            self.dbs = dbs;
            self.endian = endian;
        }
    }

    /// The architecture blocks of the generated program, in order: the primary database and,
    /// for x86_64 + x32, the secondary one (`_gen_bpf_build_bpf`).
    pub(crate) fn blocks(&self) -> Vec<(&Db, Option<&Db>)> {
        let pos = |a: Arch| self.dbs.iter().position(|d| d.arch == a);
        let (x64, x32) = (pos(Arch::X86_64), pos(Arch::X32));
        let mut out = Vec::new();
        for (i, db) in self.dbs.iter().enumerate() {
            let secondary = if Some(i) == x64 {
                match x32 {
                    Some(j) if j > i => self.dbs.get(j),
                    Some(_) => continue,
                    None => None,
                }
            } else if Some(i) == x32 {
                match x64 {
                    Some(j) if j > i => self.dbs.get(j),
                    Some(_) => continue,
                    None => None,
                }
            } else {
                None
            };
            out.push((db, secondary));
        }
        out
    }

    /// Whether a syscall entry is emitted (`_skip_syscall`).
    pub(crate) fn emitted(&self, num: u32, valid: bool) -> bool {
        #[allow(clippy::cast_possible_wrap)]
        let signed = num as i32;
        valid && !(signed < 0 && (!self.attrs.api_tskip || signed != -1))
    }

    /// The default action's return value.
    pub(crate) fn default_ret(&self) -> u32 {
        self.default_action
    }

    /// What the BPF program libseccomp generates for this filter returns for a syscall: the
    /// reference semantics our compiler is checked against.
    #[must_use]
    pub fn decide(&self, audit_arch: u32, nr: u32, args: &[u64; 6]) -> u32 {
        for (db, secondary) in self.blocks() {
            if db.arch.audit_arch() != audit_arch {
                continue;
            }
            if secondary.is_none() {
                if db.arch == Arch::X86_64 && nr >= X32_SYSCALL_BIT && nr != u32::MAX {
                    return self.attrs.act_badarch;
                }
                if db.arch == Arch::X32 && nr < X32_SYSCALL_BIT {
                    return self.attrs.act_badarch;
                }
            }
            for d in std::iter::once(db).chain(secondary) {
                if let Some(e) = d.syscalls.iter().find(|e| e.num == nr && self.emitted(e.num, e.valid)) {
                    return match e.chains {
                        None => e.action,
                        Some(c) => eval_level(d, c, args).unwrap_or(self.default_action),
                    };
                }
            }
            return self.default_action;
        }
        self.attrs.act_badarch
    }
}

/// Evaluates one level of a syscall's tree: `None` falls through to the caller's next node.
pub(crate) fn eval_level(db: &Db, start: Idx, args: &[u64; 6]) -> Option<u32> {
    let mut cur = Some(level_start(db, start));
    while let Some(i) = cur {
        let n = db.n(i);
        let v = usize::try_from(n.arg).ok().and_then(|a| args.get(a)).copied().unwrap_or(0);
        #[allow(clippy::cast_possible_truncation)]
        let word = if n.arg_h_flg { (v >> 32) as u32 } else { v as u32 } & n.mask;
        let hit = match n.op {
            Op::Gt => word > n.datum,
            Op::Ge => word >= n.datum,
            _ => word == n.datum,
        };
        let (next, flg, act) = if hit { (n.nxt_t, n.act_t_flg, n.act_t) } else { (n.nxt_f, n.act_f_flg, n.act_f) };
        if let Some(nx) = next {
            if let Some(r) = eval_level(db, nx, args) {
                return Some(r);
            }
        } else if flg {
            return Some(act);
        }
        cur = n.lvl_nxt;
    }
    None
}

pub(crate) fn level_start(db: &Db, mut i: Idx) -> Idx {
    let mut guard = db.nodes.len();
    while let Some(p) = db.n(i).lvl_prv {
        if guard == 0 {
            break;
        }
        guard -= 1;
        i = p;
    }
    i
}

/// `arch_syscall_translate`.
fn translate(native: Arch, arch: Arch, syscall: i32) -> Result<i32, FilterError> {
    if syscall == -1 || arch.token() == native.token() {
        return Ok(syscall);
    }
    let name = native.resolve_num(syscall).ok_or(FilterError::Fault)?;
    arch.resolve_name(name).ok_or(FilterError::Fault)
}

/// `abi_syscall_rewrite`.
fn rewrite(arch: Arch, sys: i32) -> Option<i32> {
    if (-120..=-100).contains(&sys) {
        Some(arch.sys_socketcall())
    } else if (-224..=-200).contains(&sys) {
        Some(arch.sys_ipc())
    } else if sys < 0 {
        None
    } else {
        Some(sys)
    }
}

/// `arch_filter_rule_add`.
fn arch_filter_rule_add(native: Arch, db: &mut Db, rule: &Rule) -> Result<(), FilterError> {
    let mut r = rule.clone();
    r.syscall = translate(native, db.arch, rule.syscall)?;
    if r.syscall == -1 || !db.arch.is_mux_abi() {
        if r.syscall < -1 && r.strict {
            return Err(FilterError::Domain);
        }
        return db.rule_add(&r).map_err(FilterError::from);
    }
    abi_rule_add(db, r)
}

/// `abi_rule_add`: socket and ipc calls become a `socketcall`/`ipc` rule on the sub-call number
/// plus a rule on the direct call where the ABI has one.
fn abi_rule_add(db: &mut Db, rule: Rule) -> Result<(), FilterError> {
    let arch = db.arch;
    let sys = rule.syscall;
    let socket = is_mux_call(arch, sys, true);
    let ipc = !socket && is_mux_call(arch, sys, false);
    if socket || ipc {
        if rule.strict && rule.args.iter().any(Option::is_some) {
            return Err(FilterError::Invalid);
        }
        let (sys_a, sys_b) = if sys > 0 {
            (mux(arch, sys).ok_or(FilterError::Invalid)?, Some(sys))
        } else {
            (Some(sys), demux(arch, sys)?)
        };
        if let Some(a) = sys_a {
            let mut ra = rule.clone();
            ra.syscall = if socket { arch.sys_socketcall() } else { arch.sys_ipc() };
            let sub = if socket { (-a) % 100 } else { (-a) % 200 };
            ra.args[0] = Some(ArgCmp { arg: 0, op: Op::Eq, mask: u64::MAX, datum: u64::from(sub.unsigned_abs()) });
            db.rule_add(&ra)?;
        }
        if let Some(b) = sys_b {
            let mut rb = rule;
            rb.syscall = b;
            db.rule_add(&rb)?;
        }
        Ok(())
    } else if sys >= 0 {
        db.rule_add(&rule).map_err(FilterError::from)
    } else if rule.strict {
        Err(FilterError::Domain)
    } else {
        Ok(())
    }
}

const SOCKET_NAMES: [&str; 20] = [
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "socketpair",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "recvmsg",
    "accept4",
    "recvmmsg",
    "sendmmsg",
];
const IPC_NAMES: [&str; 12] = [
    "semop",
    "semget",
    "semctl",
    "semtimedop",
    "msgsnd",
    "msgrcv",
    "msgget",
    "msgctl",
    "shmat",
    "shmdt",
    "shmget",
    "shmctl",
];

/// `_abi_syscall_socket_test` / `_abi_syscall_ipc_test`.
fn is_mux_call(arch: Arch, sys: i32, socket: bool) -> bool {
    if socket && (-120..=-100).contains(&sys) || !socket && (-224..=-200).contains(&sys) {
        return true;
    }
    let Some(name) = arch.resolve_num_raw(sys) else { return false };
    if socket { SOCKET_NAMES.contains(&name) } else { IPC_NAMES.contains(&name) }
}

/// `_abi_syscall_mux`: the pseudo number of a direct call (`Ok(None)` = `__NR_SCMP_UNDEF`
/// never happens here; an unknown name is an error).
fn mux(arch: Arch, sys: i32) -> Option<Option<i32>> {
    let name = arch.resolve_num_raw(sys)?;
    crate::arch::MUX_CALLS.iter().find(|(m, _)| *m == name).map(|(_, n)| Some(*n))
}

/// `_abi_syscall_demux`: the direct number of a multiplexed pseudo number.
fn demux(arch: Arch, sys: i32) -> Result<Option<i32>, FilterError> {
    let Some((name, _)) = crate::arch::MUX_CALLS.iter().find(|(_, n)| *n == sys) else {
        // __NR_SCMP_UNDEF → __NR_SCMP_ERROR
        return Err(FilterError::Invalid);
    };
    match arch.resolve_name_raw(name) {
        // not in the table: __NR_SCMP_ERROR → __NR_SCMP_UNDEF
        None => Ok(None),
        Some(n) => Ok(Some(n)),
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "filter(default {}, arches", self.default_action())?;
        for a in self.arches() {
            write!(f, " {a}")?;
        }
        f.write_str(")")
    }
}

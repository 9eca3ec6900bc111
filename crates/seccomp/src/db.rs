//! One architecture's filter database: a port of libseccomp's `db.c` (v2.6) rule insertion.
//!
//! libseccomp keeps, per syscall, a tree of 32-bit comparisons ("levels" of alternative nodes,
//! each with a true and a false branch that lead to another level or to an action). How a new
//! rule is merged into that tree (`_db_tree_prune`, `_db_tree_add`) decides what the filter
//! returns when rules overlap, so it is ported here node for node, reference counts included
//! (the number of freed nodes steers `db_rule_add`). Nodes live in an arena and are never
//! reused; "freed" nodes are only unlinked.

use crate::arch::Arch;

/// Index of a node in the arena.
pub(crate) type Idx = usize;

/// Number of syscall arguments.
pub const ARG_COUNT_MAX: usize = 6;

/// A comparison of a rule argument (`enum scmp_compare`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `(arg & mask) == datum`
    MaskedEq,
}

impl Op {
    /// libseccomp's name (`EQ`, `MASKED_EQ`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Op::Ne => "NE",
            Op::Lt => "LT",
            Op::Le => "LE",
            Op::Eq => "EQ",
            Op::Ge => "GE",
            Op::Gt => "GT",
            Op::MaskedEq => "MASKED_EQ",
        }
    }

    /// Parses `EQ`, `SCMP_CMP_EQ`, …
    #[must_use]
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s.strip_prefix("SCMP_CMP_").unwrap_or(s) {
            "NE" => Op::Ne,
            "LT" => Op::Lt,
            "LE" => Op::Le,
            "EQ" => Op::Eq,
            "GE" => Op::Ge,
            "GT" => Op::Gt,
            "MASKED_EQ" => Op::MaskedEq,
            _ => return None,
        })
    }

    /// `__db_chain_op_priority`.
    const fn priority(self) -> u32 {
        match self {
            Op::MaskedEq | Op::Eq | Op::Ne => 3,
            Op::Le | Op::Lt => 2,
            Op::Ge | Op::Gt => 1,
        }
    }
}

/// One argument comparison of a rule, as libseccomp stores it (`struct db_api_arg`): for
/// `MASKED_EQ` the mask is `datum_a` and the datum `datum_b`; otherwise the mask is all ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArgCmp {
    /// Argument index, 0–5.
    pub arg: u32,
    /// Comparison.
    pub op: Op,
    /// Mask.
    pub mask: u64,
    /// Value compared with.
    pub datum: u64,
}

/// A rule as stored per filter (`struct db_api_rule_list`): arguments indexed by number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `add_rule_exactly`.
    pub strict: bool,
    /// The action's return value.
    pub action: u32,
    /// The syscall number (native numbering until translated for an architecture).
    pub syscall: i32,
    /// Comparisons, at most one per argument.
    pub args: [Option<ArgCmp>; ARG_COUNT_MAX],
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub arg: u32,
    pub arg_h_flg: bool,
    pub op: Op,
    pub op_orig: Op,
    pub mask: u32,
    pub datum: u32,
    pub datum_full: u64,
    pub act_t_flg: bool,
    pub act_f_flg: bool,
    pub act_t: u32,
    pub act_f: u32,
    pub lvl_prv: Option<Idx>,
    pub lvl_nxt: Option<Idx>,
    pub nxt_t: Option<Idx>,
    pub nxt_f: Option<Idx>,
    pub refcnt: u32,
}

impl Node {
    const fn blank() -> Self {
        Node {
            arg: 0,
            arg_h_flg: false,
            op: Op::Eq,
            op_orig: Op::Eq,
            mask: 0,
            datum: 0,
            datum_full: 0,
            act_t_flg: false,
            act_f_flg: false,
            act_t: 0,
            act_f: 0,
            lvl_prv: None,
            lvl_nxt: None,
            nxt_t: None,
            nxt_f: None,
            refcnt: 0,
        }
    }
}

/// One syscall's entry (`struct db_sys_list`).
#[derive(Clone, Debug)]
pub(crate) struct SysEntry {
    /// Stored unsigned, as libseccomp does (pseudo numbers sort last).
    pub num: u32,
    pub priority: u32,
    pub chains: Option<Idx>,
    pub node_cnt: u32,
    pub action: u32,
    pub valid: bool,
}

const PRI_MASK_CHAIN: u32 = 0x0000_ffff;
const PRI_MASK_USER: u32 = 0x00ff_0000;

const IST_MATCH: u32 = 0x01;
const IST_MATCH_ONCE: u32 = 0x02;
const IST_X_FINISHED: u32 = 0x10;
const IST_N_FINISHED: u32 = 0x20;
const IST_X_PREFIX: u32 = 0x100;
const IST_N_PREFIX: u32 = 0x200;
const IST_M_MATCHSET: u32 = IST_MATCH | IST_MATCH_ONCE;
const IST_M_REDUNDANT: u32 = IST_MATCH | IST_X_FINISHED | IST_N_PREFIX;

#[derive(Clone, Copy)]
struct IterState {
    flags: u32,
    action: u32,
    /// The syscall entry (index into `syscalls`).
    sx: usize,
}

/// Where a tree pointer lives (C's `struct db_arg_chain_tree **`).
#[derive(Clone, Copy)]
enum Slot {
    Chains(usize),
    NxtT(Idx),
    NxtF(Idx),
}

/// A rule could not be added (libseccomp's negative errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbError {
    /// `-EEXIST`: the rule conflicts with an existing one (same comparisons, different action).
    Exists,
    /// libseccomp's tree merge linked a level into a loop (libseccomp 2.5.4 and 2.6.x then spin
    /// forever in `_db_tree_put`); the rule is refused instead and the database rolled back.
    Loop,
}

/// One architecture's database (`struct db_filter`).
#[derive(Clone, Debug)]
pub struct Db {
    /// The architecture.
    pub arch: Arch,
    pub(crate) nodes: Vec<Node>,
    pub(crate) syscalls: Vec<SysEntry>,
    /// Rules added successfully, in order (native numbering): replayed for snapshots.
    pub(crate) rules: Vec<Rule>,
    scratch: Node,
    /// Set when a walk finds a level linked into a loop or a tree deeper than any rule makes;
    /// every walk then stops and `rule_add` answers [`DbError::Loop`].
    broken: std::cell::Cell<bool>,
    /// Recursion depth of the tree walks (bounded by [`MAX_TREE_DEPTH`]).
    depth: std::cell::Cell<u32>,
}

/// A rule makes at most two levels per argument (high and low words), and one walk may start
/// another below it: 64 levels is far past any real tree, so deeper means a loop.
const MAX_TREE_DEPTH: usize = 8 * ARG_COUNT_MAX + 16;

impl Db {
    /// An empty database (`_db_init`).
    #[must_use]
    pub fn new(arch: Arch) -> Self {
        Db {
            arch,
            nodes: Vec::new(),
            syscalls: Vec::new(),
            rules: Vec::new(),
            scratch: Node::blank(),
            broken: std::cell::Cell::new(false),
            depth: std::cell::Cell::new(0),
        }
    }

    /// Marks the database broken (a loop was found) and returns true.
    fn mark_broken(&self) -> bool {
        self.broken.set(true);
        true
    }

    /// Whether a walk that has taken `steps` steps along one level has gone round a loop.
    fn looped(&self, steps: usize) -> bool {
        self.broken.get() || (steps > self.nodes.len() && self.mark_broken())
    }

    /// Enters one recursion level of a tree walk; false (and broken) when deeper than `limit`.
    /// Walks down a tree recurse at most [`MAX_TREE_DEPTH`] deep; freeing a level recurses along
    /// it, so `node_put` allows one more level per node.
    fn enter(&self, limit: usize) -> bool {
        let d = self.depth.get() + 1;
        self.depth.set(d);
        if usize::try_from(d).unwrap_or(usize::MAX) > limit {
            self.mark_broken();
        }
        !self.broken.get()
    }

    fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }

    pub(crate) fn n(&self, i: Idx) -> &Node {
        const BLANK: Node = Node::blank();
        self.nodes.get(i).unwrap_or(&BLANK)
    }

    fn nm(&mut self, i: Idx) -> &mut Node {
        match self.nodes.get_mut(i) {
            Some(n) => n,
            None => &mut self.scratch,
        }
    }

    fn alloc(&mut self) -> Idx {
        self.nodes.push(Node::blank());
        self.nodes.len() - 1
    }

    fn sys(&mut self, i: usize) -> Option<&mut SysEntry> {
        self.syscalls.get_mut(i)
    }

    fn slot_get(&self, s: Slot) -> Option<Idx> {
        match s {
            Slot::Chains(i) => self.syscalls.get(i).and_then(|e| e.chains),
            Slot::NxtT(n) => self.n(n).nxt_t,
            Slot::NxtF(n) => self.n(n).nxt_f,
        }
    }

    fn slot_set(&mut self, s: Slot, v: Option<Idx>) {
        match s {
            Slot::Chains(i) => {
                if let Some(e) = self.sys(i) {
                    e.chains = v;
                }
            }
            Slot::NxtT(n) => self.nm(n).nxt_t = v,
            Slot::NxtF(n) => self.nm(n).nxt_f = v,
        }
    }

    fn get(&mut self, node: Option<Idx>) -> Option<Idx> {
        if let Some(i) = node {
            self.nm(i).refcnt += 1;
        }
        node
    }

    fn arg_priority(&self, a: Idx) -> u32 {
        let n = self.n(a);
        (n.arg << 1) + u32::from(n.arg_h_flg)
    }

    fn chain_lt(&self, a: Idx, b: Idx) -> bool {
        let (a_arg, b_arg) = (self.arg_priority(a), self.arg_priority(b));
        if a_arg < b_arg {
            return true;
        } else if a_arg > b_arg {
            return false;
        }
        let (na, nb) = (self.n(a), self.n(b));
        let (a_op, b_op) = (na.op_orig.priority(), nb.op_orig.priority());
        if a_op < b_op {
            return true;
        } else if a_op > b_op {
            return false;
        }
        match na.op_orig {
            Op::Le | Op::Lt => na.datum > nb.datum,
            _ => na.datum < nb.datum,
        }
    }

    fn chain_eq(&self, a: Idx, b: Idx) -> bool {
        let (na, nb) = (self.n(a), self.n(b));
        self.arg_priority(a) == self.arg_priority(b) && na.op == nb.op && na.datum == nb.datum && na.mask == nb.mask
    }

    fn leaf(&self, i: Idx) -> bool {
        let n = self.n(i);
        n.nxt_t.is_none() && n.nxt_f.is_none()
    }

    fn zombie(&self, i: Idx) -> bool {
        let n = self.n(i);
        self.leaf(i) && !n.act_t_flg && !n.act_f_flg
    }

    fn level_start(&self, mut i: Idx) -> Idx {
        let mut steps = 0;
        while let Some(p) = self.n(i).lvl_prv {
            steps += 1;
            if self.looped(steps) {
                break;
            }
            i = p;
        }
        i
    }

    /// `_db_level_clean`.
    fn level_clean(&mut self, node: Idx) -> u32 {
        let start = self.level_start(node);
        let mut n = Some(start);
        let mut steps = 0;
        while let Some(i) = n {
            steps += 1;
            if self.looped(steps) {
                return 0;
            }
            let nn = self.n(i);
            let links = u32::from(nn.lvl_prv.is_some()) + u32::from(nn.lvl_nxt.is_some());
            if nn.refcnt > links {
                return 0;
            }
            n = nn.lvl_nxt;
        }
        let mut cnt = 0;
        let mut n = Some(start);
        let mut steps = 0;
        while n.is_some() {
            steps += 1;
            if self.looped(steps) {
                break;
            }
            cnt += self.node_put(&mut n);
        }
        cnt
    }

    /// `_db_tree_put`.
    fn tree_put(&mut self, tree: &mut Option<Idx>) -> u32 {
        let mut cnt = self.node_put(tree);
        if let Some(t) = *tree {
            cnt += self.level_clean(t);
        }
        cnt
    }

    /// `_db_node_put`.
    fn node_put(&mut self, node: &mut Option<Idx>) -> u32 {
        let Some(n) = *node else { return 0 };
        if !self.enter(self.nodes.len() + MAX_TREE_DEPTH) {
            self.leave();
            return 0;
        }
        let cnt = self.node_put_inner(node, n);
        self.leave();
        cnt
    }

    fn node_put_inner(&mut self, node: &mut Option<Idx>, n: Idx) -> u32 {
        let mut cnt = 0;
        let refcnt = self.n(n).refcnt.saturating_sub(1);
        self.nm(n).refcnt = refcnt;
        if refcnt == 0 {
            let (mut lvl_p, mut lvl_n, nxt_t, nxt_f) = {
                let x = self.n(n);
                (x.lvl_prv, x.lvl_nxt, x.nxt_t, x.nxt_f)
            };
            if let Some(p) = lvl_p {
                self.nm(p).lvl_nxt = None;
            }
            if let Some(q) = lvl_n {
                self.nm(q).lvl_prv = None;
            }
            if lvl_p.is_some() {
                cnt += self.node_put(&mut lvl_p);
            }
            if lvl_n.is_some() {
                cnt += self.node_put(&mut lvl_n);
            }
            if let Some(p) = lvl_p {
                let v = self.get(lvl_n);
                self.nm(p).lvl_nxt = v;
            }
            if let Some(q) = lvl_n {
                let v = self.get(lvl_p);
                self.nm(q).lvl_prv = v;
            }
            *node = if lvl_p.is_some() { lvl_p } else { lvl_n };
            let mut t = nxt_t;
            let mut f = nxt_f;
            cnt += self.tree_put(&mut t);
            cnt += self.tree_put(&mut f);
            // "free" the node: unlink it so that stale references see nothing
            let x = self.nm(n);
            x.lvl_prv = None;
            x.lvl_nxt = None;
            x.nxt_t = None;
            x.nxt_f = None;
            cnt += 1;
        }
        cnt
    }

    /// `_db_tree_remove`.
    fn tree_remove(&mut self, tree: Slot, node: Idx) -> u32 {
        if !self.enter(MAX_TREE_DEPTH) {
            self.leave();
            return 0;
        }
        let r = self.tree_remove_level(tree, node);
        self.leave();
        r
    }

    fn tree_remove_level(&mut self, tree: Slot, node: Idx) -> u32 {
        let Some(t) = self.slot_get(tree) else { return 0 };
        let mut cnt = 0;
        let mut c_iter = self.level_start(t);
        let mut steps = 0;
        loop {
            steps += 1;
            if self.looped(steps) {
                return cnt;
            }
            if c_iter == node || {
                cnt += self.tree_remove(Slot::NxtT(c_iter), node);
                cnt += self.tree_remove(Slot::NxtF(c_iter), node);
                self.zombie(c_iter)
            } {
                // remove:
                if Some(c_iter) == self.slot_get(tree) {
                    let c = self.n(c_iter);
                    let v = if c.lvl_prv.is_some() { c.lvl_prv } else { c.lvl_nxt };
                    self.slot_set(tree, v);
                }
                let (p, q) = (self.n(c_iter).lvl_prv, self.n(c_iter).lvl_nxt);
                if let Some(p) = p {
                    self.nm(p).lvl_nxt = q;
                }
                if let Some(q) = q {
                    self.nm(q).lvl_prv = p;
                }
                self.nm(c_iter).lvl_prv = None;
                self.nm(c_iter).lvl_nxt = None;
                let mut c = Some(c_iter);
                cnt += self.node_put(&mut c);
                return cnt;
            }
            match self.n(c_iter).lvl_nxt {
                Some(nx) if cnt == 0 => c_iter = nx,
                _ => return cnt,
            }
        }
    }

    /// `_db_tree_act_check`: 0 when every action in the tree is `action`.
    fn tree_act_check(&self, tree: Option<Idx>, action: u32) -> Result<(), DbError> {
        if !self.enter(MAX_TREE_DEPTH) {
            self.leave();
            return Err(DbError::Loop);
        }
        let r = self.tree_act_check_level(tree, action);
        self.leave();
        r
    }

    fn tree_act_check_level(&self, tree: Option<Idx>, action: u32) -> Result<(), DbError> {
        let Some(t) = tree else { return Ok(()) };
        let mut c = Some(self.level_start(t));
        let mut steps = 0;
        while let Some(i) = c {
            steps += 1;
            if self.looped(steps) {
                return Err(DbError::Loop);
            }
            let n = self.n(i);
            if (n.act_t_flg && n.act_t != action) || (n.act_f_flg && n.act_f != action) {
                return Err(DbError::Exists);
            }
            self.tree_act_check(n.nxt_t, action)?;
            self.tree_act_check(n.nxt_f, action)?;
            c = n.lvl_nxt;
        }
        Ok(())
    }

    /// `_db_tree_prune`.
    fn tree_prune(&mut self, existing: Option<Idx>, new: Option<Idx>, state: &mut IterState) -> u32 {
        if !self.enter(MAX_TREE_DEPTH) {
            self.leave();
            return 0;
        }
        let r = self.tree_prune_level(existing, new, state);
        self.leave();
        r
    }

    #[allow(clippy::too_many_lines)]
    fn tree_prune_level(&mut self, existing: Option<Idx>, new: Option<Idx>, state: &mut IterState) -> u32 {
        let mut cnt = 0;
        let mut state_new = *state;
        let (Some(x0), Some(n_iter)) = (existing, new) else {
            return Self::prune_return(state, state_new, cnt);
        };
        if state.flags & IST_M_MATCHSET == IST_MATCH_ONCE {
            return Self::prune_return(state, state_new, cnt);
        }
        let mut x_iter: Option<Idx> = Some(self.level_start(x0));
        let mut steps = 0;
        while let Some(xi) = x_iter {
            steps += 1;
            if self.looped(steps) {
                return Self::prune_return(state, state_new, cnt);
            }
            let x_iter_next = self.n(xi).lvl_nxt;
            let mut cur = Some(xi);
            'node: {
                if self.chain_eq(xi, n_iter) {
                    state_new.flags |= IST_M_MATCHSET;
                    if self.leaf(n_iter) {
                        state_new.flags |= IST_N_FINISHED;
                    }
                    if self.leaf(xi) {
                        state_new.flags |= IST_X_FINISHED;
                    }
                    let (x, n) = (self.n(xi), self.n(n_iter));
                    if (x.act_t_flg || x.nxt_t.is_some()) && !(n.act_t_flg || n.nxt_t.is_some()) {
                        return Self::prune_return(state, state_new, cnt);
                    }
                    if (x.act_f_flg || x.nxt_f.is_some()) && !(n.act_f_flg || n.nxt_f.is_some()) {
                        return Self::prune_return(state, state_new, cnt);
                    }
                    if state_new.flags & IST_N_FINISHED != 0
                        && state_new.flags & IST_X_FINISHED != 0
                        && (n.act_t_flg != x.act_t_flg
                            || n.act_t != x.act_t
                            || n.act_f_flg != x.act_f_flg
                            || n.act_f != x.act_f)
                    {
                        return Self::prune_return(state, state_new, cnt);
                    }
                    if let Some(n_t) = self.n(n_iter).nxt_t {
                        let Some(x) = cur else { break 'node };
                        self.get(Some(x));
                        let mut state_nxt = *state;
                        state_nxt.flags |= IST_M_MATCHSET;
                        let sub = self.n(x).nxt_t;
                        cnt += self.tree_prune(sub, Some(n_t), &mut state_nxt);
                        cnt += self.node_put(&mut cur);
                        if state_nxt.flags & IST_MATCH != 0 {
                            state_new.flags |= state_nxt.flags;
                        }
                        if cur.is_none() {
                            break 'node;
                        }
                    }
                    if let Some(n_f) = self.n(n_iter).nxt_f {
                        let Some(x) = cur else { break 'node };
                        self.get(Some(x));
                        let mut state_nxt = *state;
                        state_nxt.flags |= IST_M_MATCHSET;
                        let sub = self.n(x).nxt_f;
                        cnt += self.tree_prune(sub, Some(n_f), &mut state_nxt);
                        cnt += self.node_put(&mut cur);
                        if state_nxt.flags & IST_MATCH != 0 {
                            state_new.flags |= state_nxt.flags;
                        }
                        if cur.is_none() {
                            break 'node;
                        }
                    }
                    let Some(x) = cur else { break 'node };
                    let acts_ok = self.tree_act_check(Some(x), state_new.action).is_ok();
                    if acts_ok
                        && state_new.flags & IST_MATCH != 0
                        && state_new.flags & IST_N_FINISHED != 0
                        && state_new.flags & IST_X_PREFIX != 0
                    {
                        cnt += self.tree_remove(Slot::Chains(state.sx), x);
                        if self.syscalls.get(state.sx).is_none_or(|e| e.chains.is_none()) {
                            return Self::prune_return(state, state_new, cnt);
                        }
                    } else if acts_ok
                        && state_new.flags & IST_MATCH != 0
                        && state_new.flags & IST_X_FINISHED != 0
                        && state_new.flags & IST_N_PREFIX != 0
                    {
                        return Self::prune_return(state, state_new, cnt);
                    }
                } else if self.chain_lt(xi, n_iter) {
                    if state.flags & IST_N_PREFIX != 0 {
                        return Self::prune_return(state, state_new, cnt);
                    }
                    for false_branch in [false, true] {
                        let Some(x) = cur else { break 'node };
                        let sub = if false_branch { self.n(x).nxt_f } else { self.n(x).nxt_t };
                        if sub.is_some() {
                            self.get(Some(x));
                            let mut state_nxt = *state;
                            state_nxt.flags &= !IST_MATCH;
                            state_nxt.flags |= IST_X_PREFIX;
                            cnt += self.tree_prune(sub, Some(n_iter), &mut state_nxt);
                            cnt += self.node_put(&mut cur);
                            if state_nxt.flags & IST_MATCH != 0 {
                                state_new.flags |= state_nxt.flags;
                                return Self::prune_return(state, state_new, cnt);
                            }
                            if cur.is_none() {
                                break 'node;
                            }
                        }
                    }
                } else {
                    if state.flags & IST_X_PREFIX != 0 {
                        return Self::prune_return(state, state_new, cnt);
                    }
                    for false_branch in [false, true] {
                        let n = self.n(n_iter);
                        let sub = if false_branch { n.nxt_f } else { n.nxt_t };
                        if let Some(sub) = sub {
                            let Some(x) = cur else { break 'node };
                            self.get(Some(x));
                            let mut state_nxt = *state;
                            state_nxt.flags &= !IST_MATCH;
                            state_nxt.flags |= IST_N_PREFIX;
                            cnt += self.tree_prune(Some(x), Some(sub), &mut state_nxt);
                            cnt += self.node_put(&mut cur);
                            if state_nxt.flags & IST_MATCH != 0 {
                                state_new.flags |= state_nxt.flags;
                                return Self::prune_return(state, state_new, cnt);
                            }
                            if cur.is_none() {
                                break 'node;
                            }
                        }
                    }
                }
            }
            x_iter = x_iter_next;
        }
        state_new.flags &= !IST_MATCH;
        Self::prune_return(state, state_new, cnt)
    }

    fn prune_return(state: &mut IterState, state_new: IterState, cnt: u32) -> u32 {
        if state_new.flags & IST_MATCH != 0 {
            state.flags |= state_new.flags;
        } else {
            state.flags &= !IST_MATCH;
        }
        cnt
    }

    /// `_db_tree_add`.
    fn tree_add(&mut self, existing: Slot, new: Idx, state: &IterState) -> Result<(), DbError> {
        if !self.enter(MAX_TREE_DEPTH) {
            self.leave();
            return Err(DbError::Loop);
        }
        let r = self.tree_add_level(existing, new, state);
        self.leave();
        r
    }

    #[allow(clippy::too_many_lines)]
    fn tree_add_level(&mut self, existing: Slot, new: Idx, state: &IterState) -> Result<(), DbError> {
        let Some(mut x_iter) = self.slot_get(existing) else { return Ok(()) };
        let n_iter = new;
        let mut steps = 0;
        loop {
            steps += 1;
            if self.looped(steps) {
                return Err(DbError::Loop);
            }
            if self.chain_eq(x_iter, n_iter) {
                let n = self.n(n_iter).clone();
                if n.act_t_flg {
                    if !self.n(x_iter).act_t_flg {
                        self.tree_act_check(self.n(x_iter).nxt_t, n.act_t)?;
                        let mut t = self.n(x_iter).nxt_t;
                        let rc = self.node_put(&mut t);
                        let x = self.nm(x_iter);
                        x.nxt_t = None;
                        x.act_t = n.act_t;
                        x.act_t_flg = true;
                        if let Some(e) = self.sys(state.sx) {
                            e.node_cnt = e.node_cnt.wrapping_sub(rc);
                        }
                    } else if n.act_t != self.n(x_iter).act_t {
                        if n.arg_h_flg && n.datum_full > self.n(x_iter).datum_full {
                            self.nm(x_iter).act_t = n.act_t;
                        }
                        if self.leaf(x_iter) || self.leaf(n_iter) {
                            return Err(DbError::Exists);
                        }
                    }
                }
                if n.act_f_flg {
                    if !self.n(x_iter).act_f_flg {
                        self.tree_act_check(self.n(x_iter).nxt_f, n.act_f)?;
                        let mut f = self.n(x_iter).nxt_f;
                        let rc = self.node_put(&mut f);
                        let x = self.nm(x_iter);
                        x.nxt_f = None;
                        x.act_f = n.act_f;
                        x.act_f_flg = true;
                        if let Some(e) = self.sys(state.sx) {
                            e.node_cnt = e.node_cnt.wrapping_sub(rc);
                        }
                    } else if n.act_f != self.n(x_iter).act_f {
                        if n.arg_h_flg && n.datum_full < self.n(x_iter).datum_full {
                            self.nm(x_iter).act_f = n.act_f;
                        }
                        if self.leaf(x_iter) || self.leaf(n_iter) {
                            return Err(DbError::Exists);
                        }
                    }
                }
                if let Some(n_t) = n.nxt_t {
                    if self.n(x_iter).nxt_t.is_some() {
                        self.tree_add(Slot::NxtT(x_iter), n_t, state)?;
                    } else if !self.n(x_iter).act_t_flg {
                        let v = self.get(Some(n_t));
                        self.nm(x_iter).nxt_t = v;
                    } else {
                        return Ok(());
                    }
                }
                if let Some(n_f) = n.nxt_f {
                    if self.n(x_iter).nxt_f.is_some() {
                        self.tree_add(Slot::NxtF(x_iter), n_f, state)?;
                    } else if !self.n(x_iter).act_f_flg {
                        let v = self.get(Some(n_f));
                        self.nm(x_iter).nxt_f = v;
                    } else {
                        return Ok(());
                    }
                }
                return Ok(());
            } else if !self.chain_lt(x_iter, n_iter) {
                match self.n(x_iter).lvl_nxt {
                    None => {
                        let p = self.get(Some(x_iter));
                        self.nm(n_iter).lvl_prv = p;
                        let q = self.get(Some(n_iter));
                        self.nm(x_iter).lvl_nxt = q;
                        return Ok(());
                    }
                    Some(nx) => x_iter = nx,
                }
            } else {
                if let Some(p) = self.n(x_iter).lvl_prv {
                    let v = self.get(Some(n_iter));
                    self.nm(p).lvl_nxt = v;
                    self.nm(n_iter).lvl_prv = Some(p);
                    let v = self.get(Some(n_iter));
                    self.nm(x_iter).lvl_prv = v;
                    self.nm(n_iter).lvl_nxt = Some(x_iter);
                } else {
                    let v = self.get(Some(n_iter));
                    self.nm(x_iter).lvl_prv = v;
                    let v = self.get(Some(x_iter));
                    self.nm(n_iter).lvl_nxt = v;
                }
                if self.slot_get(existing) == Some(x_iter) {
                    let v = self.get(Some(n_iter));
                    self.slot_set(existing, v);
                    let mut x = Some(x_iter);
                    self.node_put(&mut x);
                }
                return Ok(());
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new_node(&mut self, arg: u32, hi: bool, op: Op, op_orig: Op, mask: u32, datum: u32, full: u64) -> Idx {
        let i = self.alloc();
        let n = self.nm(i);
        n.arg = arg;
        n.arg_h_flg = hi;
        n.op = op;
        n.op_orig = op_orig;
        n.mask = mask;
        n.datum = datum & mask;
        n.datum_full = full;
        i
    }

    /// `_db_rule_gen_64`: returns (chains, node count).
    #[allow(clippy::too_many_lines)]
    fn rule_gen_64(&mut self, rule: &Rule) -> (Option<Idx>, u32) {
        let hi = |v: u64| -> u32 { (v >> 32) as u32 };
        #[allow(clippy::cast_possible_truncation)]
        let lo = |v: u64| -> u32 { v as u32 };
        let mut chains = None;
        let mut node_cnt = 0u32;
        let mut c_prev: [Option<Idx>; 3] = [None; 3];
        let mut op_prev: Option<Op> = None;
        let mut c_last: [Option<Idx>; 3] = [None; 3];
        for a in rule.args.iter().flatten() {
            let need_lo = !(a.op == Op::MaskedEq && lo(a.mask) == 0);
            let need_hi = !(a.op == Op::MaskedEq && hi(a.mask) == 0);
            if !need_hi && !need_lo {
                continue;
            }
            let c: [Option<Idx>; 3] = match a.op {
                Op::Gt | Op::Ge | Op::Le | Op::Lt => {
                    let c0 = self.new_node(a.arg, true, Op::Gt, a.op, hi(a.mask), hi(a.datum), a.datum);
                    let c1 = self.new_node(a.arg, true, Op::Eq, a.op, hi(a.mask), hi(a.datum), a.datum);
                    let op2 = if matches!(a.op, Op::Gt | Op::Le) { Op::Gt } else { Op::Ge };
                    let c2 = self.new_node(a.arg, false, op2, a.op, lo(a.mask), lo(a.datum), a.datum);
                    let v = self.get(Some(c1));
                    self.nm(c0).nxt_f = v;
                    let v = self.get(Some(c2));
                    self.nm(c1).nxt_t = v;
                    [Some(c0), Some(c1), Some(c2)]
                }
                Op::Eq | Op::MaskedEq | Op::Ne => {
                    let op = if a.op == Op::MaskedEq { Op::MaskedEq } else { Op::Eq };
                    let c0 = self.new_node(a.arg, true, op, a.op, hi(a.mask), hi(a.datum), a.datum);
                    let c1 = self.new_node(a.arg, false, op, a.op, lo(a.mask), lo(a.datum), a.datum);
                    let v = self.get(Some(c1));
                    self.nm(c0).nxt_t = v;
                    [Some(c0), Some(c1), None]
                }
            };
            if let (Some(p0), Some(prev_op)) = (c_prev[0], op_prev) {
                let head = c[0];
                match prev_op {
                    Op::Gt | Op::Ge => {
                        let v = self.get(head);
                        self.nm(p0).nxt_t = v;
                        if let Some(p2) = c_prev[2] {
                            let v = self.get(head);
                            self.nm(p2).nxt_t = v;
                        }
                    }
                    Op::Eq | Op::MaskedEq => {
                        if let Some(p1) = c_prev[1] {
                            let v = self.get(head);
                            self.nm(p1).nxt_t = v;
                        }
                    }
                    Op::Le | Op::Lt => {
                        if let Some(p1) = c_prev[1] {
                            let v = self.get(head);
                            self.nm(p1).nxt_f = v;
                        }
                        if let Some(p2) = c_prev[2] {
                            let v = self.get(head);
                            self.nm(p2).nxt_f = v;
                        }
                    }
                    Op::Ne => {
                        let v = self.get(head);
                        self.nm(p0).nxt_f = v;
                        if let Some(p1) = c_prev[1] {
                            let v = self.get(head);
                            self.nm(p1).nxt_f = v;
                        }
                    }
                }
            } else {
                chains = self.get(c[0]);
            }
            node_cnt += if matches!(a.op, Op::Ne | Op::Eq | Op::MaskedEq) { 2 } else { 3 };
            c_prev = c;
            c_last = c;
            op_prev = Some(a.op);
        }
        if let (Some(c0), Some(op)) = (c_last[0], op_prev) {
            let set_t = |db: &mut Db, i: Option<Idx>| {
                if let Some(i) = i {
                    let n = db.nm(i);
                    n.act_t_flg = true;
                    n.act_t = rule.action;
                }
            };
            let set_f = |db: &mut Db, i: Option<Idx>| {
                if let Some(i) = i {
                    let n = db.nm(i);
                    n.act_f_flg = true;
                    n.act_f = rule.action;
                }
            };
            match op {
                Op::Gt | Op::Ge => {
                    set_t(self, Some(c0));
                    set_t(self, c_last[2]);
                }
                Op::Le | Op::Lt => {
                    set_f(self, c_last[1]);
                    set_f(self, c_last[2]);
                }
                Op::Eq | Op::MaskedEq => set_t(self, c_last[1]),
                Op::Ne => {
                    set_f(self, Some(c0));
                    set_f(self, c_last[1]);
                }
            }
        }
        (chains, node_cnt)
    }

    /// `_db_rule_gen_32`.
    fn rule_gen_32(&mut self, rule: &Rule) -> (Option<Idx>, u32) {
        #[allow(clippy::cast_possible_truncation)]
        let lo = |v: u64| -> u32 { v as u32 };
        let mut chains = None;
        let mut node_cnt = 0u32;
        let mut c_prev: Option<Idx> = None;
        let mut tf_flag = true;
        for a in rule.args.iter().flatten() {
            if a.op == Op::MaskedEq && lo(a.mask) == 0 {
                continue;
            }
            let i = self.alloc();
            {
                let n = self.nm(i);
                n.arg = a.arg;
                n.arg_h_flg = false;
                n.op = a.op;
                n.op_orig = a.op;
                n.mask = lo(a.mask);
                n.datum = lo(a.datum);
                n.datum_full = a.datum;
            }
            if let Some(p) = c_prev {
                let v = self.get(Some(i));
                if tf_flag {
                    self.nm(p).nxt_t = v;
                } else {
                    self.nm(p).nxt_f = v;
                }
            } else {
                chains = self.get(Some(i));
            }
            node_cnt += 1;
            let (op, tf) = match a.op {
                Op::Ne => (Op::Eq, false),
                Op::Lt => (Op::Ge, false),
                Op::Le => (Op::Gt, false),
                other => (other, true),
            };
            tf_flag = tf;
            let n = self.nm(i);
            n.op = op;
            n.datum &= n.mask;
            c_prev = Some(i);
        }
        if let Some(p) = c_prev {
            let n = self.nm(p);
            if tf_flag {
                n.act_t_flg = true;
                n.act_t = rule.action;
            } else {
                n.act_f_flg = true;
                n.act_f = rule.action;
            }
        }
        (chains, node_cnt)
    }

    /// `db_rule_add`: adds a rule whose syscall is already this architecture's number.
    ///
    /// libseccomp's merge can link a level into a loop (2.5.4 and 2.6.1 then spin forever freeing
    /// it); every walk here is bounded, and such a rule is refused with [`DbError::Loop`]. The
    /// database is then inconsistent: the caller rebuilds it from its rules.
    pub(crate) fn rule_add(&mut self, rule: &Rule) -> Result<(), DbError> {
        self.broken.set(false);
        self.depth.set(0);
        let r = self.rule_add_inner(rule);
        if self.broken.get() {
            return Err(DbError::Loop);
        }
        r
    }

    fn rule_add_inner(&mut self, rule: &Rule) -> Result<(), DbError> {
        let (new_chains, new_cnt) = if self.arch.is_64() { self.rule_gen_64(rule) } else { self.rule_gen_32(rule) };
        let mut s_new_chains = new_chains;
        #[allow(clippy::cast_sign_loss)]
        let num = rule.syscall as u32;
        let pos = self.syscalls.iter().position(|e| e.num >= num);
        let new_priority = PRI_MASK_CHAIN.wrapping_sub(new_cnt);
        let mut rm_flag = false;
        let s_idx = match pos {
            Some(i) if self.syscalls.get(i).is_some_and(|e| e.num == num) => i,
            _ => {
                let entry = SysEntry {
                    num,
                    priority: new_priority,
                    chains: s_new_chains,
                    node_cnt: new_cnt,
                    action: rule.action,
                    valid: true,
                };
                match pos {
                    Some(i) => self.syscalls.insert(i, entry),
                    None => self.syscalls.push(entry),
                }
                return Ok(());
            }
        };
        let result = loop {
            // add_reset:
            let Some(entry) = self.syscalls.get(s_idx).cloned() else { return Ok(()) };
            if entry.chains.is_none() {
                if rm_flag || !entry.valid {
                    if let Some(e) = self.sys(s_idx) {
                        e.chains = s_new_chains;
                        e.action = rule.action;
                        e.node_cnt = new_cnt;
                        if e.valid {
                            e.priority = new_priority;
                        }
                        e.valid = true;
                    }
                    break Ok(());
                }
                self.tree_put(&mut s_new_chains);
                break Ok(());
            } else if s_new_chains.is_none() {
                let mut c = entry.chains;
                self.tree_put(&mut c);
                if let Some(e) = self.sys(s_idx) {
                    e.chains = None;
                    e.node_cnt = 0;
                    e.action = rule.action;
                }
                break Ok(());
            }
            let mut state = IterState { flags: 0, action: rule.action, sx: s_idx };
            let rc = self.tree_prune(entry.chains, s_new_chains, &mut state);
            if rc > 0 {
                rm_flag = true;
                if let Some(e) = self.sys(s_idx) {
                    e.node_cnt = e.node_cnt.wrapping_sub(rc);
                }
                if self.syscalls.get(s_idx).is_none_or(|e| e.chains.is_none()) {
                    continue;
                }
            } else if state.flags & IST_M_REDUNDANT == IST_M_REDUNDANT {
                self.tree_put(&mut s_new_chains);
                break Ok(());
            }
            let state = IterState { flags: 0, action: 0, sx: s_idx };
            let Some(head) = s_new_chains else { break Ok(()) };
            if let Err(e) = self.tree_add(Slot::Chains(s_idx), head, &state) {
                self.tree_put(&mut s_new_chains);
                return Err(e);
            }
            if let Some(e) = self.sys(s_idx) {
                e.node_cnt = e.node_cnt.wrapping_add(new_cnt);
            }
            let freed = self.tree_put(&mut s_new_chains);
            if let Some(e) = self.sys(s_idx) {
                e.node_cnt = e.node_cnt.wrapping_sub(freed);
            }
            break Ok(());
        };
        if let Some(e) = self.sys(s_idx) {
            e.priority &= !PRI_MASK_CHAIN;
            e.priority |= PRI_MASK_CHAIN.wrapping_sub(e.node_cnt);
        }
        result
    }

    /// `_db_syscall_priority`.
    pub(crate) fn syscall_priority(&mut self, syscall: i32, priority: u8) {
        let sys_pri = (u32::from(priority) << 16) & PRI_MASK_USER;
        #[allow(clippy::cast_sign_loss)]
        let num = syscall as u32;
        let pos = self.syscalls.iter().position(|e| e.num >= num);
        if let Some(i) = pos
            && let Some(e) = self.syscalls.get_mut(i)
            && e.num == num
        {
            if sys_pri > (e.priority & PRI_MASK_USER) {
                e.priority &= !PRI_MASK_USER;
                e.priority |= sys_pri;
            }
            return;
        }
        let entry = SysEntry { num, priority: sys_pri, chains: None, node_cnt: 0, action: 0, valid: false };
        match pos {
            Some(i) => self.syscalls.insert(i, entry),
            None => self.syscalls.push(entry),
        }
    }
}

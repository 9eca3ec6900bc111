//! Compiles a [`Filter`] into a seccomp BPF program whose decisions equal libseccomp's.
//!
//! The program checks the architecture, then finds the syscall with a binary search over the
//! syscall-number line (intervals of equal outcome merged, splits balanced on the syscalls that
//! exist on the ABI, like libseccomp's optimize level 2 but over ranges instead of single
//! numbers), and evaluates the syscall's argument tree with libseccomp's fall-through semantics
//! ([`crate::filter::eval_level`]). Blocks form a DAG laid out in reverse post-order; branches
//! longer than 255 instructions get a copy of a target `ret` or a `ja` trampoline; the
//! accumulator is reloaded only where a predecessor may have left something else in it.

use std::collections::{BTreeSet, HashMap};

use crate::arch::{Arch, Endian, X32_SYSCALL_BIT};
use crate::bpf::{Insn, MAX_INSNS, op};
use crate::db::{Db, Idx, Op};
use crate::filter::{Filter, level_start};

/// Why a filter cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The program would be longer than the kernel accepts.
    #[error("the compiled program has {0} instructions; the kernel accepts at most 4096")]
    TooLong(usize),
    /// The filter has no architecture.
    #[error("the filter has no architecture")]
    NoArch,
}

/// What the accumulator holds: a 32-bit word of `seccomp_data` under a mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Acc {
    off: u32,
    mask: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Term {
    Ret(u32),
    Jump { code: u16, k: u32, t: usize, f: usize },
    Ja(usize),
}

#[derive(Clone, Debug)]
struct Block {
    needs: Option<Acc>,
    term: Term,
}

#[derive(Default)]
struct Graph {
    blocks: Vec<Block>,
    rets: HashMap<u32, usize>,
    memo: HashMap<(usize, Idx, usize), usize>,
}

impl Graph {
    fn add(&mut self, needs: Option<Acc>, term: Term) -> usize {
        self.blocks.push(Block { needs, term });
        self.blocks.len() - 1
    }

    /// A `ret` block (one per value per arch block: keeps returns near their jumps).
    fn ret(&mut self, v: u32) -> usize {
        if let Some(b) = self.rets.get(&v) {
            return *b;
        }
        let b = self.add(None, Term::Ret(v));
        self.rets.insert(v, b);
        b
    }
}

const NR: Acc = Acc { off: 0, mask: u32::MAX };
const ARCH: Acc = Acc { off: 4, mask: u32::MAX };

fn arg_offset(arch: Arch, arg: u32, hi: bool) -> u32 {
    let base = 16 + 8 * arg;
    let low_first = arch.endian() == Endian::Little;
    if hi == low_first { base + 4 } else { base }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    Ret(u32),
    /// (database index in the block, syscall entry index)
    Chain(usize, usize),
}

/// Compiles `filter` to BPF.
///
/// # Errors
/// When the program would exceed 4096 instructions, or the filter has no architecture.
pub fn compile(filter: &Filter) -> Result<Vec<Insn>, CompileError> {
    let blocks = filter.blocks();
    if blocks.is_empty() {
        return Err(CompileError::NoArch);
    }
    let mut g = Graph::default();
    let badarch = filter.attrs.act_badarch;
    // the architecture dispatch, built back to front
    let mut next = g.ret(badarch);
    let mut arch_bodies = Vec::new();
    for (primary, secondary) in blocks.iter().rev() {
        g.rets.clear();
        g.memo.clear();
        let body = arch_body(&mut g, filter, primary, *secondary);
        arch_bodies.push(body);
        next = g.add(
            Some(ARCH),
            Term::Jump { code: op::JMP | op::JEQ | op::K, k: primary.arch.audit_arch(), t: body, f: next },
        );
    }
    let entry = next;
    let prog = layout(&g, entry);
    if prog.len() > MAX_INSNS {
        return Err(CompileError::TooLong(prog.len()));
    }
    Ok(prog)
}

fn arch_body(g: &mut Graph, filter: &Filter, primary: &Db, secondary: Option<&Db>) -> usize {
    let default = filter.default_ret();
    let badarch = filter.attrs.act_badarch;
    let dbs: Vec<&Db> = std::iter::once(primary).chain(secondary).collect();
    // syscall number → outcome (the first database wins, as in `Filter::decide`)
    let mut points: Vec<(u32, Outcome)> = Vec::new();
    for (di, db) in dbs.iter().enumerate() {
        for (si, e) in db.syscalls.iter().enumerate() {
            if !filter.emitted(e.num, e.valid) || points.iter().any(|(n, _)| *n == e.num) {
                continue;
            }
            let o = match e.chains {
                None => Outcome::Ret(e.action),
                Some(_) => Outcome::Chain(di, si),
            };
            points.push((e.num, o));
        }
    }
    points.sort_by_key(|p| p.0);
    let bad_region: Option<(u32, u32)> = match (primary.arch, secondary) {
        (Arch::X86_64, None) => Some((X32_SYSCALL_BIT, u32::MAX - 1)),
        (Arch::X32, None) => Some((0, X32_SYSCALL_BIT - 1)),
        _ => None,
    };
    let mut bounds: BTreeSet<u32> = BTreeSet::new();
    bounds.insert(0);
    for (n, _) in &points {
        bounds.insert(*n);
        if let Some(m) = n.checked_add(1) {
            bounds.insert(m);
        }
    }
    if let Some((lo, hi)) = bad_region {
        bounds.insert(lo);
        if let Some(m) = hi.checked_add(1) {
            bounds.insert(m);
        }
    }
    let bounds: Vec<u32> = bounds.into_iter().collect();
    let mut ivs: Vec<(u32, u32, Outcome)> = Vec::new();
    for (i, lo) in bounds.iter().enumerate() {
        let hi = bounds.get(i + 1).map_or(u32::MAX, |n| n - 1);
        let o = if bad_region.is_some_and(|(a, b)| *lo >= a && *lo <= b) {
            Outcome::Ret(badarch)
        } else {
            points.iter().find(|(n, _)| n == lo).map_or(Outcome::Ret(default), |(_, o)| *o)
        };
        match ivs.last_mut() {
            Some(last) if last.2 == o && matches!(o, Outcome::Ret(_)) => last.1 = hi,
            _ => ivs.push((*lo, hi, o)),
        }
    }
    // weights: the syscalls that exist on the ABI(s)
    let known: Vec<u32> =
        dbs.iter().flat_map(|d| crate::arch::syscall_names().filter_map(move |n| d.arch.syscall_number(n))).collect();
    let weights: Vec<u64> = ivs
        .iter()
        .map(|(lo, hi, _)| 1 + 1000 * known.iter().filter(|n| **n >= *lo && **n <= *hi).count() as u64)
        .collect();
    // `ld nr` happens at the first search block (its `needs`)
    search_tree(g, filter, &dbs, &ivs, &weights)
}

fn search_tree(g: &mut Graph, filter: &Filter, dbs: &[&Db], ivs: &[(u32, u32, Outcome)], w: &[u64]) -> usize {
    match ivs {
        [] => g.ret(filter.default_ret()),
        [(_, _, o)] => outcome_block(g, filter, dbs, *o),
        [(_, a_hi, Outcome::Ret(r1)), (m, m_hi, mid), (_, _, Outcome::Ret(r3))] if r1 == r3 && m == m_hi => {
            // a single number between two equal outcomes: one `jeq`
            let _ = a_hi;
            let t = outcome_block(g, filter, dbs, *mid);
            let f = g.ret(*r1);
            g.add(Some(NR), Term::Jump { code: op::JMP | op::JEQ | op::K, k: *m, t, f })
        }
        _ => {
            let total: u64 = w.iter().sum();
            let mut prefix = 0u64;
            let mut split = 1;
            let mut best = u64::MAX;
            for (i, x) in w.iter().enumerate().take(ivs.len() - 1) {
                prefix += x;
                let imbalance = (2 * prefix).abs_diff(total);
                if imbalance < best {
                    best = imbalance;
                    split = i + 1;
                }
            }
            let (l, r) = ivs.split_at(split);
            let (wl, wr) = w.split_at(split);
            let k = r.first().map_or(0, |iv| iv.0);
            let t = search_tree(g, filter, dbs, r, wr);
            let f = search_tree(g, filter, dbs, l, wl);
            g.add(Some(NR), Term::Jump { code: op::JMP | op::JGE | op::K, k, t, f })
        }
    }
}

fn outcome_block(g: &mut Graph, filter: &Filter, dbs: &[&Db], o: Outcome) -> usize {
    match o {
        Outcome::Ret(r) => g.ret(r),
        Outcome::Chain(di, si) => {
            let Some(db) = dbs.get(di) else { return g.ret(filter.default_ret()) };
            let Some(head) = db.syscalls.get(si).and_then(|e| e.chains) else {
                return g.ret(filter.default_ret());
            };
            let fall = g.ret(filter.default_ret());
            level(g, di, db, head, fall)
        }
    }
}

/// The blocks of one level of a syscall's tree; `fall` is where the level falls through to.
fn level(g: &mut Graph, di: usize, db: &Db, node: Idx, fall: usize) -> usize {
    let start = level_start(db, node);
    if let Some(b) = g.memo.get(&(di, start, fall)) {
        return *b;
    }
    let mut nodes = Vec::new();
    let mut cur = Some(start);
    while let Some(i) = cur {
        if nodes.len() > db.nodes.len() {
            break;
        }
        nodes.push(i);
        cur = db.n(i).lvl_nxt;
    }
    let mut next = fall;
    for &i in nodes.iter().rev() {
        let n = db.n(i).clone();
        let t = match (n.nxt_t, n.act_t_flg) {
            (Some(nx), _) => level(g, di, db, nx, next),
            (None, true) => g.ret(n.act_t),
            (None, false) => next,
        };
        let f = match (n.nxt_f, n.act_f_flg) {
            (Some(nx), _) => level(g, di, db, nx, next),
            (None, true) => g.ret(n.act_f),
            (None, false) => next,
        };
        let code = match n.op {
            Op::Gt => op::JMP | op::JGT | op::K,
            Op::Ge => op::JMP | op::JGE | op::K,
            _ => op::JMP | op::JEQ | op::K,
        };
        let acc = Acc { off: arg_offset(db.arch, n.arg, n.arg_h_flg), mask: n.mask };
        next = if t == f { t } else { g.add(Some(acc), Term::Jump { code, k: n.datum, t, f }) };
    }
    g.memo.insert((di, start, fall), next);
    next
}

/// Orders the blocks (reverse post-order from `entry`), decides the loads, resolves jumps.
fn layout(g: &Graph, entry: usize) -> Vec<Insn> {
    // reverse post-order, visiting the true branch first so the false branch follows
    let n = g.blocks.len();
    let mut seen = vec![false; n];
    let mut post = Vec::with_capacity(n);
    let mut stack: Vec<(usize, u8)> = vec![(entry, 0)];
    while let Some((b, state)) = stack.pop() {
        if state == 0 {
            if seen.get(b).copied().unwrap_or(true) {
                continue;
            }
            if let Some(s) = seen.get_mut(b) {
                *s = true;
            }
            stack.push((b, 1));
            match g.blocks.get(b).map(|x| x.term) {
                Some(Term::Jump { t, f, .. }) => {
                    stack.push((f, 0));
                    stack.push((t, 0));
                }
                Some(Term::Ja(t)) => stack.push((t, 0)),
                _ => {}
            }
        } else {
            post.push(b);
        }
    }
    post.reverse();
    let mut order: Vec<Item> =
        post.iter().map(|b| Item { block: *b, term: g.blocks.get(*b).map(|x| x.term) }).collect();
    // the accumulator at each block's entry: known when every predecessor leaves the same value
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (b, blk) in g.blocks.iter().enumerate() {
        match blk.term {
            Term::Jump { t, f, .. } => {
                for x in [t, f] {
                    if let Some(p) = preds.get_mut(x) {
                        p.push(b);
                    }
                }
            }
            Term::Ja(t) => {
                if let Some(p) = preds.get_mut(t) {
                    p.push(b);
                }
            }
            Term::Ret(_) => {}
        }
    }
    // exit state of a block = its `needs` (loads are emitted to reach it); entry: nothing
    let loads: Vec<Vec<Insn>> = (0..n)
        .map(|b| {
            let Some(need) = g.blocks.get(b).and_then(|x| x.needs) else { return Vec::new() };
            let ps = preds.get(b).map(Vec::as_slice).unwrap_or_default();
            let exits: Vec<Option<Acc>> = ps.iter().map(|p| g.blocks.get(*p).and_then(|x| x.needs)).collect();
            let all = |a: Acc| !exits.is_empty() && b != entry && exits.iter().all(|e| *e == Some(a));
            if all(need) {
                Vec::new()
            } else if need.mask != u32::MAX && all(Acc { off: need.off, mask: u32::MAX }) {
                vec![Insn::stmt(op::ALU | op::AND | op::K, need.mask)]
            } else if need.mask != u32::MAX {
                vec![Insn::stmt(op::LD | op::W | op::ABS, need.off), Insn::stmt(op::ALU | op::AND | op::K, need.mask)]
            } else {
                vec![Insn::stmt(op::LD | op::W | op::ABS, need.off)]
            }
        })
        .collect();
    let size = |it: &Item| -> usize {
        let l = if it.block == usize::MAX { 0 } else { loads.get(it.block).map_or(0, Vec::len) };
        l + 1
    };
    // relax: a conditional jump further than 255 gets a copy of its `ret` or a `ja`
    let mut guard = 0usize;
    'relax: loop {
        guard += 1;
        if guard > 100_000 {
            break;
        }
        let mut pos = Vec::with_capacity(order.len());
        let mut p = 0usize;
        let mut first_of: HashMap<usize, usize> = HashMap::new();
        for (i, it) in order.iter().enumerate() {
            pos.push(p);
            if it.block != usize::MAX {
                first_of.entry(it.block).or_insert(i);
            }
            p += size(it);
        }
        for i in 0..order.len() {
            let Some(Item { term: Some(Term::Jump { t, f, code, k }), .. }) = order.get(i).copied() else { continue };
            let end = pos.get(i).copied().unwrap_or(0) + order.get(i).map_or(1, size);
            for (is_t, target) in [(true, t), (false, f)] {
                let at = first_of.get(&target).and_then(|j| pos.get(*j)).copied().unwrap_or(0);
                if at.saturating_sub(end) > 255 {
                    let tramp = match g.blocks.get(target).map(|x| x.term) {
                        Some(Term::Ret(v)) => Item { block: usize::MAX, term: Some(Term::Ret(v)) },
                        _ => Item { block: usize::MAX, term: Some(Term::Ja(target)) },
                    };
                    // jt's trampoline comes right after the jump, jf's after jt's
                    let at = if !is_t && t == TRAMP { i + 2 } else { i + 1 };
                    order.insert(at, tramp);
                    // redirect the branch to the trampoline (the item right after)
                    if let Some(it) = order.get_mut(i) {
                        it.term = Some(if is_t {
                            Term::Jump { code, k, t: TRAMP, f }
                        } else {
                            Term::Jump { code, k, t, f: TRAMP }
                        });
                    }
                    continue 'relax;
                }
            }
        }
        // emit
        let mut prog = Vec::with_capacity(p);
        for (i, it) in order.iter().enumerate() {
            if it.block != usize::MAX {
                prog.extend(loads.get(it.block).cloned().unwrap_or_default());
            }
            let end = pos.get(i).copied().unwrap_or(0) + size(it);
            let off = |target: usize| -> usize {
                if target == TRAMP {
                    // the trampolines follow the jump: jt's first, then jf's
                    return 0;
                }
                let at = first_of.get(&target).and_then(|j| pos.get(*j)).copied().unwrap_or(end);
                at.saturating_sub(end)
            };
            match it.term {
                Some(Term::Ret(v)) => prog.push(Insn::stmt(op::RET | op::K, v)),
                Some(Term::Ja(t)) => prog.push(Insn::stmt(op::JMP | op::JA, u32::try_from(off(t)).unwrap_or(0))),
                Some(Term::Jump { code, k, t, f }) => {
                    let (jt, jf) = match (t == TRAMP, f == TRAMP) {
                        (true, true) => (0, 1),
                        (true, false) => (0, off(f)),
                        (false, true) => (off(t), 0),
                        (false, false) => (off(t), off(f)),
                    };
                    let jt = u8::try_from(jt).unwrap_or(u8::MAX);
                    let jf = u8::try_from(jf).unwrap_or(u8::MAX);
                    prog.push(Insn::jump(code, k, jt, jf));
                }
                None => {}
            }
        }
        return prog;
    }
    Vec::new()
}

const TRAMP: usize = usize::MAX;

#[derive(Clone, Copy)]
struct Item {
    block: usize,
    term: Option<Term>,
}

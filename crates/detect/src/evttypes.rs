//! Which event types a syscall rule can match, as Falco's loader works it out to warn about rules
//! that run on every event (`LOAD_NO_EVTTYPE`) and to refuse unknown event names.
//!
//! The walk follows libsinsp's event-type resolver: `and` intersects, `or` unites, and a
//! negation flips only the `evt.type` comparisons beneath it (every other check stands for all
//! event types, negated or not). The result is counted in event codes (enter, exit, older
//! versions), which is what Falco compares with its limit of 100.

use std::collections::HashMap;

use super::parser::{CmpOp, Expr, Operand, Rhs};

/// The number of event codes `expr` can match; `Err` names an unknown event type.
pub fn codes(
    expr: &Expr,
    macros: &HashMap<&str, Expr>,
    lists: &HashMap<&str, Vec<String>>,
    types: &[(&'static str, usize)],
) -> Result<usize, String> {
    let index: HashMap<&str, usize> = types.iter().enumerate().map(|(i, (n, _))| (*n, i)).collect();
    let all = Bits::all(types.len());
    let mut w = Walk { macros, lists, index: &index, all: &all, depth: 0 };
    let set = w.walk(expr, false)?;
    Ok(set.ones().map(|i| types.get(i).map_or(0, |t| t.1)).sum())
}

/// A set of event-type indexes as a bit set: intersections, unions and complements in a few
/// words, so that large conditions cost little.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn empty(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }
    fn all(n: usize) -> Self {
        let mut b = Self::empty(n);
        for i in 0..n {
            b.insert(i);
        }
        b
    }
    fn insert(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
    fn and(&mut self, o: &Self) {
        self.0.iter_mut().zip(&o.0).for_each(|(a, b)| *a &= b);
    }
    fn or(&mut self, o: &Self) {
        self.0.iter_mut().zip(&o.0).for_each(|(a, b)| *a |= b);
    }
    /// `all` minus this set.
    fn complement_in(&self, all: &Self) -> Self {
        Self(self.0.iter().zip(&all.0).map(|(a, b)| b & !a).collect())
    }
    fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(k, w)| (0..64).filter(move |b| w >> b & 1 == 1).map(move |b| k * 64 + b))
    }
}

struct Walk<'a> {
    macros: &'a HashMap<&'a str, Expr>,
    lists: &'a HashMap<&'a str, Vec<String>>,
    index: &'a HashMap<&'a str, usize>,
    all: &'a Bits,
    depth: usize,
}

impl Walk<'_> {
    fn walk(&mut self, e: &Expr, negated: bool) -> Result<Bits, String> {
        Ok(match e {
            Expr::And(v) => {
                let mut acc = self.all.clone();
                for x in v {
                    acc.and(&self.walk(x, negated)?);
                }
                acc
            }
            Expr::Or(v) => {
                let mut acc = Bits::empty(self.all.0.len() * 64);
                for x in v {
                    acc.or(&self.walk(x, negated)?);
                }
                acc
            }
            Expr::Not(x) => self.walk(x, !negated)?,
            Expr::Ident(name) => match self.macros.get(name.as_str()) {
                // macros were checked (defined, no loops) before; a bound keeps the walk finite
                Some(m) if self.depth < crate::limits::MAX_EXPANSION_DEPTH => {
                    self.depth += 1;
                    let s = self.walk(m, negated);
                    self.depth -= 1;
                    s?
                }
                _ => self.all.clone(),
            },
            Expr::Compare { lhs: Operand::Field { name, arg: None }, op, modifier: None, rhs }
                if name == "evt.type" && matches!(op, CmpOp::Eq | CmpOp::Ne | CmpOp::In) =>
            {
                let names: Vec<String> = match rhs {
                    Rhs::Value(v) => match self.lists.get(v.as_str()).map(Vec::as_slice) {
                        Some([one]) => vec![one.clone()],
                        _ => vec![v.clone()],
                    },
                    Rhs::List(items) => items
                        .iter()
                        .flat_map(|i| self.lists.get(i.as_str()).cloned().unwrap_or_else(|| vec![i.clone()]))
                        .collect(),
                    Rhs::ListRef(l) => self.lists.get(l.as_str()).cloned().unwrap_or_else(|| vec![l.clone()]),
                    Rhs::Operand(_) => return Ok(self.all.clone()),
                };
                let mut set = Bits::empty(self.all.0.len() * 64);
                for n in &names {
                    match self.index.get(n.as_str()) {
                        Some(i) => set.insert(*i),
                        None => return Err(format!("unknown event type {n}")),
                    }
                }
                if (*op == CmpOp::Ne) != negated { set.complement_in(self.all) } else { set }
            }
            Expr::Exists(_) | Expr::Compare { .. } => self.all.clone(),
        })
    }
}

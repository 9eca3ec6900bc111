//! Bounds on what a rules file may expand to. A list may name earlier lists and a macro may use
//! other macros, so a file of a kilobyte can describe a condition of billions of nodes (each list
//! naming the previous one eight times, each macro using the previous one four times). Falco
//! expands such files until memory runs out; we measure the expansion first, without building it,
//! and refuse it with a load error naming the list, macro or rule.
//!
//! The limits are far above what real rules files use (Falco's own `k8s_audit` rules expand to a
//! few hundred nodes per rule and a few thousand in all).

use std::collections::HashMap;

use super::parser::{Expr, Rhs};

/// The most items one list may hold once the lists it names are expanded.
pub const MAX_LIST_ITEMS: usize = 100_000;

/// The most items all lists together may hold once expanded.
pub const MAX_TOTAL_LIST_ITEMS: usize = 1_000_000;

/// The most nodes one rule's condition (or one macro) may have once its macros and lists are
/// expanded: one per operator and comparison, plus one per item of each list compared against.
pub const MAX_CONDITION_NODES: usize = 100_000;

/// The most nodes all compiled rules together may have.
pub const MAX_TOTAL_NODES: usize = 1_000_000;

/// The deepest a condition may nest once its macros are expanded (each `and`/`or`/`not` and each
/// macro reference is a level). The parser bounds one condition's text to 100 levels; a chain of
/// macros could otherwise nest without bound and overflow the stack while compiling.
pub const MAX_EXPANSION_DEPTH: usize = 400;

/// Why a condition is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TooLarge {
    /// More than [`MAX_CONDITION_NODES`] nodes; `macro_name` is the innermost macro that is over
    /// the limit on its own (`None`: only the whole condition is).
    Nodes {
        /// The innermost macro over the limit.
        macro_name: Option<String>,
    },
    /// Nested deeper than [`MAX_EXPANSION_DEPTH`]; the macros being expanded, outermost first.
    Depth {
        /// The chain of macros at the point the limit was passed.
        chain: Vec<String>,
    },
}

/// One macro's expansion: nodes, nesting levels, and the innermost macro over the node limit.
#[derive(Clone, Copy)]
struct Measured<'a> {
    nodes: usize,
    levels: usize,
    over: Option<&'a str>,
}

/// Measures conditions with their macros and lists expanded, remembering each macro's size.
pub struct Sizer<'a> {
    macros: &'a HashMap<&'a str, Expr>,
    lists: &'a HashMap<&'a str, Vec<String>>,
    /// Per macro: its expansion measured.
    memo: HashMap<&'a str, Measured<'a>>,
    /// Macros being expanded (a recursive use counts as one node: compilation reports it).
    stack: Vec<&'a str>,
    /// The innermost macro found over [`MAX_CONDITION_NODES`].
    over: Option<&'a str>,
}

impl<'a> Sizer<'a> {
    /// A sizer over parsed macros and expanded lists.
    #[must_use]
    pub fn new(macros: &'a HashMap<&'a str, Expr>, lists: &'a HashMap<&'a str, Vec<String>>) -> Self {
        Self { macros, lists, memo: HashMap::new(), stack: Vec::new(), over: None }
    }

    /// The number of nodes `expr` expands to.
    ///
    /// # Errors
    /// When it is over [`MAX_CONDITION_NODES`] or nests deeper than [`MAX_EXPANSION_DEPTH`].
    pub fn measure(&mut self, expr: &Expr) -> Result<usize, TooLarge> {
        self.over = None;
        self.stack.clear();
        let (nodes, _) = self.expr(expr, 0)?;
        if nodes > MAX_CONDITION_NODES {
            return Err(TooLarge::Nodes { macro_name: self.over.take().map(str::to_owned) });
        }
        Ok(nodes)
    }

    fn list_len(&self, name: &str) -> usize {
        self.lists.get(name).map_or(1, Vec::len)
    }

    /// (nodes, levels) of `e` at nesting `depth`; nodes saturate.
    fn expr(&mut self, e: &Expr, depth: usize) -> Result<(usize, usize), TooLarge> {
        if depth >= MAX_EXPANSION_DEPTH {
            return Err(TooLarge::Depth { chain: self.stack.iter().map(|s| (*s).to_owned()).collect() });
        }
        Ok(match e {
            Expr::And(v) | Expr::Or(v) => {
                let (mut nodes, mut levels) = (1usize, 0usize);
                for x in v {
                    let (n, l) = self.expr(x, depth + 1)?;
                    nodes = nodes.saturating_add(n);
                    levels = levels.max(l);
                }
                (nodes, levels + 1)
            }
            Expr::Not(x) => {
                let (n, l) = self.expr(x, depth + 1)?;
                (n.saturating_add(1), l + 1)
            }
            Expr::Exists(_) => (1, 1),
            Expr::Compare { rhs, .. } => {
                let items = match rhs {
                    Rhs::Value(v) => self.lists.get(v.as_str()).map_or(0, Vec::len),
                    Rhs::ListRef(v) => self.list_len(v),
                    Rhs::List(items) => items.iter().fold(0usize, |n, i| n.saturating_add(self.list_len(i))),
                    Rhs::Operand(_) => 0,
                };
                (items.saturating_add(1), 1)
            }
            Expr::Ident(name) => self.macro_size(name, depth)?,
        })
    }

    fn macro_size(&mut self, name: &str, depth: usize) -> Result<(usize, usize), TooLarge> {
        if let Some(m) = self.memo.get(name) {
            let (nodes, levels, over) = (m.nodes, m.levels, m.over);
            if depth + levels > MAX_EXPANSION_DEPTH {
                let mut chain: Vec<String> = self.stack.iter().map(|s| (*s).to_owned()).collect();
                chain.push(name.to_owned());
                return Err(TooLarge::Depth { chain });
            }
            self.over = self.over.or(over);
            return Ok((nodes, levels));
        }
        // Undefined or recursive: one node; compilation reports the error.
        let Some((key, body)) = self.macros.get_key_value(name) else { return Ok((1, 1)) };
        if self.stack.contains(key) {
            return Ok((1, 1));
        }
        let outer = self.over.take();
        self.stack.push(key);
        let r = self.expr(body, depth + 1);
        self.stack.pop();
        let (nodes, levels) = r?;
        let inner = self.over.take();
        let over = inner.or_else(|| (nodes > MAX_CONDITION_NODES).then_some(*key));
        self.over = outer.or(over);
        self.memo.insert(key, Measured { nodes, levels: levels + 1, over });
        Ok((nodes, levels + 1))
    }
}

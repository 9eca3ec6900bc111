//! RFC 6902 JSON Patch: the difference between two JSON documents as `add`, `remove` and
//! `replace` operations (what a mutating webhook returns), and applying a patch (for tests and
//! for checking what a patch does).

use serde::Serialize;
use serde_json::Value;

use kguard_model::yaml::escape_pointer_token;

/// One operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    /// Adds a member or inserts into an array.
    Add {
        /// JSON pointer.
        path: String,
        /// The value.
        value: Value,
    },
    /// Removes the target.
    Remove {
        /// JSON pointer.
        path: String,
    },
    /// Replaces the target.
    Replace {
        /// JSON pointer.
        path: String,
        /// The value.
        value: Value,
    },
}

/// The operations that turn `from` into `to`. Objects are compared member by member; arrays of
/// equal length element by element; an array whose length changed gets appended elements as
/// `add` at `/-`-free indexes when `from` is a prefix of `to`, and is replaced whole otherwise.
#[must_use]
pub fn diff(from: &Value, to: &Value) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    diff_at("", from, to, &mut ops);
    ops
}

fn diff_at(path: &str, from: &Value, to: &Value, ops: &mut Vec<PatchOp>) {
    if from == to {
        return;
    }
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = format!("{path}/{}", escape_pointer_token(k));
                match b.get(k) {
                    Some(vb) => diff_at(&p, va, vb, ops),
                    None => ops.push(PatchOp::Remove { path: p }),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    ops.push(PatchOp::Add { path: format!("{path}/{}", escape_pointer_token(k)), value: vb.clone() });
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff_at(&format!("{path}/{i}"), va, vb, ops);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() < b.len() && b.starts_with(a) => {
            for (i, vb) in b.iter().enumerate().skip(a.len()) {
                ops.push(PatchOp::Add { path: format!("{path}/{i}"), value: vb.clone() });
            }
        }
        _ => ops.push(PatchOp::Replace { path: path.to_owned(), value: to.clone() }),
    }
}

/// An operation that cannot be applied: its index, path and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("patch operation {index} ({path}): {reason}")]
pub struct PatchError {
    /// 0-based index of the operation.
    pub index: usize,
    /// Its path.
    pub path: String,
    /// Why it cannot be applied.
    pub reason: &'static str,
}

/// Applies a patch.
///
/// # Errors
/// A path that does not exist (or whose parent does not), with the operation's index.
pub fn apply(doc: &mut Value, ops: &[PatchOp]) -> Result<(), PatchError> {
    for (i, op) in ops.iter().enumerate() {
        let (path, value) = match op {
            PatchOp::Add { path, value } | PatchOp::Replace { path, value } => (path, Some(value)),
            PatchOp::Remove { path } => (path, None),
        };
        let fail = |reason: &'static str| PatchError { index: i, path: path.clone(), reason };
        if path.is_empty() {
            match value {
                Some(v) => *doc = v.clone(),
                None => return Err(fail("cannot remove the whole document")),
            }
            continue;
        }
        let (parent, last) = path.rsplit_once('/').ok_or_else(|| fail("path must start with /"))?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let target = doc.pointer_mut(parent).ok_or_else(|| fail("parent does not exist"))?;
        match (target, op) {
            (Value::Object(m), PatchOp::Add { value, .. }) => {
                m.insert(last, value.clone());
            }
            (Value::Object(m), PatchOp::Replace { value, .. }) => {
                let slot = m.get_mut(&last).ok_or_else(|| fail("member does not exist"))?;
                *slot = value.clone();
            }
            (Value::Object(m), PatchOp::Remove { .. }) => {
                m.remove(&last).ok_or_else(|| fail("member does not exist"))?;
            }
            (Value::Array(a), op) => {
                let index = if last == "-" { a.len() } else { last.parse::<usize>().map_err(|_| fail("bad index"))? };
                match op {
                    PatchOp::Add { value, .. } if index <= a.len() => a.insert(index, value.clone()),
                    PatchOp::Replace { value, .. } if index < a.len() => {
                        if let Some(slot) = a.get_mut(index) {
                            *slot = value.clone();
                        }
                    }
                    PatchOp::Remove { .. } if index < a.len() => {
                        a.remove(index);
                    }
                    _ => return Err(fail("index out of range")),
                }
            }
            _ => return Err(fail("parent is not an object or array")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_then_apply_round_trips() {
        let cases = [
            (json!({"a": 1, "b": {"c": [1, 2]}}), json!({"a": 2, "b": {"c": [1, 2, 3]}, "d/e": true})),
            (
                json!({"spec": {"containers": [{"name": "a"}]}}),
                json!({"spec": {"containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": false}}]}}),
            ),
            (json!({"x": [1, 2, 3]}), json!({"x": [3]})),
            (json!({"x": {"y~z": 1}}), json!({"x": {}})),
            (json!([1]), json!({"a": 1})),
        ];
        for (from, to) in cases {
            let ops = diff(&from, &to);
            let mut doc = from.clone();
            apply(&mut doc, &ops).unwrap();
            assert_eq!(doc, to, "ops: {ops:?}");
        }
        assert!(diff(&json!({"a": 1}), &json!({"a": 1})).is_empty());
    }

    #[test]
    fn serialises_as_rfc6902() {
        let ops = diff(&json!({}), &json!({"a/b": 1}));
        assert_eq!(serde_json::to_value(&ops).unwrap(), json!([{"op": "add", "path": "/a~1b", "value": 1}]));
    }

    #[test]
    fn apply_reports_missing_paths() {
        let mut doc = json!({"a": 1});
        let e = apply(&mut doc, &[PatchOp::Replace { path: "/b/c".into(), value: json!(1) }]).unwrap_err();
        assert_eq!(e.reason, "parent does not exist", "{e}");
    }
}

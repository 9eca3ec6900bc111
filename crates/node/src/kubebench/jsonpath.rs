//! The part of k8s.io/client-go's JSONPath kube-bench's `path:` items use: `{.a.b}`, `{.a[0]}`,
//! `{.a[*].b}`, `{.a[:]}`, `{range …}{…}{end}`, `{}` (the current node), `{'text'}`, with missing
//! keys allowed; values printed as Go's `fmt.Fprint` prints them, several joined by a space.

use serde_json::Value;

/// kube-bench's `unmarshal`: JSON, else YAML (the first document); empty input is null.
///
/// # Errors
/// Neither JSON nor YAML.
pub fn unmarshal(s: &str) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str::<Value>(s) {
        return Ok(v);
    }
    let docs = kguard_model::yaml::parse_documents(s);
    match docs.into_iter().next() {
        None => Ok(Value::Null),
        Some(d) => match d.root {
            Ok(Some(node)) => Ok(node.to_json()),
            Ok(None) => Ok(Value::Null),
            Err(e) => Err(e.to_string()),
        },
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Text(String),
    Path(Vec<Step>),
    Range(Vec<Step>),
    End,
}

fn parse_steps(expr: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let b: Vec<char> = expr.chars().collect();
    let mut i = 0;
    if b.first() == Some(&'@') || b.first() == Some(&'$') {
        i += 1;
    }
    while i < b.len() {
        match b.get(i) {
            Some('.') => {
                i += 1;
                let start = i;
                while b.get(i).is_some_and(|c| *c != '.' && *c != '[') {
                    i += 1;
                }
                let name: String = b.get(start..i).unwrap_or(&[]).iter().collect();
                if !name.is_empty() {
                    steps.push(Step::Field(name));
                }
            }
            Some('[') => {
                let close = (i..b.len()).find(|j| b.get(*j) == Some(&']')).ok_or("unterminated array notation")?;
                let inner: String = b.get(i + 1..close).unwrap_or(&[]).iter().collect();
                let inner = inner.trim();
                if inner == "*" || inner == ":" {
                    steps.push(Step::All);
                } else if let Some(q) = inner.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
                    steps.push(Step::Field(q.to_owned()));
                } else {
                    steps.push(Step::Index(inner.parse().map_err(|_| format!("invalid array index {inner}"))?));
                }
                i = close + 1;
            }
            Some(c) if c.is_whitespace() => i += 1,
            Some(c) => return Err(format!("unrecognized character in action: {c}")),
            None => break,
        }
    }
    Ok(steps)
}

fn parse(template: &str) -> Result<Vec<Node>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let Some(open) = rest.find('{') else {
            out.push(Node::Text(rest.to_owned()));
            break;
        };
        if open > 0 {
            out.push(Node::Text(rest.get(..open).unwrap_or("").to_owned()));
        }
        let after = rest.get(open + 1..).unwrap_or("");
        // A quoted literal may contain '}'.
        let close = if after.trim_start().starts_with('\'') {
            let q0 = after.find('\'').unwrap_or(0);
            let q1 = after.get(q0 + 1..).and_then(|r| r.find('\'')).map(|p| p + q0 + 1).ok_or("unclosed quote")?;
            after.get(q1..).and_then(|r| r.find('}')).map(|p| p + q1).ok_or("unclosed action")?
        } else {
            after.find('}').ok_or("unclosed action")?
        };
        let inner = after.get(..close).unwrap_or("").trim();
        rest = after.get(close + 1..).unwrap_or("");
        if inner.is_empty() || inner == "@" {
            out.push(Node::Path(Vec::new()));
        } else if inner == "end" {
            out.push(Node::End);
        } else if let Some(r) = inner.strip_prefix("range") {
            out.push(Node::Range(parse_steps(r.trim())?));
        } else if let Some(q) = inner.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
            out.push(Node::Text(q.replace("\\n", "\n").replace("\\t", "\t")));
        } else if let Some(q) = inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
            out.push(Node::Text(q.replace("\\n", "\n").replace("\\t", "\t")));
        } else {
            out.push(Node::Path(parse_steps(inner)?));
        }
    }
    Ok(out)
}

fn eval<'a>(steps: &[Step], root: &'a Value) -> Vec<&'a Value> {
    let mut cur = vec![root];
    for s in steps {
        let mut next = Vec::new();
        for v in cur {
            match (s, v) {
                (Step::Field(name), Value::Object(m)) => {
                    if let Some(x) = m.get(name) {
                        next.push(x);
                    }
                }
                (Step::Index(i), Value::Array(a)) => {
                    let idx = if *i < 0 { i64::try_from(a.len()).unwrap_or(0) + i } else { *i };
                    if let Some(x) = usize::try_from(idx).ok().and_then(|k| a.get(k)) {
                        next.push(x);
                    }
                }
                (Step::All, Value::Array(a)) => next.extend(a.iter()),
                (Step::All, Value::Object(m)) => next.extend(m.values()),
                _ => {}
            }
        }
        cur = next;
    }
    cur
}

/// Go's `fmt.Fprint` of a decoded YAML/JSON value.
#[must_use]
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> =
                keys.iter().map(|k| format!("{k}:{}", m.get(*k).map(go_print).unwrap_or_default())).collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn run(nodes: &[Node], cur: &Value, out: &mut String) -> Result<(), String> {
    let mut i = 0;
    while let Some(n) = nodes.get(i) {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Path(steps) => {
                let vals: Vec<String> = eval(steps, cur).into_iter().map(go_print).collect();
                out.push_str(&vals.join(" "));
            }
            Node::End => return Err("not in range, nothing to end".to_owned()),
            Node::Range(steps) => {
                let mut depth = 0;
                let mut end = None;
                for (j, m) in nodes.iter().enumerate().skip(i + 1) {
                    match m {
                        Node::Range(_) => depth += 1,
                        Node::End if depth == 0 => {
                            end = Some(j);
                            break;
                        }
                        Node::End => depth -= 1,
                        _ => {}
                    }
                }
                let end = end.ok_or("range without end")?;
                let body = nodes.get(i + 1..end).unwrap_or(&[]);
                let items: Vec<&Value> = eval(steps, cur)
                    .into_iter()
                    .flat_map(|v| match v {
                        Value::Array(a) => a.iter().collect::<Vec<_>>(),
                        other => vec![other],
                    })
                    .collect();
                for item in items {
                    run(body, item, out)?;
                }
                i = end;
            }
        }
        i += 1;
    }
    Ok(())
}

/// Executes a JSONPath template on a value.
///
/// # Errors
/// A template that does not parse.
pub fn execute(template: &str, root: &Value) -> Result<String, String> {
    let nodes = parse(template)?;
    let mut out = String::new();
    run(&nodes, root, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let v = unmarshal(
            "authentication:\n  anonymous:\n    enabled: false\nreadOnlyPort: 15000\ntlsCipherSuites: [a, b]\n",
        )
        .unwrap();
        assert_eq!(execute("{.authentication.anonymous.enabled}", &v).unwrap(), "false");
        assert_eq!(execute("{.readOnlyPort}", &v).unwrap(), "15000");
        assert_eq!(execute("{.missing}", &v).unwrap(), "");
        assert_eq!(execute("{range .tlsCipherSuites[:]}{}{','}{end}", &v).unwrap(), "a,b,");
        assert_eq!(execute("{.tlsCipherSuites[*]}", &v).unwrap(), "a b");
        assert_eq!(execute("{.tlsCipherSuites}", &v).unwrap(), "[a b]");
    }
}

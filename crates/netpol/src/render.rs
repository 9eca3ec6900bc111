//! Connectivity-list renderers: np-guard's txt, json, csv and md byte for byte, plus Graphviz DOT
//! and a self-contained HTML page with a reachability matrix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::connlist::Connection;

/// An output format of the connectivity list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `src => dst : conn` lines.
    Txt,
    /// A JSON array of `{src, dst, conn}`.
    Json,
    /// `src,dst,conn` with a header.
    Csv,
    /// A Markdown table.
    Md,
    /// Graphviz DOT.
    Dot,
    /// A self-contained HTML page.
    Html,
}

impl Format {
    /// All formats.
    pub const ALL: [Self; 6] = [Self::Txt, Self::Json, Self::Csv, Self::Md, Self::Dot, Self::Html];

    /// Lower-case name (also the file extension).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Txt => "txt",
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Md => "md",
            Self::Dot => "dot",
            Self::Html => "html",
        }
    }

    /// Parses a format name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(s))
    }
}

/// Renders a (sorted) connectivity list. `workloads` lists every workload id, so DOT and HTML
/// show workloads without connections too.
#[must_use]
pub fn render(conns: &[Connection], workloads: &[String], format: Format) -> String {
    match format {
        Format::Txt => txt(conns),
        Format::Json => json(conns),
        Format::Csv => csv(conns),
        Format::Md => md(conns),
        Format::Dot => dot(conns, workloads),
        Format::Html => html(conns, workloads),
    }
}

fn txt(conns: &[Connection]) -> String {
    let mut s = String::new();
    for c in conns {
        let _ = writeln!(s, "{} => {} : {}", c.src, c.dst, c.conns);
    }
    s
}

/// A JSON string as Go's `encoding/json` writes it (HTML-safe escapes included).
fn go_json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(ch));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json(conns: &[Connection]) -> String {
    if conns.is_empty() {
        return "[]".to_owned();
    }
    let mut s = String::from("[\n");
    for (i, c) in conns.iter().enumerate() {
        let _ = write!(
            s,
            "  {{\n    \"src\": {},\n    \"dst\": {},\n    \"conn\": {}\n  }}",
            go_json_str(&c.src),
            go_json_str(&c.dst),
            go_json_str(&c.conns.to_string())
        );
        s.push_str(if i + 1 < conns.len() { ",\n" } else { "\n" });
    }
    s.push(']');
    s
}

/// A CSV field as Go's `encoding/csv` writes it.
fn csv_field(f: &str) -> String {
    let needs = f.contains([',', '"', '\r', '\n']) || f.starts_with(' ') || f.starts_with('\t');
    if needs { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.to_owned() }
}

fn csv(conns: &[Connection]) -> String {
    let mut s = String::from("src,dst,conn\n");
    for c in conns {
        let _ = writeln!(s, "{},{},{}", csv_field(&c.src), csv_field(&c.dst), csv_field(&c.conns.to_string()));
    }
    s
}

fn md(conns: &[Connection]) -> String {
    let mut s = String::from("| src | dst | conn |\n|-----|-----|------|\n");
    for c in conns {
        let _ = writeln!(s, "| {} | {} | {} |", c.src, c.dst, c.conns);
    }
    s
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn dot(conns: &[Connection], workloads: &[String]) -> String {
    let mut by_ns: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut external: BTreeSet<&str> = BTreeSet::new();
    for w in workloads {
        by_ns.entry(w.split('/').next().unwrap_or("")).or_default().insert(w);
    }
    for c in conns {
        for p in [&c.src, &c.dst] {
            if p.ends_with("[External]") {
                external.insert(p);
            } else {
                by_ns.entry(p.split('/').next().unwrap_or("")).or_default().insert(p);
            }
        }
    }
    let mut s = String::from("digraph {\n");
    for (ns, peers) in &by_ns {
        let _ = writeln!(s, "\tsubgraph {} {{", dot_id(&format!("cluster_{ns}")));
        for p in peers {
            let label = p.split_once('/').map_or(*p, |(_, rest)| rest);
            let _ = writeln!(s, "\t\t{} [label={} color=\"blue\" fontcolor=\"blue\"]", dot_id(p), dot_id(label));
        }
        let _ = writeln!(s, "\t\tlabel={}\n\t}}", dot_id(ns));
    }
    for p in &external {
        let _ = writeln!(s, "\t{} [label={} color=\"red2\" fontcolor=\"red2\"]", dot_id(p), dot_id(p));
    }
    for c in conns {
        let _ = writeln!(
            s,
            "\t{} -> {} [label={} color=\"gold2\" fontcolor=\"darkgreen\"]",
            dot_id(&c.src),
            dot_id(&c.dst),
            dot_id(&c.conns.to_string())
        );
    }
    s.push('}');
    s
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html(conns: &[Connection], workloads: &[String]) -> String {
    let mut peers: BTreeSet<&str> = workloads.iter().map(String::as_str).collect();
    for c in conns {
        peers.insert(&c.src);
        peers.insert(&c.dst);
    }
    let peers: Vec<&str> = peers.into_iter().collect();
    let cell: BTreeMap<(&str, &str), String> =
        conns.iter().map(|c| ((c.src.as_str(), c.dst.as_str()), c.conns.to_string())).collect();
    let mut s = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>kguard: network reachability</title>\n<style>\n\
         body{font-family:system-ui,sans-serif;margin:1.5em}\ntable{border-collapse:collapse;font-size:12px}\n\
         th,td{border:1px solid #ccc;padding:3px 6px}\nth.col{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}\n\
         td.all{background:#f4b6b6}\ntd.some{background:#fde5a8}\ntd.none{background:#d8f0d8}\ntd.self{background:#eee}\n\
         </style>\n</head>\n<body>\n<h1>Network reachability</h1>\n",
    );
    let _ = writeln!(
        s,
        "<p>{} peers, {} allowed connections. Rows are sources, columns destinations. Red: all connections; \
         yellow: some ports; green: none.</p>",
        peers.len(),
        conns.len()
    );
    s.push_str("<table>\n<tr><th>src \\ dst</th>");
    for p in &peers {
        let _ = write!(s, "<th class=\"col\">{}</th>", html_escape(p));
    }
    s.push_str("</tr>\n");
    for src in &peers {
        let _ = write!(s, "<tr><th>{}</th>", html_escape(src));
        for dst in &peers {
            if src == dst {
                s.push_str("<td class=\"self\"></td>");
                continue;
            }
            match cell.get(&(*src, *dst)) {
                Some(c) if c == "All Connections" => {
                    let _ = write!(s, "<td class=\"all\" title=\"{}\">all</td>", html_escape(c));
                }
                Some(c) => {
                    let _ = write!(s, "<td class=\"some\" title=\"{0}\">{0}</td>", html_escape(c));
                }
                None => s.push_str("<td class=\"none\"></td>"),
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n<h2>Connections</h2>\n<table>\n<tr><th>src</th><th>dst</th><th>conn</th></tr>\n");
    for c in conns {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&c.src),
            html_escape(&c.dst),
            html_escape(&c.conns.to_string())
        );
    }
    s.push_str("</table>\n</body>\n</html>\n");
    s
}

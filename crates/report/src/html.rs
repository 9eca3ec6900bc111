//! One self-contained HTML page (no external resources; a Content-Security-Policy forbids any):
//! the summary with counts per severity, every finding in one table that can be filtered (text,
//! severity), sorted (any column) and grouped (by object, severity, rule or file), the input
//! problems, and the documentation of every rule that fired. Findings are rendered into the page
//! as HTML, so it reads without JavaScript too; the script only filters, sorts and groups rows.
//! Everything from the input is HTML-escaped.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::text::plural;
use crate::{RenderOptions, Report, Severity, table};

/// Renders `report` as one HTML page.
///
/// # Errors
/// Whatever writing to `out` returns.
pub fn render(report: &Report, out: &mut dyn Write, opts: &RenderOptions) -> io::Result<()> {
    out.write_all(HEAD.as_bytes())?;
    let mut h = String::new();
    let summary = table::summary(report, &RenderOptions { color: false, quiet: false, ..opts.clone() });
    let _ = writeln!(
        h,
        "<header><h1>kguard scan</h1><p class=\"summary\">{}</p><p class=\"tool\">kguard {}</p></header>",
        esc(&summary),
        esc(&opts.tool_version)
    );
    h.push_str("<nav class=\"cards\">");
    for sev in Severity::ALL.iter().rev() {
        let _ = write!(
            h,
            "<label class=\"card sev-{s}\"><input type=\"checkbox\" class=\"sev-filter\" value=\"{s}\" checked> \
             <b>{n}</b> {s}</label>",
            s = sev.as_str(),
            n = report.count(*sev)
        );
    }
    h.push_str("</nav>\n");
    h.push_str(
        "<div class=\"controls\"><input id=\"q\" type=\"search\" placeholder=\"Filter: rule, object, file, message\" \
         aria-label=\"Filter findings\"> <label>Group by <select id=\"group\"><option value=\"\">nothing</option>\
         <option value=\"object\" selected>object</option><option value=\"severity\">severity</option>\
         <option value=\"rule\">rule</option><option value=\"file\">file</option></select></label> \
         <span id=\"shown\"></span></div>\n",
    );
    out.write_all(h.as_bytes())?;
    h.clear();

    out.write_all(
        b"<table id=\"findings\"><thead><tr><th data-key=\"sev\">Severity</th><th data-key=\"rule\">Rule</th>\
          <th data-key=\"object\">Object</th><th data-key=\"file\">Location</th><th data-key=\"message\">Finding</th>\
          </tr></thead><tbody>\n",
    )?;
    for f in &report.findings {
        let object = f.object.as_deref().map(ToString::to_string).unwrap_or_default();
        let file = f.location.as_ref().map(|l| l.file.to_string()).unwrap_or_default();
        let pos = f.location.as_ref().and_then(|l| l.pos);
        let location = match pos {
            Some(p) => format!("{file}:{p}"),
            None => file.clone(),
        };
        // Sort keys: severity rank, and the location with zero-padded line and column.
        let loc_key = pos.map_or_else(|| file.clone(), |p| format!("{file}\u{0}{:09}\u{0}{:09}", p.line, p.column));
        let container = f.container.as_deref().map(|c| format!(" <span class=\"ctr\">container {}</span>", esc(c)));
        let _ = writeln!(
            h,
            "<tr class=\"sev-{s}\" data-sev=\"{rank}\" data-rule=\"{rule}\" data-object=\"{obj}\" data-file=\"{lk}\" \
             data-message=\"{msg}\"><td><span class=\"badge sev-{s}\">{s}</span></td>\
             <td><a href=\"#rule-{rule}\">{rule}</a></td><td>{obj}</td><td class=\"loc\">{loc}</td>\
             <td>{msg}{ctr}</td></tr>",
            s = f.severity.as_str(),
            rank = Severity::ALL.iter().position(|s| *s == f.severity).unwrap_or(0),
            rule = esc(&f.rule_id),
            obj = esc(&object),
            lk = esc(&loc_key),
            loc = esc(&location),
            msg = esc(&f.message),
            ctr = container.unwrap_or_default(),
        );
        if h.len() > 1 << 16 {
            out.write_all(h.as_bytes())?;
            h.clear();
        }
    }
    h.push_str("</tbody></table>\n");
    if report.findings.is_empty() {
        h.push_str("<p class=\"none\">No findings.</p>\n");
    }

    let diagnostics: Vec<_> = report.shown_diagnostics(opts.verbose).collect();
    if !diagnostics.is_empty() {
        let _ = writeln!(h, "<h2>Input problems ({})</h2><ul class=\"diags\">", diagnostics.len());
        for d in diagnostics {
            let _ = writeln!(
                h,
                "<li class=\"lvl-{}\"><code>{}</code> <b>{}</b>: {} <span class=\"code\">[{}]</span></li>",
                d.level,
                esc(&d.location.to_string()),
                d.level,
                esc(&d.message),
                d.code
            );
        }
        h.push_str("</ul>\n");
    }

    let fired: BTreeSet<&str> = report.findings.iter().map(|f| f.rule_id.as_str()).collect();
    let rules: Vec<_> = report.rules.iter().filter(|r| fired.contains(r.id)).collect();
    if !rules.is_empty() {
        let _ = writeln!(h, "<h2>Rules ({})</h2>", plural(rules.len(), "rule fired", "rules fired"));
        for r in rules {
            let _ = write!(
                h,
                "<section class=\"rule\" id=\"rule-{id}\"><h3>{id} <span class=\"name\">{name}</span> \
                 <span class=\"badge sev-{s}\">{s}</span></h3><p class=\"title\">{title}</p>\
                 <dl><dt>What</dt><dd>{what}</dd><dt>Why</dt><dd>{why}</dd><dt>Fix</dt><dd>{fix}</dd>",
                id = esc(r.id),
                name = esc(r.name),
                s = r.severity.as_str(),
                title = esc(r.title),
                what = esc(r.what),
                why = esc(r.why),
                fix = esc(r.fix),
            );
            if !r.aliases.is_empty() {
                let _ = write!(h, "<dt>Also known as</dt><dd>{}</dd>", esc(&r.aliases.join(", ")));
            }
            if !r.references.is_empty() {
                h.push_str("<dt>References</dt><dd><ul>");
                for link in r.references {
                    // Links only to http(s): a reference is never a javascript: URL.
                    if link.starts_with("https://") || link.starts_with("http://") {
                        let _ = write!(h, "<li><a href=\"{l}\" rel=\"noreferrer\">{l}</a></li>", l = esc(link));
                    } else {
                        let _ = write!(h, "<li>{}</li>", esc(link));
                    }
                }
                h.push_str("</ul></dd>");
            }
            h.push_str("</dl></section>\n");
        }
    }
    h.push_str(TAIL);
    out.write_all(h.as_bytes())
}

/// HTML-escapes text for element content and double-quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

const HEAD: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>kguard scan report</title>
<style>
:root { --crit: #b3001b; --high: #d9480f; --med: #b08900; --low: #1c6dd0; --info: #6c757d; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 2rem 3rem; color: #1d1f21; }
header h1 { margin: 1.2rem 0 .2rem; font-size: 1.5rem; }
.summary { margin: .2rem 0; font-weight: 600; }
.tool { margin: 0 0 1rem; color: #6c757d; font-size: 12px; }
.cards { display: flex; gap: .6rem; flex-wrap: wrap; margin-bottom: 1rem; }
.card { border: 1px solid #ddd; border-left: 6px solid var(--c); border-radius: 4px; padding: .4rem .8rem; cursor: pointer; user-select: none; }
.card b { font-size: 1.2rem; }
.sev-critical { --c: var(--crit); } .sev-high { --c: var(--high); } .sev-medium { --c: var(--med); }
.sev-low { --c: var(--low); } .sev-info { --c: var(--info); }
.controls { margin-bottom: .6rem; display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
#q { width: 28rem; max-width: 100%; padding: .35rem .5rem; }
#shown { color: #6c757d; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid #eee; }
th { background: #f6f8fa; cursor: pointer; position: sticky; top: 0; white-space: nowrap; }
th.asc::after { content: " \25B2"; } th.desc::after { content: " \25BC"; }
tr.group td { background: #eef1f4; font-weight: 600; }
.badge { display: inline-block; min-width: 4.5rem; text-align: center; border-radius: 3px; color: #fff; background: var(--c); font-size: 12px; padding: 0 .3rem; text-transform: uppercase; }
.loc { white-space: nowrap; }
.loc, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.ctr { color: #6c757d; }
.rule { border-top: 1px solid #eee; padding-top: .4rem; }
.rule h3 { margin: .4rem 0 0; } .rule .name { color: #6c757d; font-weight: normal; }
.rule dt { font-weight: 600; } .rule dd { margin: 0 0 .4rem 1rem; white-space: pre-line; }
.diags .lvl-error b { color: var(--crit); } .diags .lvl-warning b { color: var(--med); }
.none { color: #2b8a3e; font-weight: 600; }
</style>
</head>
<body>
"##;

const TAIL: &str = r##"<script>
(function () {
  "use strict";
  var tbody = document.querySelector("#findings tbody");
  var rows = Array.prototype.slice.call(tbody.querySelectorAll("tr"));
  var q = document.getElementById("q"), group = document.getElementById("group");
  var shown = document.getElementById("shown");
  var sevBoxes = Array.prototype.slice.call(document.querySelectorAll(".sev-filter"));
  var sortKey = "sev", sortDir = -1;
  var sevNames = ["info", "low", "medium", "high", "critical"];
  function key(r, k) { return k === "sev" ? Number(r.dataset.sev) : (r.dataset[k] || "").toLowerCase(); }
  function cmp(a, b, k) { var x = key(a, k), y = key(b, k); return x < y ? -1 : x > y ? 1 : 0; }
  function draw() {
    var text = q.value.trim().toLowerCase();
    var sevs = {};
    sevBoxes.forEach(function (b) { sevs[b.value] = b.checked; });
    var visible = rows.filter(function (r) {
      if (!sevs[sevNames[Number(r.dataset.sev)]]) return false;
      return !text || r.textContent.toLowerCase().indexOf(text) >= 0;
    });
    var g = group.value;
    visible.sort(function (a, b) {
      if (g) { var c = cmp(a, b, g === "severity" ? "sev" : g); if (c) return g === "severity" ? -c : c; }
      return sortDir * cmp(a, b, sortKey) || cmp(a, b, "file");
    });
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    var last = null;
    visible.forEach(function (r) {
      if (g) {
        var label = g === "severity" ? sevNames[Number(r.dataset.sev)] : g === "file" ? r.querySelector(".loc").textContent.replace(/:\d+:\d+$/, "") : r.dataset[g];
        if (label !== last) {
          var h = document.createElement("tr"), td = document.createElement("td");
          h.className = "group"; td.colSpan = 5; td.textContent = label || "(none)";
          h.appendChild(td); tbody.appendChild(h); last = label;
        }
      }
      tbody.appendChild(r);
    });
    shown.textContent = visible.length + " of " + rows.length + " findings shown";
  }
  Array.prototype.forEach.call(document.querySelectorAll("th[data-key]"), function (th) {
    th.addEventListener("click", function () {
      var k = th.dataset.key;
      sortDir = k === sortKey ? -sortDir : (k === "sev" ? -1 : 1); sortKey = k;
      Array.prototype.forEach.call(document.querySelectorAll("th"), function (t) { t.className = ""; });
      th.className = sortDir > 0 ? "asc" : "desc";
      draw();
    });
  });
  // The view is kept in the address (#q=TEXT&group=KEY&sev=critical,high), so a filtered view
  // can be bookmarked or shared.
  function save() {
    var sev = sevBoxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    var parts = ["q=" + encodeURIComponent(q.value), "group=" + encodeURIComponent(group.value)];
    if (sev.length !== sevBoxes.length) parts.push("sev=" + sev.join(","));
    history.replaceState(null, "", "#" + parts.join("&"));
  }
  function load() {
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("="); if (i < 0) return;
      var k = kv.slice(0, i), v = decodeURIComponent(kv.slice(i + 1));
      if (k === "q") q.value = v;
      if (k === "group" && Array.prototype.some.call(group.options, function (o) { return o.value === v; })) group.value = v;
      if (k === "sev") { var on = v.split(","); sevBoxes.forEach(function (b) { b.checked = on.indexOf(b.value) >= 0; }); }
    });
  }
  function update() { draw(); save(); }
  q.addEventListener("input", update); group.addEventListener("change", update);
  sevBoxes.forEach(function (b) { b.addEventListener("change", update); });
  if (/^#[a-z]/.test(location.hash)) load();
  draw();
})();
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("<script>\"x\"&'y'</script>"), "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;");
        assert_eq!(esc("a\u{1b}[31m"), "a\\u{1b}[31m");
    }
}

#!/usr/bin/env python3
"""Join kguard, Trivy and Checkov JSON reports on the same directory (stdlib only).

Prints, as Markdown:
  * the performance table (median wall time and peak RSS per tool, ratios to kguard), from a
    TSV of `tool<TAB>seconds<TAB>max_rss_kb` lines, one per run;
  * a coverage table: for each Trivy check (keyed by AVD id) and each Checkov id that fired, the
    number of (object, check) pairs it reported and how many of them kguard also reports through
    the rule aliases (`kguard rules --format json`);
  * the parity figure: kguard's share of the pairs of the peer checks in kguard's scope (a check is
    in scope when some kguard rule lists its id as an alias; a finding counts for its rule and for
    the rules merged into it, `mergedRules`). Two scopes: every aliased check (measured against
    `--select ALL`, opt-in rules included), and the *default scope*, the checks some rule that runs
    by default aliases (measured against the default run; a check aliased only by opt-in rules,
    e.g. the default namespace, is out of the default scope and marked "opt-in" in the tables);
  * with --misses N, up to N missed pairs per in-scope check (file:line, object).

Object identity: the peers do not name objects the same way (Trivy gives a file and a line range,
Checkov `Kind.namespace.name` plus a line range, kguard kind/namespace/name plus a line), so an
object is keyed by (file relative to DIR, YAML document index), the document being found from the
reported line by splitting the file at `---` lines as kubectl does (the `---` line belongs to the
document it opens). The table shows kguard's
`Kind/namespace/name` for the object where kguard reports anything about it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
from bisect import bisect_right
from collections import defaultdict

DOC_SEP = re.compile(r"^---(\s|$)")


class Docs:
    """Maps (file, line) to the index of the YAML document holding that line."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        self.starts: dict[str, list[int]] = {}

    def rel(self, path: str) -> str:
        if not path:
            return ""
        p = path
        if not os.path.isabs(p):
            cand = os.path.join(self.root, p.lstrip("/"))
            p = cand if os.path.exists(cand) else os.path.join(self.root, p)
        return os.path.relpath(os.path.realpath(p), self.root)

    def doc(self, rel: str, line: int | None) -> int:
        if rel not in self.starts:
            starts = [1]
            try:
                with open(os.path.join(self.root, rel), encoding="utf-8", errors="replace") as f:
                    for i, text in enumerate(f, 1):
                        # The separator line starts the next document: Trivy reports some
                        # results (those on values it built itself, e.g. KSV117, KSV118's
                        # containers) at the document's first line, the `---` itself.
                        if DOC_SEP.match(text):
                            starts.append(i)
            except OSError:
                pass
            self.starts[rel] = starts
        if not line or line < 1:
            return 0
        return bisect_right(self.starts[rel], line) - 1


def load_json(path: str):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # Checkov may print something before the JSON document; take from the first bracket.
        for opener in ("[", "{"):
            i = text.find(opener)
            if i >= 0:
                try:
                    return json.loads(text[i:])
                except json.JSONDecodeError:
                    continue
        raise


def kguard_pairs(report: dict, aliases: dict[str, list[str]], docs: Docs):
    """{(obj, peer_id)} reported by kguard through rule aliases, and {obj: display name}."""
    pairs: set[tuple] = set()
    names: dict[tuple, str] = {}
    for f in report.get("findings", []):
        loc = f.get("location") or {}
        rel = docs.rel(loc.get("file", ""))
        if not rel:
            continue
        obj = (rel, docs.doc(rel, loc.get("line")))
        o = f.get("object") or {}
        names.setdefault(obj, "/".join(x for x in (o.get("kind"), o.get("namespace"), o.get("name")) if x))
        # A finding stands for its rule and for the rules merged into it (one finding per problem).
        for rid in [f["ruleId"], *f.get("mergedRules", [])]:
            for a in aliases.get(rid, []):
                pairs.add((obj, a))
    return pairs, names


def trivy_pairs(report: dict, docs: Docs):
    """{avd_id: {obj: first line}} of failed Trivy checks, and {avd_id: title}."""
    out: dict[str, dict] = defaultdict(dict)
    titles: dict[str, str] = {}
    for res in (report or {}).get("Results") or []:
        rel = docs.rel(res.get("Target", ""))
        for m in res.get("Misconfigurations") or []:
            if m.get("Status", "FAIL") != "FAIL":
                continue
            avd = m.get("AVDID") or m.get("ID")
            titles.setdefault(avd, f"{m.get('ID', '')}: {m.get('Title', '')}")
            line = (m.get("CauseMetadata") or {}).get("StartLine")
            out[avd].setdefault((rel, docs.doc(rel, line)), line)
    return out, titles


def checkov_pairs(report, docs: Docs):
    """{ckv_id: {obj: first line}} of failed Checkov checks, and {ckv_id: name}."""
    out: dict[str, dict] = defaultdict(dict)
    titles: dict[str, str] = {}
    reports = report if isinstance(report, list) else [report]
    for r in reports:
        if not isinstance(r, dict):
            continue
        for c in (r.get("results") or {}).get("failed_checks") or []:
            cid = c.get("check_id")
            titles.setdefault(cid, c.get("check_name", ""))
            rel = docs.rel(c.get("file_abs_path") or c.get("file_path", ""))
            rng = c.get("file_line_range") or [None]
            line = rng[0] if rng else None
            out[cid].setdefault((rel, docs.doc(rel, line)), line)
    return out, titles


def perf_table(times_path: str) -> str:
    runs: dict[str, list[tuple[float, int]]] = defaultdict(list)
    with open(times_path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                runs[parts[0]].append((float(parts[1]), int(parts[2])))
    if not runs:
        return ""
    med = {t: (statistics.median(s for s, _ in v), max(r for _, r in v), len(v)) for t, v in runs.items()}
    base = med.get("kguard")
    lines = [
        "| tool | runs | wall time (median) | peak RSS (max) | time / kguard | RSS / kguard |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for tool, (sec, rss, n) in med.items():
        tr = f"{sec / base[0]:.0f}×" if base and base[0] > 0 else "-"
        rr = f"{rss / base[1]:.1f}×" if base and base[1] > 0 else "-"
        if tool == "kguard":
            tr = rr = "1×"
        lines.append(f"| {tool} | {n} | {sec:.2f} s | {rss / 1024:.0f} MiB | {tr} | {rr} |")
    return "\n".join(lines)


def coverage(name: str, peer: dict, titles: dict, kpairs: list[tuple[str, set]], alias_set: set,
             default_set: set, knames: dict, misses: int, id_col: str):
    header = f"| {id_col} | check | pairs | " + " | ".join(f"{label}" for label, _ in kpairs) + " |"
    lines = [header, "|---|---|---:|" + "---:|" * len(kpairs)]
    tot = [0] * len(kpairs)
    tot_scope = 0
    default_scope = default_hit = 0
    missed: list[str] = []
    for cid in sorted(peer, key=lambda c: (c not in alias_set, c)):
        objs = peer[cid]
        n = len(objs)
        cells = []
        if cid in alias_set:
            tot_scope += n
            for i, (_, ks) in enumerate(kpairs):
                hit = sum(1 for o in objs if (o, cid) in ks)
                tot[i] += hit
                cells.append(f"{hit} ({100 * hit / n:.0f}%)")
            first = kpairs[0][1]
            if cid in default_set:
                default_scope += n
                default_hit += sum(1 for o in objs if (o, cid) in first)
            # Misses against the default run, or against the last run (`--select ALL`) for a check
            # only opt-in rules alias.
            base = first if cid in default_set else kpairs[-1][1]
            lost = [(o, line) for o, line in objs.items() if (o, cid) not in base]
            for o, line in sorted(lost, key=lambda x: (x[0][0], x[1] or 0))[:misses]:
                missed.append(f"- {cid}: {o[0]}:{line} (doc {o[1]}) {knames.get(o, '(no kguard finding)')}")
        else:
            cells = ["out of scope"] * len(kpairs)
        title = titles.get(cid, "").replace("|", "\\|")
        if cid in alias_set and cid not in default_set:
            title += " (opt-in)"
        lines.append(f"| {cid} | {title} | {n} | " + " | ".join(cells) + " |")
    if tot_scope:
        cells = [f"**{t} ({100 * t / tot_scope:.1f}%)**" for t in tot]
        lines.append(f"| **in scope** | | **{tot_scope}** | " + " | ".join(cells) + " |")
    out = [f"### {name}", "", *lines]
    if missed:
        out += ["", f"Missed pairs ({kpairs[0][0]}; {kpairs[-1][0]} for opt-in checks; first {misses} per check):",
                "", *missed]
    return "\n".join(out), tot, tot_scope, (default_hit, default_scope)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, help="the scanned directory")
    ap.add_argument("--rules", required=True, help="`kguard rules --format json`")
    ap.add_argument("--kguard", required=True, help="`kguard scan --format json` (default rules)")
    ap.add_argument("--kguard-all", help="`kguard scan --format json --select ALL`")
    ap.add_argument("--trivy", help="`trivy config --format json`")
    ap.add_argument("--checkov", help="`checkov -o json`")
    ap.add_argument("--times", help="TSV: tool, seconds, max RSS KiB (one line per run)")
    ap.add_argument("--misses", type=int, default=0, help="list up to N missed pairs per check")
    a = ap.parse_args()

    docs = Docs(a.dir)
    aliases: dict[str, list[str]] = {}
    for r in load_json(a.rules):
        aliases[r["id"]] = [x.upper() for x in r.get("aliases", [])]
    alias_set = {x for v in aliases.values() for x in v}
    default_set = {x for r in load_json(a.rules) if not r.get("optIn", r.get("opt_in", False))
                   for x in (y.upper() for y in r.get("aliases", []))}

    kd, knames = kguard_pairs(load_json(a.kguard), aliases, docs)
    kpairs = [("kguard", kd)]
    if a.kguard_all:
        ka, kan = kguard_pairs(load_json(a.kguard_all), aliases, docs)
        for k, v in kan.items():
            knames.setdefault(k, v)
        kpairs.append(("kguard --select ALL", ka))

    out = []
    if a.times:
        out += ["## Performance", "", perf_table(a.times), ""]
    summary = []
    if a.trivy:
        tp, tt = trivy_pairs(load_json(a.trivy), docs)
        text, tot, scope, dflt = coverage("Trivy (by AVD id)", tp, tt, kpairs, alias_set, default_set, knames,
                                          a.misses, "AVD id")
        out += [text, ""]
        summary.append(("Trivy", tot, scope, sum(len(v) for v in tp.values()), dflt))
    if a.checkov:
        cp, ct = checkov_pairs(load_json(a.checkov), docs)
        text, tot, scope, dflt = coverage("Checkov", cp, ct, kpairs, alias_set, default_set, knames, a.misses,
                                          "Checkov id")
        out += [text, ""]
        summary.append(("Checkov", tot, scope, sum(len(v) for v in cp.values()), dflt))
    if summary:
        out += ["## Parity", "", "| peer | pairs fired | in kguard's scope | "
                + " | ".join(f"also reported by {label}" for label, _ in kpairs)
                + " | in the default scope | also reported by kguard (default rules) |",
                "|---|---:|---:|" + "---:|" * len(kpairs) + "---:|---:|"]
        for peer, tot, scope, allp, (dhit, dscope) in summary:
            cells = [f"{t} ({100 * t / scope:.1f}%)" if scope else "-" for t in tot]
            dcell = f"{dhit} ({100 * dhit / dscope:.1f}%)" if dscope else "-"
            out.append(f"| {peer} | {allp} | {scope} | " + " | ".join(cells) + f" | {dscope} | {dcell} |")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

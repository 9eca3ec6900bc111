#!/usr/bin/env python3
"""Compares Trivy's Dockerfile findings with kguard's, per Trivy DS id.

Usage: compare_dockerfiles.py TRIVY.json KGUARD.json [--show N]

A Trivy finding is matched when kguard reports the rule aliased to the same DS id in the same
file at the same line (findings about the whole file: both without a line). Each finding is
matched at most once. Prints, per DS id: Trivy's count, how many kguard also reports, and
kguard's extras (reported where Trivy reports nothing); then the unmatched ones (up to N each).
"""
import collections
import json
import os
import sys


def norm(path):
    return os.path.normpath(path)


def trivy_findings(doc):
    out = collections.Counter()
    files = set()
    for result in doc.get("Results") or []:
        if result.get("Type") != "dockerfile":
            continue
        target = norm(result["Target"])
        files.add(target)
        for m in result.get("Misconfigurations") or []:
            line = (m.get("CauseMetadata") or {}).get("StartLine") or 0
            out[(m["ID"], target, line)] += 1
    return out, files


def kguard_findings(doc, root):
    out = collections.Counter()
    for f in doc.get("findings") or []:
        # DFnnn is Trivy's DSnnn (same number, by design; `kguard explain DSnnn` shows the rule).
        if not f["ruleId"].startswith("DF"):
            continue
        ds = "DS" + f["ruleId"][2:]
        loc = f.get("location") or {}
        path = norm(os.path.relpath(loc.get("file", ""), root))
        out[(ds, path, loc.get("line") or 0)] += 1
    return out


def main():
    args = sys.argv[1:]
    show = 0
    if "--show" in args:
        i = args.index("--show")
        show = int(args[i + 1])
        del args[i : i + 2]
    trivy_path, kguard_path, root = args
    with open(trivy_path) as f:
        trivy, files = trivy_findings(json.load(f))
    with open(kguard_path) as f:
        kguard = kguard_findings(json.load(f), root)
    ids = sorted({k[0] for k in trivy} | {k[0] for k in kguard})
    print(f"{len(files)} Dockerfiles read by Trivy")
    print(f"{'check':<7} {'trivy':>6} {'kguard also':>11} {'extras':>7}")
    tot_t = tot_m = tot_x = 0
    missed, extra = [], []
    for ds in ids:
        t = {k: n for k, n in trivy.items() if k[0] == ds}
        g = {k: n for k, n in kguard.items() if k[0] == ds}
        matched = sum(min(n, g.get(k, 0)) for k, n in t.items())
        nt = sum(t.values())
        nx = sum(max(0, n - t.get(k, 0)) for k, n in g.items())
        missed += [k for k, n in t.items() if n > g.get(k, 0)]
        extra += [k for k, n in g.items() if n > t.get(k, 0)]
        tot_t, tot_m, tot_x = tot_t + nt, tot_m + matched, tot_x + nx
        print(f"{ds:<7} {nt:>6} {matched:>11} {nx:>7}")
    print(f"{'total':<7} {tot_t:>6} {tot_m:>11} {tot_x:>7}")
    if show:
        for name, items in (("missed", missed), ("extra", extra)):
            for k in sorted(items)[:show]:
                print(f"{name}: {k[0]} {k[1]}:{k[2]}")
    return 0 if tot_m == tot_t and tot_x == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

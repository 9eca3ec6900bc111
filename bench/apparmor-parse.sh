#!/usr/bin/env bash
# kguard's AppArmor parser side by side with apparmor_parser (issue 18, performance): every
# profile Debian's apparmor, apparmor-profiles and apparmor-profiles-extra packages ship (the
# top-level files of /etc/apparmor.d and /usr/share/apparmor/extra-profiles), parsed with
# includes from /etc/apparmor.d, one invocation each tool per run, all files on one command line:
#
#   kguard apparmor parse -I /etc/apparmor.d FILES...
#   apparmor_parser -Q -K -I /etc/apparmor.d FILES...     (-Q: no kernel load, -K: no cache)
#
# Both must accept every file. Reports the best of RUNS (default 5) wall time and CPU time
# (user+sys) per tool and the ratios. KGUARD= a kguard binary (default: builds
# target/release/kguard; SKIP_BUILD=1 reuses it).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
KGUARD="${KGUARD:-target/release/kguard}"
command -v apparmor_parser >/dev/null || { echo "apparmor_parser missing: apt-get install apparmor apparmor-profiles apparmor-profiles-extra" >&2; exit 1; }
if [ -z "${SKIP_BUILD:-}" ] && [ "$KGUARD" = target/release/kguard ]; then
  cargo build --release -p kguard-cli --bin kguard >&2
fi
mapfile -t FILES < <(find /etc/apparmor.d /usr/share/apparmor/extra-profiles -maxdepth 1 -type f ! -name README ! -name '*.dpkg-*' ! -name '*~' 2>/dev/null | sort)
echo "profiles: ${#FILES[@]} (apparmor_parser $(apparmor_parser --version | head -1 | awk '{print $NF}'), kguard $("$KGUARD" --version | awk '{print $NF}'))"
python3 - "$RUNS" "$KGUARD" "${FILES[@]}" <<'PY'
import resource, subprocess, sys, time
runs, kguard, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
tools = {
    "kguard apparmor parse": [kguard, "apparmor", "parse", "-I", "/etc/apparmor.d", *files],
    "apparmor_parser -Q -K": ["apparmor_parser", "-Q", "-K", "-I", "/etc/apparmor.d", *files],
}
best = {}
for _ in range(runs):
    for name, cmd in tools.items():   # interleaved, so both see the same machine load
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if p.returncode != 0:
            sys.exit(f"{name} rejected a shipped profile (exit {p.returncode}): {p.stderr.strip()[:500]}")
        w, c = best.get(name, (1e9, 1e9))
        best[name] = (min(w, wall), min(c, cpu))
print(f"| tool | wall (best of {runs}) | CPU user+sys (best of {runs}) |")
print("|---|---|---|")
for name, (w, c) in best.items():
    print(f"| {name} | {w * 1000:.1f} ms | {c * 1000:.1f} ms |")
(kw, kc), (aw, ac) = best["kguard apparmor parse"], best["apparmor_parser -Q -K"]
print(f"ratio (apparmor_parser / kguard): wall {aw / kw:.1f}x, CPU {ac / max(kc, 1e-6):.1f}x")
PY

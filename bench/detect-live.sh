#!/bin/sh
# Overhead of `kguard detect --live` on a syscall-heavy workload, side by side in one run:
# the workload natively, under `kguard detect --live` (Falco's current stable rules), and under
# `strace -f -c` (the reference tracer). Prints wall time, overhead against native, the live
# source's records/s and drops, and kguard's CPU time and peak RSS.
#
# The workload: WORKLOAD_N rounds of `find /usr -maxdepth 3` (opens, getdents, stats), 200
# short-lived processes (fork/exec/exit) and reads of files under /etc.
#
# Usage: bench/detect-live.sh [ROUNDS]    (root: the probe needs CAP_BPF + CAP_PERFMON)
#   KGUARD=path/to/kguard (default: target/release/kguard, built with
#     `cargo build --release -p kguard-cli --features live`)
#   RULES=falco_rules.yaml (default: $KGUARD_SHARED/oracles/falco-syscall/rules/falco_rules.current.yaml)
set -eu
cd "$(dirname "$0")/.."
rounds="${1:-3}"
kguard="${KGUARD:-${CARGO_TARGET_DIR:-target}/release/kguard}"
rules="${RULES:-${KGUARD_SHARED:-../shared}/oracles/falco-syscall/rules/falco_rules.current.yaml}"
[ -x "$kguard" ] || { echo "bench/detect-live.sh: no $kguard (cargo build --release -p kguard-cli --features live)" >&2; exit 2; }
[ -f "$rules" ] || { echo "bench/detect-live.sh: no rules at $rules" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/work.sh" <<WORK
r=0
while [ "\$r" -lt $rounds ]; do
    find /usr -maxdepth 3 >/dev/null 2>&1 || true
    i=0
    while [ "\$i" -lt 200 ]; do /bin/true; i=\$((i + 1)); done
    cat /etc/hostname /etc/os-release /etc/passwd >/dev/null
    r=\$((r + 1))
done
WORK
workload() { sh "$tmp/work.sh"; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

t0=$(now_ms); workload; t1=$(now_ms)
native=$((t1 - t0))

# under kguard detect --live (started first, given a second to load and scan /proc)
/usr/bin/time -f '%U %S %M' -o "$tmp/time" "$kguard" detect --live -r "$rules" -o json >"$tmp/alerts" 2>"$tmp/stderr" &
kpid=$!
sleep 2
t0=$(now_ms); workload; t1=$(now_ms)
live=$((t1 - t0))
sleep 1
# /usr/bin/time runs kguard as its child: signal kguard itself
kill -TERM "$(pgrep -P "$kpid" kguard || echo "$kpid")" 2>/dev/null || true
wait "$kpid" || true

t0=$(now_ms); strace -f -c -o "$tmp/strace" sh "$tmp/work.sh"; t1=$(now_ms)
straced=$((t1 - t0))

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.0f%%", (a - b) * 100 / b; else print "-" }'; }
echo "workload: $rounds rounds (find /usr -maxdepth 3, 200 x /bin/true, reads of /etc)"
printf '%-28s %8s ms\n' "native" "$native"
printf '%-28s %8s ms  (%s)\n' "kguard detect --live" "$live" "$(pct "$live" "$native")"
printf '%-28s %8s ms  (%s)\n' "strace -f -c" "$straced" "$(pct "$straced" "$native")"
echo "kguard: $(grep '^Live source:' "$tmp/stderr" || echo 'no metrics line')"
read -r u s m <"$tmp/time" || true
echo "kguard: cpu user ${u:-?} s, sys ${s:-?} s (whole run, includes the /proc scan), peak RSS ${m:-?} KiB"
echo "kguard: $(wc -l <"$tmp/alerts") alerts; strace counted $(awk '/total/ {print $4}' "$tmp/strace") syscalls"

#!/bin/sh
# Drops of `kguard detect --live` at fixed event rates: a generator makes open+close pairs of
# /dev/null at RATE pairs a second (each pair is two system calls: two probe records, four
# events, enter and exit, as Falco counts them) for SECONDS, under `kguard detect --live` with
# Falco's current stable rules; kguard's counters at the end say how many records it read and
# how many the ring buffer dropped. One line per rate, all in one run.
#
# Usage: bench/detect-rate.sh [SECONDS] [RATE...]   (root: the probe needs CAP_BPF + CAP_PERFMON)
#   default: 5 s at 6,250 12,500 25,000 50,000 100,000 pairs/s (25k to 400k events/s)
#   KGUARD=path/to/kguard (default: target/release/kguard, built with
#     `cargo build --release -p kguard-cli --features live`)
#   RULES=falco_rules.yaml (default: $KGUARD_SHARED/oracles/falco-syscall/rules/falco_rules.current.yaml)
#   CONFIG=falco.yaml (optional: e.g. engine.modern_ebpf.buf_size_preset)
set -eu
cd "$(dirname "$0")/.."
secs="${1:-5}"
[ $# -gt 0 ] && shift
rates="${*:-6250 12500 25000 50000 100000}"
kguard="${KGUARD:-${CARGO_TARGET_DIR:-target}/release/kguard}"
rules="${RULES:-${KGUARD_SHARED:-../shared}/oracles/falco-syscall/rules/falco_rules.current.yaml}"
[ -x "$kguard" ] || { echo "bench/detect-rate.sh: no $kguard (cargo build --release -p kguard-cli --features live)" >&2; exit 2; }
[ -f "$rules" ] || { echo "bench/detect-rate.sh: no rules at $rules" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the generator: RATE open+close pairs a second, paced per millisecond, for SECONDS
cat >"$tmp/gen.c" <<'GEN'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
    long rate = atol(argv[1]); double secs = atof(argv[2]); long done = 0;
    double t0 = now(), t;
    while ((t = now() - t0) < secs) {
        long due = (long)(t * rate);
        for (; done < due; done++) { int fd = open("/dev/null", O_RDONLY); if (fd >= 0) close(fd); }
        usleep(200);
    }
    printf("%ld %.3f\n", done, now() - t0);
    return 0;
}
GEN
cc -O2 -o "$tmp/gen" "$tmp/gen.c"

config=""
[ -n "${CONFIG:-}" ] && config="-c $CONFIG"
printf '%-12s %-12s %-12s %-14s %-12s %-10s %s\n' "pairs/s" "made" "events/s" "kguard recs" "recs/s" "drops" "kguard CPU (user+sys s), peak RSS"
for rate in $rates; do
    /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$kguard" detect --live -r "$rules" $config --duration $((secs + 3)) -o json \
        >"$tmp/alerts" 2>"$tmp/stderr" &
    kpid=$!
    sleep 2
    out=$("$tmp/gen" "$rate" "$secs")
    wait "$kpid" || true
    made=${out% *}
    wall=${out#* }
    line=$(grep '^Live source:' "$tmp/stderr" || echo "")
    recs=$(echo "$line" | sed -n 's/.*records=\([0-9]*\).*/\1/p')
    drops=$(echo "$line" | sed -n 's/.* drops=\([0-9]*\).*/\1/p')
    evs=$(awk -v m="$made" -v w="$wall" 'BEGIN { printf "%.0f", m * 4 / w }')
    rps=$(awk -v r="${recs:-0}" -v s="$secs" 'BEGIN { printf "%.0f", r / (s + 3) }')
    read -r u s m <"$tmp/time"
    printf '%-12s %-12s %-12s %-14s %-12s %-10s %s + %s, %s MiB\n' "$rate" "$made" "$evs" "${recs:-?}" "$rps" "${drops:-?}" "$u" "$s" "$((m / 1024))"
done

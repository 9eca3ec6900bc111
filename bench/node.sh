#!/bin/sh
# Times a full `kguard node check` of the CIS node target + sshd + ports sections (and the
# kubelet and sysctl sections), against the fixture root tests/fixtures/node/root and against
# this machine (/), N runs each (default 10), with KGUARD_NODE_TIMINGS=1: prints each section's
# median, the audit commands' share of the CIS section, and the median wall time of the process.
#
# Usage: bench/node.sh [RUNS]
#   KGUARD=path/to/kguard (default: target/release/kguard, built with `cargo build --release -p kguard-cli`)
#   KGUARD_KUBE_BENCH_CFG=kube-bench's cfg/ (default: $KGUARD_SHARED/oracles/nodes/kube-bench/cfg)
set -eu
cd "$(dirname "$0")/.."
runs="${1:-10}"
kguard="${KGUARD:-${CARGO_TARGET_DIR:-target}/release/kguard}"
cfg="${KGUARD_KUBE_BENCH_CFG:-${KGUARD_SHARED:-../shared}/oracles/nodes/kube-bench/cfg}"
[ -x "$kguard" ] || { echo "bench/node.sh: no $kguard (cargo build --release -p kguard-cli)" >&2; exit 2; }
[ -f "$cfg/config.yaml" ] || { echo "bench/node.sh: no kube-bench cfg at $cfg" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

bench() {
    name=$1; shift
    : >"$tmp/timings"; : >"$tmp/wall"
    i=0
    while [ "$i" -lt "$runs" ]; do
        start=$(date +%s%N)
        KGUARD_NODE_TIMINGS=1 "$kguard" node check "$@" --cfg "$cfg" -o json >/dev/null 2>>"$tmp/timings" || true
        end=$(date +%s%N)
        echo "$(( (end - start) / 1000 ))" | awk '{printf "%.1f\n", $1/1000}' >>"$tmp/wall"
        i=$((i + 1))
    done
    echo "== $name: kguard node check $* ($runs runs, medians in ms)"
    for s in cis sshd ports kubelet sysctl total; do
        v=$(grep "^timing: $s [0-9]" "$tmp/timings" | awk '{print $3}' | median)
        [ "$v" = "-" ] || printf '  %-8s %8s\n' "$s" "$v"
    done
    n=$(grep "^timing: cis audit commands" "$tmp/timings" | head -1 | awk '{print $5}')
    a=$(grep "^timing: cis audit commands" "$tmp/timings" | awk '{print $7}' | median)
    [ -z "$n" ] || printf '  %-8s %8s  (%s audit commands, inside cis)\n' "audits" "$a" "$n"
    printf '  %-8s %8s  (the whole process, wall clock)\n' "wall" "$(median <"$tmp/wall")"
}

sections="--section cis,sshd,ports,kubelet,sysctl --targets node"
# shellcheck disable=SC2086
bench "fixture root" --root tests/fixtures/node/root $sections
# shellcheck disable=SC2086
bench "this machine" --root / $sections

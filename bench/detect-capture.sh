#!/usr/bin/env bash
# Falco rules over a system-call capture: kguard against Debian's sysdig 0.29.3 (libsinsp: the
# same capture reader, thread and fd state and filter engine Falco embeds), side by side in one
# run (issue 22, performance): wall time, events per second and peak RSS of
#   sysdig -r BIG.scap -p '*%evt.num' 'FILTER'                  (one filter, libsinsp)
#   kguard detect -r ONE_RULE.yaml -e BIG.scap -o json          (the same condition as one rule)
#   kguard detect -r falco_rules.current.yaml -e BIG.scap       (Falco's 25 stable rules, for scale)
# and whether sysdig and kguard match the same number of events.
#
#   bench/detect-capture.sh                   # COPIES=200 copies of curl_google.scap, RUNS=3
#   SKIP_BUILD=1 COPIES=50 RUNS=5 bench/detect-capture.sh
#
# BIG.scap is written by kguard itself (`kguard detect -w`) from COPIES copies of a staged capture
# (curl_google.scap: 1,536 event blocks of a curl over IPv6); the process list comes from the
# first copy. Needs the oracles folder (../shared or $KGUARD_SHARED) and sysdig (apt-get install
# --no-install-recommends sysdig). Writes to OUT (default target/bench-detect-capture) and prints
# a Markdown table.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
COPIES=${COPIES:-200}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$TARGET/bench-detect-capture}
SHARED=${KGUARD_SHARED:-$(cd .. && pwd)/shared}
ORACLE=$SHARED/oracles/falco-syscall
SRC=${SRC:-$ORACLE/libs/test/libsinsp_e2e/resources/captures/curl_google.scap}
FILTER=${FILTER:-"(evt.type in (connect, sendto, recvfrom, open, openat, close) and proc.name = curl) or (evt.type = execve and evt.dir = <)"}

for tool in /usr/bin/time sysdig; do
    command -v "$tool" >/dev/null || { echo "detect-capture.sh: $tool is needed" >&2; exit 2; }
done
[ -f "$SRC" ] || { echo "detect-capture.sh: $SRC not found (set KGUARD_SHARED)" >&2; exit 2; }
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --profile dist -q -p kguard-cli --bin kguard
fi
KGUARD=${KGUARD:-$TARGET/dist/kguard}
mkdir -p "$OUT"
BIG=$OUT/big.scap
RULE=$OUT/one-rule.yaml
cat >"$RULE" <<EOF
- rule: bench
  desc: the benchmark's filter as one rule
  condition: $FILTER
  output: "%evt.num"
  priority: WARNING
  warn_evttypes: false
EOF

args=()
for _ in $(seq "$COPIES"); do args+=(-e "$SRC"); done
"$KGUARD" detect -r "$RULE" "${args[@]}" -w "$BIG" -o json >/dev/null 2>&1 || [ $? -eq 1 ]
events=$({ "$KGUARD" detect -r "$RULE" -e "$BIG" -o json 2>&1 >/dev/null || true; } | sed -n 's/^Events detected: //p')
blocks=$(( $(stat -c %s "$BIG") ))

# measure NAME CMD...: best wall time and peak RSS over RUNS runs; the command's stdout line
# count goes to $OUT/NAME.count
measure() {
    local name=$1
    shift
    local best="" rss=0
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f '%e %M' -o "$OUT/$name.time" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || true
        # the last line (time writes "Command exited with non-zero status N" first when it does)
        read -r t m < <(tail -n 1 "$OUT/$name.time")
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
        [ "$m" -gt "$rss" ] && rss=$m
    done
    wc -l <"$OUT/$name.out" | tr -d ' ' >"$OUT/$name.count"
    echo "$best $rss"
}

read -r s_t s_m < <(measure sysdig sysdig -r "$BIG" -p '*%evt.num' "$FILTER")
read -r k_t k_m < <(measure kguard "$KGUARD" detect -r "$RULE" -e "$BIG" -o json)
read -r f_t f_m < <(measure kguard-falco "$KGUARD" detect -r "$ORACLE/rules/falco_rules.current.yaml" -e "$BIG" -o json)
n_events=$({ sysdig -r "$BIG" -p '*%evt.num' 2>/dev/null || true; } | wc -l)
s_n=$(cat "$OUT/sysdig.count")
k_n=$(cat "$OUT/kguard.count")

rate() { awk "BEGIN{ if ($2 > 0) printf \"%.0f\", $1 / $2; else print \"-\" }"; }
echo
echo "Capture: $COPIES copies of $(basename "$SRC"): $n_events events sysdig prints, $blocks bytes; best of $RUNS runs"
echo
echo "| run | matched events | wall (s) | events/s | peak RSS (MiB) |"
echo "|---|---|---|---|---|"
echo "| sysdig 0.29.3, one filter | $s_n | $s_t | $(rate "$n_events" "$s_t") | $((s_m / 1024)) |"
echo "| kguard detect, the filter as one rule | $k_n | $k_t | $(rate "$n_events" "$k_t") | $((k_m / 1024)) |"
echo "| kguard detect, falco_rules.current.yaml (25 rules) | $(cat "$OUT/kguard-falco.count") alerts | $f_t | $(rate "$n_events" "$f_t") | $((f_m / 1024)) |"
echo
echo "kguard / sysdig wall time: $(awk "BEGIN{printf \"%.2f\", $k_t / $s_t}")×; events matched: sysdig $s_n, kguard $k_n ($events by its own count)"
if [ "$s_n" != "$k_n" ]; then
    echo "detect-capture.sh: sysdig and kguard matched different numbers of events" >&2
    exit 1
fi

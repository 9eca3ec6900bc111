#!/usr/bin/env bash
# Time and peak memory of `kguard scan` on pod-heavy input, against the size of the input
# (issue "Trustworthy under attack and failure", item 11c): one YAML stream of 1, 4, 16 and 64 MiB
# of pods, and a directory of many one-pod files, each scanned to a table and to SARIF.
#
#   bench/scan-memory.sh                  # sizes 1 4 16 64 (MiB), 100000 tiny files
#   SIZES="1 4" FILES=0 bench/scan-memory.sh
#   SKIP_BUILD=1 bench/scan-memory.sh     # reuse target/release/{kguard,gen-pods}
#
# The input comes from kguard_testkit::pods (the generator the scaling tests use), written by its
# `gen-pods` binary. Needs GNU time (/usr/bin/time). Writes inputs to OUT (default
# target/bench-scan-memory) and prints a Markdown table: seconds and peak RSS, each also per MiB
# of input.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1 4 16 64"}
FILES=${FILES:-100000}
FORMATS=${FORMATS:-"table sarif"}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$TARGET/bench-scan-memory}

if [ ! -x /usr/bin/time ]; then
    echo "scan-memory.sh: GNU time (/usr/bin/time) is needed" >&2
    exit 2
fi
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release -q -p kguard-cli -p kguard-testkit --bin kguard --bin gen-pods
fi
KGUARD=$TARGET/release/kguard
GEN=$TARGET/release/gen-pods
mkdir -p "$OUT"

# measure LABEL INPUT_BYTES FORMAT PATH...: one row.
measure() {
    local label=$1 bytes=$2 format=$3
    shift 3
    local stats=$OUT/time.txt
    /usr/bin/time -o "$stats" -f '%e %M' "$KGUARD" scan "$@" --format "$format" --fail-on never >/dev/null 2>/dev/null
    local secs kib
    read -r secs kib <"$stats"
    awk -v label="$label" -v fmt="$format" -v bytes="$bytes" -v secs="$secs" -v kib="$kib" 'BEGIN {
        mib = bytes / 1048576; rss = kib / 1024;
        printf "| %s | %.1f | %s | %.2f | %.3f | %.0f | %.1f |\n", label, mib, fmt, secs, secs / mib, rss, rss / mib
    }'
}

echo "| input | MiB | format | seconds | s / MiB | peak RSS (MiB) | RSS / input |"
echo "|---|---:|---|---:|---:|---:|---:|"
for mb in $SIZES; do
    file=$OUT/pods-$mb.yaml
    [ -f "$file" ] || "$GEN" file "$mb" "$file"
    bytes=$(stat -c %s "$file")
    objects=$(grep -c '^kind: Pod$' "$file")
    for format in $FORMATS; do
        measure "one file, $objects pods" "$bytes" "$format" "$file"
    done
done
if [ "$FILES" -gt 0 ]; then
    dir=$OUT/tiny-$FILES
    [ -d "$dir" ] || "$GEN" dir "$FILES" "$dir"
    bytes=$(find "$dir" -name '*.yaml' -printf '%s\n' | awk '{ s += $1 } END { print s }')
    for format in $FORMATS; do
        measure "$FILES one-pod files" "$bytes" "$format" "$dir"
    done
fi

#!/usr/bin/env bash
# kguard vs Trivy and Checkov on the same manifests: wall time, peak RSS, and which of the peers'
# (object, check) findings kguard also reports. See bench/README.md.
#
# Usage: bench/compare-peers.sh [DIR]          (default DIR: ../shared/corpus, from the repository root)
# Needs: the peers installed by shared/bench/install-peers.sh (run it first), a Rust toolchain,
#        python3, GNU time (/usr/bin/time; installed with apt-get when missing and we are root).
# Env:   RUNS (default 3) runs per tool; TRIVY_RUNS / CHECKOV_RUNS / KGUARD_RUNS override it per tool
#        PEERS_DIR (default ~/.cache/kguard-peers), TRIVY, CHECKOV (executables)
#        OUT (default target/bench-peers): where reports, logs and results.md go
#        TRIVY_TIMEOUT (default 60m), MISSES (default 5): missed pairs listed per check
#        SKIP_BUILD=1: use the existing target/dist/kguard
#
# Every tool runs offline: Trivy with its embedded checks (--skip-check-update) and a private cache
# directory, Checkov with --skip-download. Runs are sequential, never concurrent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DIR="$(cd "${1:-$ROOT/../shared/corpus}" && pwd -P)"
RUNS="${RUNS:-3}"
PEERS_DIR="${PEERS_DIR:-$HOME/.cache/kguard-peers}"
TRIVY="${TRIVY:-$PEERS_DIR/bin/trivy}"
CHECKOV="${CHECKOV:-$PEERS_DIR/checkov-venv/bin/checkov}"
OUT="${OUT:-$ROOT/target/bench-peers}"
TRIVY_TIMEOUT="${TRIVY_TIMEOUT:-60m}"
MISSES="${MISSES:-5}"

log() { printf 'compare-peers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -x "$TRIVY" ] || die "no trivy at $TRIVY (run shared/bench/install-peers.sh)"
[ -x "$CHECKOV" ] || die "no checkov at $CHECKOV (run shared/bench/install-peers.sh)"
command -v python3 >/dev/null || die "python3 not found"
if [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing GNU time"
    apt-get install -y -qq time >&2 || { apt-get update -qq >&2 && apt-get install -y -qq time >&2; }
  fi
  [ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed: apt-get install time"
fi

KGUARD="$ROOT/target/dist/kguard"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building kguard (dist profile: release + thin LTO)"
  (cd "$ROOT" && cargo build --profile dist --quiet -p kguard-cli)
fi
[ -x "$KGUARD" ] || die "no kguard at $KGUARD"

mkdir -p "$OUT"
TIMES="$OUT/times.tsv"
: >"$TIMES"

# measure TOOL N STDOUT_FILE CMD...: runs CMD N times, appends "TOOL seconds maxrss_kb" per run.
# Exit codes are ignored (all three tools exit non-zero when they find something).
measure() {
  local tool="$1" n="$2" stdout="$3"
  shift 3
  local i
  for ((i = 1; i <= n; i++)); do
    log "$tool run $i/$n"
    /usr/bin/time -f '%e %M' -o "$OUT/$tool.time" "$@" >"$stdout" 2>"$OUT/$tool.log" || true
    # GNU time writes "Command exited with non-zero status N" first when the command fails.
    printf '%s %s\n' "$tool" "$(tail -n 1 "$OUT/$tool.time")" >>"$TIMES"
  done
}

measure kguard "${KGUARD_RUNS:-$RUNS}" "$OUT/kguard.json" \
  "$KGUARD" scan "$DIR" --format json --fail-on never
"$KGUARD" scan "$DIR" --format json --fail-on never --select ALL >"$OUT/kguard-all.json" 2>/dev/null || true
"$KGUARD" rules --format json >"$OUT/rules.json"

rm -rf "$OUT/trivy-cache"
measure trivy "${TRIVY_RUNS:-$RUNS}" /dev/null \
  "$TRIVY" config --quiet --skip-check-update --cache-dir "$OUT/trivy-cache" --timeout "$TRIVY_TIMEOUT" \
  --format json --output "$OUT/trivy.json" "$DIR"
[ -s "$OUT/trivy.json" ] || die "trivy produced no report; see $OUT/trivy.log"

measure checkov "${CHECKOV_RUNS:-$RUNS}" "$OUT/checkov.json" \
  "$CHECKOV" --directory "$DIR" --framework kubernetes --output json --quiet --skip-download
[ -s "$OUT/checkov.json" ] || die "checkov produced no report; see $OUT/checkov.log"

{
  echo "# kguard vs Trivy and Checkov"
  echo
  echo "- date: $(date -u +%Y-%m-%d), directory: $DIR"
  echo "- machine: $(uname -sm), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//'))"
  echo "- kguard $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), trivy $("$TRIVY" --version | head -n1 | sed 's/^Version: //'), checkov $("$CHECKOV" --version 2>/dev/null)"
  echo
  python3 "$ROOT/bench/compare_peers.py" --dir "$DIR" --rules "$OUT/rules.json" \
    --kguard "$OUT/kguard.json" --kguard-all "$OUT/kguard-all.json" \
    --trivy "$OUT/trivy.json" --checkov "$OUT/checkov.json" --times "$TIMES" --misses "$MISSES"
} | tee "$OUT/results.md"
log "reports and results.md in $OUT"

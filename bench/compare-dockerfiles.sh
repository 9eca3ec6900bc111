#!/usr/bin/env bash
# Dockerfile checks: kguard against the Trivy binary, per Trivy DS id.
#
#   bash bench/compare-dockerfiles.sh DIR [--show N]
#
# Runs `trivy config` (offline: --skip-check-update; TRIVY, default
# /root/.cache/kguard-peers/bin/trivy, v0.59.1) and `kguard scan --select dockerfile -o json` on
# DIR (a tree of real Dockerfiles, kept outside the repository) and prints, per DS id, Trivy's
# findings, how many kguard also reports at the same file and line, and kguard's extras.
# KGUARD defaults to the release binary of this checkout (built if missing).
set -euo pipefail
dir=${1:?usage: compare-dockerfiles.sh DIR [--show N]}
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
trivy=${TRIVY:-/root/.cache/kguard-peers/bin/trivy}
target=${CARGO_TARGET_DIR:-$root/target}
kguard=${KGUARD:-$target/release/kguard}
if [ ! -x "$kguard" ]; then
  (cd "$root" && cargo build --release -p kguard-cli >&2)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cache=${TRIVY_CACHE:-/tmp/trivy-df-cache}
(cd "$dir" && "$trivy" config --quiet --skip-check-update --cache-dir "$cache" --format json . > "$out/trivy.json")
# Exit 1 (findings) and 2 (unreadable Dockerfiles, which Trivy skips too) are expected.
(cd "$dir" && "$kguard" scan . --no-config --select dockerfile -o json > "$out/kguard.json" 2> "$out/kguard.err") || true
echo "kguard: $(grep -c 'dockerfile-syntax' "$out/kguard.err" || true) Dockerfiles unreadable (BuildKit grammar errors)"
python3 "$here/compare_dockerfiles.py" "$out/trivy.json" "$out/kguard.json" . "$@"

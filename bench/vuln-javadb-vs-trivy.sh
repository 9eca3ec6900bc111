#!/usr/bin/env bash
# Java archives without pom.properties, identified with Trivy's Java DB, against Trivy: the same
# root filesystem (default tests/fixtures/vuln/java-jars) and the same trivy-java.db (default
# tests/fixtures/vuln/java-db, which make-java-db.py writes), listed as CycloneDX by
#   kguard fs DIR -o cyclonedx --java-db DB/trivy-java.db
#   trivy rootfs DIR --format cyclonedx --skip-db-update --skip-java-db-update --cache-dir C
#     (C/java-db/ holding the same DB and its metadata.json)
# and compares the (group, name, version, file path) of every component; exit 1 on a difference.
# (Trivy 0.59.1 uses its Java DB even with --offline-scan and refuses to scan jars without one,
# so kguard's behaviour without --java-db, MANIFEST.MF only, has no Trivy counterpart here.)
#
# Usage: bench/vuln-javadb-vs-trivy.sh [ROOTFS] [JAVA_DB_DIR]
# Trivy from ../shared/bench/install-peers.sh (~/.cache/kguard-peers/bin/trivy; TRIVY= to override).
set -euo pipefail
cd "$(dirname "$0")/.."
TRIVY=${TRIVY:-$HOME/.cache/kguard-peers/bin/trivy}
if [[ ! -x $TRIVY ]]; then
  echo "SKIPPED: no Trivy at $TRIVY (run ../shared/bench/install-peers.sh)"
  exit 0
fi
rootfs=${1:-tests/fixtures/vuln/java-jars}
dbdir=${2:-tests/fixtures/vuln/java-db}
KGUARD=${KGUARD:-}
if [[ -z $KGUARD ]]; then
  cargo build -q -p kguard-cli
  KGUARD=${CARGO_TARGET_DIR:-target}/debug/kguard
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/cache/java-db"
cp "$dbdir/trivy-java.db" "$dbdir/metadata.json" "$out/cache/java-db/"

"$KGUARD" fs "$rootfs" -o cyclonedx --java-db "$dbdir/trivy-java.db" --output-file "$out/kguard-db.json"
"$TRIVY" rootfs "$rootfs" --quiet --format cyclonedx --skip-db-update --skip-java-db-update \
  --cache-dir "$out/cache" --output "$out/trivy-db.json"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def rows(path):
    got = set()
    for c in json.load(open(path)).get("components", []):
        if c.get("type") != "library":
            continue
        fp = [p["value"] for p in c.get("properties", []) if p["name"] == "aquasecurity:trivy:FilePath"]
        got.add((c.get("group", ""), c["name"], c.get("version", ""), fp[0] if fp else ""))
    return got
status = 0
for mode in ("db",):
    k, t = rows(f"{out}/kguard-{mode}.json"), rows(f"{out}/trivy-{mode}.json")
    print(f"{mode}: kguard {len(k)} components, Trivy {len(t)}, identical {len(k & t)}")
    for r in sorted(k - t):
        print("  only kguard:", r)
    for r in sorted(t - k):
        print("  only Trivy:", r)
    status |= k != t
sys.exit(status)
PY

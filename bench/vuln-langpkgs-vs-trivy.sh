#!/usr/bin/env bash
# Installed language packages found by kguard and by Trivy in the same image archives and root
# filesystems, offline: every lang-pkgs result's (Target, Type) and each package's ID, name,
# version, PURL, relationship, file path and dependencies, compared as sets (licenses are not:
# kguard does not yet normalise license names to SPDX ids as Trivy does). Prints one line per
# input and the differences; exits 1 when any input differs.
#
#   bench/vuln-langpkgs-vs-trivy.sh                       # tests/fixtures/vuln/lang-image.tar
#   bench/vuln-langpkgs-vs-trivy.sh image.tar rootfs-dir/  # images (files) and root filesystems (dirs)
#
# Trivy comes from ../shared/bench/install-peers.sh (~/.cache/kguard-peers/bin/trivy; TRIVY= to
# name another). Without it the script says so and exits 0 (skipped). Trivy runs with
# `--offline-scan --skip-db-update --skip-java-db-update --scanners license`: no vulnerability
# DB is needed to list packages, and without its Java DB Trivy reads no jar/war/ear at all, so
# `jar` results (which kguard reports from pom.properties and manifests, Trivy's offline rules)
# are left out of the comparison and counted separately.
set -euo pipefail
cd "$(dirname "$0")/.."
TRIVY=${TRIVY:-$HOME/.cache/kguard-peers/bin/trivy}
OUT=${OUT:-target/bench-langpkgs}
if [[ ! -x $TRIVY ]]; then
  echo "SKIPPED: no Trivy at $TRIVY (run ../shared/bench/install-peers.sh)"
  exit 0
fi
KGUARD=${KGUARD:-}
if [[ -z $KGUARD ]]; then
  cargo build -q -p kguard-cli
  KGUARD=${CARGO_TARGET_DIR:-target}/debug/kguard
fi
mkdir -p "$OUT"
inputs=("$@")
[[ ${#inputs[@]} -gt 0 ]] || inputs=(tests/fixtures/vuln/lang-image.tar)
status=0
for input in "${inputs[@]}"; do
  base=$OUT/$(basename "$input")
  if [[ -d $input ]]; then kg=(fs "$input"); tv=(rootfs "$input"); else kg=(image --input "$input"); tv=(image --input "$input"); fi
  "$KGUARD" "${kg[@]}" -o json --list-all-pkgs --output-file "$base.kguard.json" 2>"$base.kguard.err" || true
  "$TRIVY" "${tv[@]}" --quiet --offline-scan --skip-db-update --skip-java-db-update --scanners license \
    --list-all-pkgs --format json --cache-dir "$OUT/trivy-cache" --output "$base.trivy.json" 2>"$base.trivy.err"
  python3 - "$base.kguard.json" "$base.trivy.json" "$input" <<'PY' || status=1
import json, sys
def rows(path):
    out, jars = set(), 0
    for r in json.load(open(path)).get("Results") or []:
        if r.get("Class") != "lang-pkgs":
            continue
        for p in r.get("Packages") or []:
            row = (r["Target"], r.get("Type"), p.get("ID", ""), p["Name"], p.get("Version", ""),
                   (p.get("Identifier") or {}).get("PURL", ""), p.get("Relationship", ""), p.get("FilePath", ""),
                   tuple(p.get("DependsOn") or ()), tuple(p.get("Licenses") or ()))
            if r.get("Type") == "jar":
                jars += 1
            else:
                out.add(row)
    return out, jars
k, kj = rows(sys.argv[1]); t, tj = rows(sys.argv[2])
same = len(k & t)
print(f"{sys.argv[3]}: kguard {len(k)} packages, Trivy {len(t)}, identical {same}"
      f" (jar: kguard {kj}, Trivy {tj}, not compared)")
for r in sorted(k - t): print("  only kguard:", r)
for r in sorted(t - k): print("  only Trivy: ", r)
sys.exit(0 if k == t else 1)
PY
done
exit $status

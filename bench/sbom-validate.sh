#!/usr/bin/env bash
# Validates the SBOMs kguard writes with the formats' own reference tools, and checks that Trivy
# reads them back with the same packages (issue 19, item 5):
#   - CycloneDX 1.6: cyclonedx-python-lib's strict JSON-schema validator (the official schema);
#   - SPDX 2.3: spdx-tools' `pyspdxtools -i` (parses and validates against the spec);
#   - Trivy (when installed): `trivy sbom` on each document lists the same packages, source
#     packages included, as kguard's JSON inventory of the same image.
#
#   bench/sbom-validate.sh [IMAGE_OR_ROOTFS...]   # default: the example image and root filesystem
#
# Installs the two Python packages into a virtual environment (PyPI is needed once; VENV= to
# reuse one). Exit 0 when every document is valid, 1 otherwise.
set -euo pipefail

cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$TARGET/bench-sbom}
VENV=${VENV:-$OUT/venv}
TRIVY=${TRIVY:-$HOME/.cache/kguard-peers/bin/trivy}
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/pyspdxtools" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "cyclonedx-python-lib[json-validation]" spdx-tools
fi
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build -q -p kguard-cli --bin kguard
fi
KGUARD=${KGUARD:-$TARGET/debug/kguard}
inputs=("$@")
[ ${#inputs[@]} -gt 0 ] || inputs=(tests/fixtures/vuln/debian-image.tar tests/fixtures/vuln/debian-rootfs)

fail=0
for input in "${inputs[@]}"; do
    if [ -d "$input" ] && [ ! -f "$input/manifest.json" ] && [ ! -f "$input/oci-layout" ]; then cmd=fs; else cmd=image; fi
    name=$(basename "$input")
    "$KGUARD" "$cmd" "$input" -o cyclonedx --output-file "$OUT/$name.cdx.json"
    "$KGUARD" "$cmd" "$input" -o spdx-json --output-file "$OUT/$name.spdx.json"
    "$KGUARD" "$cmd" "$input" -o json --list-all-pkgs --output-file "$OUT/$name.inventory.json"
    if "$VENV/bin/python" - "$OUT/$name.cdx.json" <<'EOF'
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if err is not None:
    print(err)
    sys.exit(1)
EOF
    then echo "ok   $name: CycloneDX 1.6 schema"; else echo "FAIL $name: CycloneDX 1.6 schema"; fail=1; fi
    if "$VENV/bin/pyspdxtools" -i "$OUT/$name.spdx.json" >"$OUT/$name.spdx.log" 2>&1; then
        echo "ok   $name: SPDX 2.3 (pyspdxtools)"
    else
        echo "FAIL $name: SPDX 2.3 (pyspdxtools): $(tail -2 "$OUT/$name.spdx.log")"
        fail=1
    fi
    if [ -x "$TRIVY" ]; then
        for doc in cdx spdx; do
            "$TRIVY" sbom --quiet --cache-dir "$OUT/trivy-cache" --scanners license --list-all-pkgs -f json \
                "$OUT/$name.$doc.json" >"$OUT/$name.$doc.trivy.json"
            if python3 - "$OUT/$name.inventory.json" "$OUT/$name.$doc.trivy.json" <<'EOF'
import json, sys
def pkgs(path, trivy):
    d = json.load(open(path))
    out = set()
    for r in d.get("Results", []):
        for p in r.get("Packages", []):
            ver = p["Version"]
            src = p.get("SrcVersion", "")
            if trivy:
                # Trivy splits versions: epoch, version, release.
                if p.get("Epoch"):
                    ver = f'{p["Epoch"]}:{ver}'
                if p.get("Release"):
                    ver = f'{ver}-{p["Release"]}'
                if p.get("SrcRelease"):
                    src = f'{src}-{p["SrcRelease"]}'
                if p.get("SrcEpoch"):
                    src = f'{p["SrcEpoch"]}:{src}'
            out.add((p["Name"], ver, p.get("SrcName", ""), src))
    return out
k, t = pkgs(sys.argv[1], False), pkgs(sys.argv[2], True)
if k != t:
    print("only kguard:", sorted(k - t)[:5], "only trivy:", sorted(t - k)[:5])
    sys.exit(1)
print(len(k), "packages")
EOF
            then echo "ok   $name: Trivy reads the $doc document back"; else echo "FAIL $name: Trivy reads the $doc document differently"; fail=1; fi
        done
    else
        echo "skip $name: Trivy not installed ($TRIVY)"
    fi
done
exit $fail

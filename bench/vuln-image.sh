#!/usr/bin/env bash
# Package inventory of the same image archive and root filesystem by kguard and Trivy, side by
# side in one run (issue 19, performance): wall time and peak RSS of
#   kguard image --input IMAGE.tar -o cyclonedx      vs  trivy image --input IMAGE.tar --format cyclonedx
#   (and kguard image --verify-layers, which reads every layer whole and checks its diff_id)
#   kguard fs ROOTDIR -o cyclonedx                   vs  trivy rootfs ROOTDIR --format cyclonedx
# and whether both SBOMs list the same package URLs.
#
#   ../shared/bench/install-peers.sh     # Trivy 0.59.1 into ~/.cache/kguard-peers
#   bench/vuln-image.sh                  # RUNS=3 each
#   SKIP_BUILD=1 RUNS=5 bench/vuln-image.sh
#
# The image is built from this machine (a Debian host): layer 1 holds /etc/os-release,
# /etc/debian_version, /var/lib/dpkg, /usr/bin and /usr/lib/x86_64-linux-gnu (about 1 GB, every
# file a real one); layer 2 upgrades one package in the dpkg status and whites out a file of layer
# 1. `docker save` format, written with tar and python3 (no container runtime needed). Trivy runs
# offline (`--format cyclonedx` disables its vulnerability scanning, so no database is needed)
# with a fresh cache directory per run, so it cannot answer from a previous run's layer cache.
# Writes everything to OUT (default target/bench-vuln-image) and prints a Markdown table.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$TARGET/bench-vuln-image}
TRIVY=${TRIVY:-$HOME/.cache/kguard-peers/bin/trivy}
PARTS=${PARTS:-"etc/os-release etc/debian_version var/lib/dpkg usr/bin usr/lib/x86_64-linux-gnu"}
# Where the packages' copyright files are taken from (only `DOCS/*/copyright`, as dpkg installs them).
DOCS=${DOCS:-usr/share/doc}

for tool in /usr/bin/time python3 tar; do
    command -v "$tool" >/dev/null || { echo "vuln-image.sh: $tool is needed" >&2; exit 2; }
done
[ -x "$TRIVY" ] || { echo "vuln-image.sh: Trivy not found at $TRIVY (run ../shared/bench/install-peers.sh)" >&2; exit 2; }
[ -f /var/lib/dpkg/status ] || { echo "vuln-image.sh: needs a Debian host (/var/lib/dpkg/status)" >&2; exit 2; }
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --profile dist -q -p kguard-cli --bin kguard
fi
KGUARD=${KGUARD:-$TARGET/dist/kguard}
mkdir -p "$OUT"
IMAGE=$OUT/host-image.tar
ROOT=$OUT/rootfs

if [ ! -f "$IMAGE" ]; then
    work=$OUT/build
    rm -rf "$work" && mkdir -p "$work/l2/var/lib/dpkg"
    # shellcheck disable=SC2086
    (cd / && find $DOCS -mindepth 2 -maxdepth 2 -name copyright -type f) >"$work/docs.txt"
    # shellcheck disable=SC2086
    tar -C / --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/layer1.tar" $PARTS -T "$work/docs.txt"
    python3 - "$work/l2/var/lib/dpkg/status" <<'EOF'
import sys
text = open("/var/lib/dpkg/status", encoding="utf-8", errors="surrogateescape").read()
# Upgrade the first package's version: layer 2's status replaces layer 1's.
first, rest = text.split("\nVersion: ", 1)
version, tail = rest.split("\n", 1)
open(sys.argv[1], "w", encoding="utf-8", errors="surrogateescape").write(first + "\nVersion: " + version + "+kguard1\n" + tail)
EOF
    : >"$work/l2/var/lib/dpkg/.wh.available"
    tar -C "$work/l2" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/layer2.tar" var
    python3 - "$work" "$IMAGE" <<'EOF'
import hashlib, json, os, sys, tarfile
work, out = sys.argv[1], sys.argv[2]
layers = [os.path.join(work, n) for n in ("layer1.tar", "layer2.tar")]
def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()
digests = [sha(l) for l in layers]
config = json.dumps({"architecture": "amd64", "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for d in digests]}}).encode()
cname = hashlib.sha256(config).hexdigest() + ".json"
open(os.path.join(work, cname), "wb").write(config)
names = [d + "/layer.tar" for d in digests]
manifest = json.dumps([{"Config": cname, "RepoTags": ["bench/host:latest"], "Layers": names}]).encode()
open(os.path.join(work, "manifest.json"), "wb").write(manifest)
with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
    t.add(os.path.join(work, "manifest.json"), "manifest.json")
    t.add(os.path.join(work, cname), cname)
    for path, name in zip(layers, names):
        t.add(path, name)
EOF
    rm -rf "$work"
fi
if [ ! -d "$ROOT" ]; then
    mkdir -p "$ROOT"
    # shellcheck disable=SC2086
    (cd / && find $DOCS -mindepth 2 -maxdepth 2 -name copyright -type f) >"$OUT/docs.txt"
    # shellcheck disable=SC2086
    tar -C / -cf - $PARTS -T "$OUT/docs.txt" | tar -C "$ROOT" -xf -
fi

# run NAME OUTFILE CMD...: RUNS runs; prints "median_seconds max_rss_kib".
run() {
    local name=$1 outfile=$2
    shift 2
    local times=() rss=0
    for _ in $(seq "$RUNS"); do
        rm -rf "$OUT/trivy-cache"
        /usr/bin/time -o "$OUT/time.txt" -f '%e %M' "$@" >"$outfile" 2>"$OUT/$name.log"
        read -r secs kib <"$OUT/time.txt"
        times+=("$secs")
        [ "$kib" -gt "$rss" ] && rss=$kib
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$median $rss"
}

purls() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("\n".join(sorted(c["purl"] for c in d.get("components",[]) if "purl" in c)))' "$1"
}

# licenses FILE: "purl<TAB>license,license" for each component with a purl, sorted.
licenses() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("\n".join(sorted(c["purl"] + "\t" + ",".join(l["license"].get("name") or l["license"].get("id", "") for l in c.get("licenses", [])) for c in d.get("components",[]) if "purl" in c)))' "$1"
}

size=$(stat -c %s "$IMAGE")
echo "image: $IMAGE ($((size / 1048576)) MiB), rootfs: $ROOT; $RUNS runs each; $("$TRIVY" --version | head -1)"
echo
echo "| input | tool | median s | peak RSS MiB | packages | same package URLs |"
echo "|---|---|---:|---:|---:|---|"
: >"$OUT/licenses.txt"
for kind in image rootfs; do
    if [ "$kind" = image ]; then
        read -r ks kr < <(run kguard-$kind "$OUT/kguard-$kind.json" "$KGUARD" image --input "$IMAGE" -o cyclonedx)
        read -r ts tr < <(run trivy-$kind "$OUT/trivy-$kind.json" "$TRIVY" image --quiet --cache-dir "$OUT/trivy-cache" --input "$IMAGE" --format cyclonedx)
        # The same with every layer read whole and checked against its diff_id.
        read -r vs vr < <(run kguard-verify "$OUT/kguard-verify.json" "$KGUARD" image --verify-layers --input "$IMAGE" -o cyclonedx)
    else
        read -r ks kr < <(run kguard-$kind "$OUT/kguard-$kind.json" "$KGUARD" fs "$ROOT" -o cyclonedx)
        read -r ts tr < <(run trivy-$kind "$OUT/trivy-$kind.json" "$TRIVY" rootfs --quiet --cache-dir "$OUT/trivy-cache" --format cyclonedx "$ROOT")
    fi
    purls "$OUT/kguard-$kind.json" >"$OUT/kguard-$kind.purls"
    purls "$OUT/trivy-$kind.json" >"$OUT/trivy-$kind.purls"
    kn=$(wc -l <"$OUT/kguard-$kind.purls")
    tn=$(wc -l <"$OUT/trivy-$kind.purls")
    if cmp -s "$OUT/kguard-$kind.purls" "$OUT/trivy-$kind.purls"; then same=yes; else same="no (diff $OUT/{kguard,trivy}-$kind.purls)"; fi
    licenses "$OUT/kguard-$kind.json" >"$OUT/kguard-$kind.licenses"
    licenses "$OUT/trivy-$kind.json" >"$OUT/trivy-$kind.licenses"
    lsame=$(comm -12 "$OUT/kguard-$kind.licenses" "$OUT/trivy-$kind.licenses" | wc -l)
    licensed=$(awk -F'\t' '$2 != ""' "$OUT/trivy-$kind.licenses" | wc -l)
    echo "$kind: licenses agree for $lsame of $tn packages ($licensed with licenses in Trivy's; diff $OUT/{kguard,trivy}-$kind.licenses)" >>"$OUT/licenses.txt"
    echo "| $kind | kguard | $ks | $((kr / 1024)) | $kn | $same |"
    if [ "$kind" = image ]; then
        purls "$OUT/kguard-verify.json" >"$OUT/kguard-verify.purls"
        if cmp -s "$OUT/kguard-verify.purls" "$OUT/trivy-$kind.purls"; then vsame=yes; else vsame="no (diff $OUT/{kguard-verify,trivy-$kind}.purls)"; fi
        echo "| $kind | kguard --verify-layers | $vs | $((vr / 1024)) | $(wc -l <"$OUT/kguard-verify.purls") | $vsame |"
    fi
    echo "| $kind | Trivy | $ts | $((tr / 1024)) | $tn | |"
    awk -v k="$ks" -v t="$ts" -v kr="$kr" -v tr="$tr" -v kind="$kind" \
        'BEGIN { printf "| %s | ratio | Trivy / kguard: %.1f× time | kguard / Trivy: %.2f of memory | | |\n", kind, (k > 0 ? t / k : 0), kr / tr }'
done
echo
cat "$OUT/licenses.txt"

#!/usr/bin/env bash
# `kguard serve` under wrk, a load generator in its own process (C, OpenSSL): maximum throughput
# of validating AdmissionReviews over HTTPS keep-alive, and the server's own peak RSS.
#
#   bash bench/serve-wrk.sh [SECONDS] [CONNECTIONS]
#
# Needs wrk (Debian: apt-get install wrk) and curl; builds the dist binary (release + thin LTO). The review is the
# Rust benches' (crates/server/benches/pod-review.json: a 2.1 kB two-container Pod), judged with
# Pod Security `restricted` + hardening rules at `high`, deny. wrk runs one thread; the server two worker threads; both
# share this machine's cores. wrk cannot present a client certificate, so this server does not
# ask for one (the in-process bench, `cargo bench -p kguard-server --bench serve`, does mutual TLS).
set -euo pipefail
seconds=${1:-10}
connections=${2:-16}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 2; }
cargo build --profile dist --quiet -p kguard-cli --manifest-path "$root/Cargo.toml"
target=${CARGO_TARGET_DIR:-$root/target}
kguard=$target/dist/kguard
review=$root/crates/server/benches/pod-review.json

dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$kguard" pki init "$dir/pki" >/dev/null
mkdir "$dir/state"
cat >"$dir/state/ns.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: prod
  labels: {pod-security.kubernetes.io/enforce: restricted}
EOF
port=$((20000 + RANDOM % 20000))
cat >"$dir/kguard.yaml" <<EOF
apiVersion: kguard.io/v1alpha1
kind: ServerConfig
listen: 127.0.0.1:$port
healthListen: 127.0.0.1:$((port + 1))
reloadIntervalSeconds: 0
tls: {certFile: pki/apiserver.crt, keyFile: pki/apiserver.key}
state: {dir: state, defaultRbac: false}
admission:
  hardening: {enabled: true, minSeverity: high, action: deny}
EOF
cat >"$dir/post.lua" <<EOF
local f = assert(io.open("$review", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
EOF

"$kguard" serve --config "$dir/kguard.yaml" --threads 2 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$((port + 1))/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
answer=$(curl -sk -H 'Content-Type: application/json' --data-binary @"$review" "https://127.0.0.1:$port/validate")
case $answer in
  *'"allowed":true'*) ;;
  *) echo "unexpected answer: $answer" >&2; exit 2 ;;
esac
echo "kguard serve under wrk: $(wc -c <"$review") byte AdmissionReview, $connections connections, ${seconds}s"
wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$dir/post.lua" "https://127.0.0.1:$port/validate"
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$pid/status")"
echo "answers other than 200: $(curl -s "http://127.0.0.1:$((port + 1))/metrics" | grep -E '^kguard_requests_total.*code="[^2]' || echo none)"
curl -s "http://127.0.0.1:$((port + 1))/metrics" | grep -E "^kguard_decisions_total.endpoint=.validate" || true

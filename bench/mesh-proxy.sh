#!/usr/bin/env bash
# `kguard mesh proxy` side by side with reference TLS proxies, on loopback, in one run (issue 20):
#
#   (1) direct:  client -> backend
#   (2) kguard:  client -> kguard outbound proxy -> (mTLS, STRICT) -> kguard inbound proxy -> backend
#   (3) haproxy: client -> haproxy TLS-originating -> (mTLS) -> haproxy mTLS-terminating -> backend
#   (4) nginx:   client -> nginx stream TLS-originating -> (mTLS) -> nginx stream mTLS-terminating -> backend
#
# The backend is nginx serving a 1 KiB body and a BULK_MB file over HTTP/1.1. Every proxy is L4
# (bytes in, bytes out), one thread or worker per proxy process, TLS 1.3 only, the same
# certificates: SVIDs issued by `kguard mesh ca` / `kguard mesh issue` (the client side
# spiffe://cluster.local/ns/shop/sa/web, the server side .../sa/api). Each terminating side
# requires a client certificate that chains to the CA; each originating side presents its SVID.
# What each side checks of its peer beyond the chain: kguard the SPIFFE ID (STRICT port with an
# allow-list, outbound route with an expected identity); haproxy the chain only (`verify required`,
# no `verifyhost`); nginx's originating side cannot verify a certificate without a DNS name or CN
# (SVIDs have neither: `proxy_ssl_verify on` always fails), so it does not verify the server
# (`proxy_ssl_verify off`): row (4) is a reference for cost, not for equal checks.
#
# Measured for each path:
#   - 1 KiB request/response over keep-alive connections: wrk, CONNECTIONS connections, SECONDS s:
#     requests/s, p50 and p99 latency (wrk's --latency);
#   - a new connection per request (the mTLS handshakes of both proxies on every request): ab
#     without -k, 8 concurrent, NEW requests: requests/s, p50 and p99;
#   - bulk: curl downloads the BULK_MB file: MB/s (MB = 10^6 bytes);
#   - each of the three ROUNDS times, the paths interleaved; the table shows the medians;
#   - memory per idle connection, once: IDLE connections opened through the proxy pair, each
#     carrying one 1 KiB request/response and then left open; the RSS of the proxy processes (both
#     sides) after, minus before, divided by IDLE.
#
#   bash bench/mesh-proxy.sh [SECONDS] [CONNECTIONS] [IDLE]
#   KGUARD=path/to/kguard  (default: build `cargo build --release -p kguard-cli --bin kguard`)
#   ROUNDS=3 BULK_MB=100 NEW=2000 THREADS=1
#   PERF_DIR=dir: `perf record` both kguard proxies during the first round's wrk run
#   KGUARD_BUFFER_BYTES=16384: the proxies' limits.bufferBytes (copy buffer per direction)
#
# Needs nginx with the stream module (Debian: nginx-light + libnginx-mod-stream, or nginx),
# haproxy, wrk, ab (apache2-utils), curl, openssl, python3; installs nothing (exit 2 when one is
# missing). Everything runs on this machine's cores at once: client, proxies and backend compete
# for them, as in a pod.
set -euo pipefail
seconds=${1:-10}
connections=${2:-16}
idle=${3:-1000}
bulk_mb=${BULK_MB:-100}
rounds=${ROUNDS:-3}
new=${NEW:-2000}
threads=${THREADS:-1}
root=$(cd "$(dirname "$0")/.." && pwd)

missing=()
for tool in nginx haproxy wrk ab curl openssl python3; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
stream_module=
for m in /usr/lib/nginx/modules/ngx_stream_module.so /usr/lib64/nginx/modules/ngx_stream_module.so; do
  [ -e "$m" ] && stream_module=$m && break
done
if [ -z "$stream_module" ] && command -v nginx >/dev/null && ! nginx -V 2>&1 | grep -q -- '--with-stream '; then
  missing+=("nginx stream module (libnginx-mod-stream)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]}" >&2
  echo "(Debian: apt-get install nginx-light libnginx-mod-stream haproxy wrk apache2-utils curl openssl python3)" >&2
  exit 2
fi

if [ -z "${KGUARD:-}" ]; then
  cargo build --release --quiet -p kguard-cli --bin kguard --manifest-path "$root/Cargo.toml"
  KGUARD=${CARGO_TARGET_DIR:-$root/target}/release/kguard
fi
[ -x "$KGUARD" ] || { echo "not executable: $KGUARD" >&2; exit 2; }

dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

base=$((20000 + RANDOM % 20000))
backend=$base
kg_out=$((base + 1)) kg_in=$((base + 2)) kg_admin_out=$((base + 3)) kg_admin_in=$((base + 4))
ha_out=$((base + 5)) ha_in=$((base + 6))
ng_out=$((base + 7)) ng_in=$((base + 8))

# --- certificates: one CA, two SVIDs -------------------------------------------------------
"$KGUARD" mesh ca --out "$dir/pki" >/dev/null
"$KGUARD" mesh issue --ca "$dir/pki" --namespace shop --service-account web --out "$dir/pki/certs" >/dev/null
"$KGUARD" mesh issue --ca "$dir/pki" --namespace shop --service-account api --out "$dir/pki/certs" >/dev/null
pki=$dir/pki
cat "$pki/certs/shop.web.crt" "$pki/certs/shop.web.key" >"$pki/web.pem"
cat "$pki/certs/shop.api.crt" "$pki/certs/shop.api.key" >"$pki/api.pem"

# --- the backend: nginx, HTTP/1.1, keep-alive ------------------------------------------------
mkdir -p "$dir/www" "$dir/backend/logs"
chmod 755 "$dir" "$dir/www" # nginx workers run as nobody when started by root
head -c 1024 /dev/urandom >"$dir/www/1k"
head -c "$((bulk_mb * 1000 * 1000))" /dev/urandom >"$dir/www/bulk"
load_stream=
[ -n "$stream_module" ] && load_stream="load_module $stream_module;"
nginx_head() { # $1: prefix directory
  cat <<EOF
$load_stream
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 8192; }
EOF
}
{
  nginx_head "$dir/backend"
  cat <<EOF
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 600s;
  keepalive_requests 10000000;
  client_header_timeout 600s;
  default_type application/octet-stream;
  client_body_temp_path $dir/backend/body;
  proxy_temp_path $dir/backend/proxy;
  fastcgi_temp_path $dir/backend/fastcgi;
  uwsgi_temp_path $dir/backend/uwsgi;
  scgi_temp_path $dir/backend/scgi;
  server { listen 127.0.0.1:$backend; root $dir/www; }
}
EOF
} >"$dir/backend/nginx.conf"
nginx -p "$dir/backend" -c "$dir/backend/nginx.conf" -e "$dir/backend/error.log" &
pids+=($!)

# --- kguard: two sidecars ---------------------------------------------------------------------
common_kguard="timeouts: {idleSeconds: 900}
limits: {maxConnections: 16384, bufferBytes: ${KGUARD_BUFFER_BYTES:-16384}}
reloadIntervalSeconds: 0
shutdownGraceSeconds: 1"
cat >"$dir/kguard-web.yaml" <<EOF
apiVersion: kguard.io/v1alpha1
kind: MeshProxyConfig
identity: {cert: pki/certs/shop.web.crt, key: pki/certs/shop.web.key, bundle: pki/ca.crt}
outbound:
- listen: 127.0.0.1:$kg_out
  to: 127.0.0.1:$kg_in
  identity: spiffe://cluster.local/ns/shop/sa/api
admin: {listen: 127.0.0.1:$kg_admin_out}
$common_kguard
EOF
cat >"$dir/kguard-api.yaml" <<EOF
apiVersion: kguard.io/v1alpha1
kind: MeshProxyConfig
identity: {cert: pki/certs/shop.api.crt, key: pki/certs/shop.api.key, bundle: pki/ca.crt}
inbound:
- {port: $kg_in, address: 127.0.0.1, appPort: $backend, mode: STRICT, allow: [spiffe://cluster.local/ns/shop/sa/web]}
admin: {listen: 127.0.0.1:$kg_admin_in}
$common_kguard
EOF
"$KGUARD" mesh proxy --config "$dir/kguard-api.yaml" --threads "$threads" --log-level warning 2>"$dir/kguard-api.log" &
kg_in_pid=$!
pids+=($kg_in_pid)
"$KGUARD" mesh proxy --config "$dir/kguard-web.yaml" --threads "$threads" --log-level warning 2>"$dir/kguard-web.log" &
kg_out_pid=$!
pids+=($kg_out_pid)

# --- haproxy: two processes, TCP mode ---------------------------------------------------------
haproxy_conf() { # $1: name; then the proxy sections
  cat <<EOF
global
  nbthread $threads
  maxconn 8000
  pidfile $dir/haproxy-$1.pid
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3
  ssl-server-verify required
defaults
  mode tcp
  timeout connect 5s
  timeout client 900s
  timeout server 900s
EOF
}
{
  haproxy_conf out
  cat <<EOF
frontend out
  bind 127.0.0.1:$ha_out
  default_backend peer
backend peer
  server in 127.0.0.1:$ha_in ssl verify required ca-file $pki/ca.crt crt $pki/web.pem
EOF
} >"$dir/haproxy-out.cfg"
{
  haproxy_conf in
  cat <<EOF
frontend in
  bind 127.0.0.1:$ha_in ssl crt $pki/api.pem ca-file $pki/ca.crt verify required
  default_backend app
backend app
  server app 127.0.0.1:$backend
EOF
} >"$dir/haproxy-in.cfg"
haproxy -db -f "$dir/haproxy-in.cfg" 2>"$dir/haproxy-in.log" &
ha_in_pid=$!
pids+=($ha_in_pid)
haproxy -db -f "$dir/haproxy-out.cfg" 2>"$dir/haproxy-out.log" &
ha_out_pid=$!
pids+=($ha_out_pid)

# --- nginx stream: two instances --------------------------------------------------------------
for side in ngout ngin; do mkdir -p "$dir/$side"; done
{
  nginx_head "$dir/ngout"
  cat <<EOF
stream {
  server {
    listen 127.0.0.1:$ng_out;
    tcp_nodelay on;
    proxy_timeout 900s;
    proxy_pass 127.0.0.1:$ng_in;
    proxy_ssl on;
    proxy_ssl_protocols TLSv1.3;
    proxy_ssl_certificate $pki/certs/shop.web.crt;
    proxy_ssl_certificate_key $pki/certs/shop.web.key;
    proxy_ssl_verify off;
  }
}
EOF
} >"$dir/ngout/nginx.conf"
{
  nginx_head "$dir/ngin"
  cat <<EOF
stream {
  server {
    listen 127.0.0.1:$ng_in ssl;
    tcp_nodelay on;
    proxy_timeout 900s;
    ssl_protocols TLSv1.3;
    ssl_certificate $pki/certs/shop.api.crt;
    ssl_certificate_key $pki/certs/shop.api.key;
    ssl_client_certificate $pki/ca.crt;
    ssl_verify_client on;
    proxy_pass 127.0.0.1:$backend;
  }
}
EOF
} >"$dir/ngin/nginx.conf"
nginx -p "$dir/ngin" -c "$dir/ngin/nginx.conf" -e "$dir/ngin/error.log" &
ng_in_pid=$!
pids+=($ng_in_pid)
nginx -p "$dir/ngout" -c "$dir/ngout/nginx.conf" -e "$dir/ngout/error.log" &
ng_out_pid=$!
pids+=($ng_out_pid)

# --- wait, then check every path end to end ---------------------------------------------------
for port in $backend $kg_out $ha_out $ng_out; do
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/1k" && break
    sleep 0.1
  done
done
for path in "direct $backend" "kguard $kg_out" "haproxy $ha_out" "nginx $ng_out"; do
  set -- $path
  if ! curl -sf "http://127.0.0.1:$2/1k" | cmp -s - "$dir/www/1k"; then
    echo "$1: the path does not work (logs in $dir kept)" >&2
    tail -n 5 "$dir"/*.log "$dir"/*/error.log >&2 || true
    trap - EXIT
    exit 2
  fi
done
# STRICT: plaintext straight to kguard's inbound port is refused; the mTLS one was allowed.
if curl -sf -m 5 -o /dev/null "http://127.0.0.1:$kg_in/1k"; then
  echo "kguard's STRICT port took plaintext" >&2
  exit 2
fi
curl -s "http://127.0.0.1:$kg_admin_in/metrics" | grep -q 'protocol="mtls",decision="allowed"' ||
  { echo "kguard's inbound side counted no mTLS connection" >&2; exit 2; }
curl -s "http://127.0.0.1:$kg_admin_in/metrics" | grep -q 'identity="spiffe://cluster.local/ns/shop/sa/web"' ||
  { echo "kguard's inbound side did not see the client's SVID" >&2; exit 2; }
# What each terminating side negotiates with an OpenSSL client presenting web's SVID (the
# kguard-to-kguard hop is rustls on both ends: TLS 1.3 too, rustls's own choices).
for side in "kguard $kg_in" "haproxy $ha_in" "nginx $ng_in"; do
  set -- $side
  hello=$(openssl s_client -connect "127.0.0.1:$2" -cert "$pki/certs/shop.web.crt" -key "$pki/certs/shop.web.key" \
    -CAfile "$pki/ca.crt" </dev/null 2>/dev/null | grep -E '^New, |Server Temp Key' | tr '\n' ' ')
  echo "$1 terminating side, to openssl s_client with web's SVID: $hello" >&2
  case $hello in *TLSv1.3*) ;; *) echo "$1: not TLS 1.3" >&2; exit 2 ;; esac
done

# The worker processes of an nginx instance (its master's children); haproxy and kguard are one process each.
children() { pgrep -P "$1" | tr '\n' ' '; }
ng_pids="$ng_in_pid $ng_out_pid $(children "$ng_in_pid") $(children "$ng_out_pid")"

to_ms() { # wrk's and ab's units to milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "%.3f", v }'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'; }

declare -A rps p50 p99 nrps np50 np99 bulk idlemem
run_wrk() { # name port
  local out
  out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$2/1k")
  if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then echo "$1: $(echo "$out" | grep 'Non-2xx\|Socket errors')" >&2; fi
  local r a b
  r=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
  a=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  b=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
  echo "   $1 wrk: $r req/s, p50 $a ms, p99 $b ms" >&2
  rps[$1]+=" $r" p50[$1]+=" $a" p99[$1]+=" $b"
}
run_ab() { # name port
  local out r a b
  out=$(ab -q -n "$new" -c 8 "http://127.0.0.1:$2/1k" 2>&1)
  if ! echo "$out" | grep -q '^Failed requests: *0$'; then echo "$1: $(echo "$out" | grep -E '^(Failed|Non-2xx)')" >&2; fi
  r=$(echo "$out" | awk '/^Requests per second/ {printf "%.0f", $4}')
  a=$(echo "$out" | awk '$1 == "50%" {print $2}')
  b=$(echo "$out" | awk '$1 == "99%" {print $2}')
  echo "   $1 ab: $r req/s, p50 $a ms, p99 $b ms" >&2
  nrps[$1]+=" $r" np50[$1]+=" $a" np99[$1]+=" $b"
}
run_bulk() { # name port
  local speed
  speed=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$2/bulk")
  echo "   $1 bulk: $speed bytes/s" >&2
  bulk[$1]+=" $(awk -v s="$speed" 'BEGIN {printf "%.0f", s / 1e6}')"
}
run_idle() { # name port "pids of the proxy processes"
  idlemem[$1]=$(python3 - "$2" "$idle" $3 <<'PY'
import socket, sys, time
port, n, pids = int(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
def rss():
    total = 0
    for p in pids:
        with open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total
req = b"GET /1k HTTP/1.1\r\nHost: bench\r\n\r\n"
def exchange(s):
    s.sendall(req)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("a connection was closed by the proxy")
        data += chunk
    body = data.split(b"\r\n\r\n", 1)[1]
    while len(body) < 1024:
        body += s.recv(65536)
time.sleep(0.5)
before = rss()
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    exchange(s)
    socks.append(s)
time.sleep(1.0)
after = rss()
for s in socks:  # every connection still works (a proxy that dropped some would look cheap)
    exchange(s)
print(f"{(after - before) / n:.1f}")
for s in socks:
    s.close()
PY
)
  echo "   $1: ${idlemem[$1]} KiB per idle connection" >&2
  sleep 1
}

paths="direct:$backend kguard:$kg_out haproxy:$ha_out nginx:$ng_out"
# Rounds interleave the paths, so that the load of a shared machine falls on all of them alike;
# the table shows the median of the rounds.
for round in $(seq "$rounds"); do
  echo "== round $round/$rounds: wrk ${seconds}s, $connections connections, 1 KiB; ab $new requests, a new connection each; bulk ${bulk_mb} MB" >&2
  for p in $paths; do
    name=${p%%:*} port=${p#*:}
    if [ -n "${PERF_DIR:-}" ] && [ "$name" = kguard ] && [ "$round" = 1 ]; then
      mkdir -p "$PERF_DIR"
      perf record -q -F 999 -p "$kg_in_pid,$kg_out_pid" -o "$PERF_DIR/kguard-wrk.data" -- sleep "$seconds" 2>/dev/null &
      perf_pid=$!
      run_wrk "$name" "$port"
      wait "$perf_pid" || true
      echo "   perf record of both kguard proxies during wrk: $PERF_DIR/kguard-wrk.data (perf report -i ... --sort dso,sym)" >&2
    else
      run_wrk "$name" "$port"
    fi
    run_ab "$name" "$port"
    run_bulk "$name" "$port"
  done
done
echo "== $idle idle connections through each proxy pair" >&2
run_idle kguard "$kg_out" "$kg_in_pid $kg_out_pid"
run_idle haproxy "$ha_out" "$ha_in_pid $ha_out_pid"
run_idle nginx "$ng_out" "$ng_pids"
idlemem[direct]=—

rss_of() { awk '/VmRSS/ {s += $2} END {printf "%.1f", s / 1024}' $(for p in $1; do echo "/proc/$p/status"; done); }

echo
echo "$(uname -m), $(nproc) CPUs; kguard $("$KGUARD" --version 2>/dev/null | awk '{print $2}') ($threads thread per proxy), $(haproxy -v | awk 'NR == 1 {print "HAProxy " $3}'), $(nginx -v 2>&1 | sed 's/.*: //'), $(openssl version | awk '{print "OpenSSL " $2}'); medians of $rounds rounds: ${seconds}s wrk runs with $connections connections, $new new connections (ab -c 8), ${bulk_mb} MB bulk; $idle idle connections; kguard bufferBytes ${KGUARD_BUFFER_BYTES:-16384}"
echo
echo "| path | 1 KiB keep-alive req/s | p50 ms | p99 ms | new conn. req/s | p50 ms | p99 ms | bulk MB/s | KiB / idle conn. | proxies' RSS now (MiB) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for name in direct kguard haproxy nginx; do
  case $name in
    direct) now=— ;;
    kguard) now=$(rss_of "$kg_in_pid $kg_out_pid") ;;
    haproxy) now=$(rss_of "$ha_in_pid $ha_out_pid") ;;
    nginx) now=$(rss_of "$ng_pids") ;;
  esac
  echo "| $name | $(median <<<"${rps[$name]}") | $(median <<<"${p50[$name]}") | $(median <<<"${p99[$name]}") | $(median <<<"${nrps[$name]}") | $(median <<<"${np50[$name]}") | $(median <<<"${np99[$name]}") | $(median <<<"${bulk[$name]}") | ${idlemem[$name]} | $now |"
done

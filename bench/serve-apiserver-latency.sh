#!/usr/bin/env bash
# The latency `kguard serve` adds to requests through a real kube-apiserver (issue 15, section 2).
#
# Starts `kguard serve` (Pod Security, hardening at critical, the image policy; a client CA, as
# deploy/kubernetes/configmap.yaml sets one), then kube-apiserver v1.36 from
# ../shared/bench/kube-apiserver.sh with deploy/apiserver/admission-configuration.yaml (paths put
# in) so that it presents its client certificate to kguard, and a ValidatingWebhookConfiguration
# (failurePolicy Fail) for pods in the namespaces labelled `kguard-test=1`. Then, in one run, the
# same server-side dry-run pod creation (`POST .../pods?dryRun=All`, one keep-alive connection,
# sequential, as the admin) COUNT times into a namespace the webhook watches and COUNT times into
# one it does not, interleaved in ROUNDS rounds, and prints the median, p90 and p99 of each and
# the difference: what one webhook call to kguard costs through the server (TLS to kguard on the
# server's kept-alive connection, the AdmissionReview both ways, kguard's evaluation).
#
#   bash bench/serve-apiserver-latency.sh            # COUNT=500 ROUNDS=3
#   KGUARD=path/to/kguard  (default: target/release/kguard, built when missing)
#
# Needs curl, python3 and the harness (its binaries under ~/.cache/kguard-kube).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-500}
ROUNDS=${ROUNDS:-3}
SHARED=${KGUARD_SHARED:-../shared}
HARNESS=$SHARED/bench/kube-apiserver.sh
[[ -f $HARNESS ]] || { echo "SKIPPED: no $HARNESS (set KGUARD_SHARED)"; exit 0; }
KGUARD=${KGUARD:-target/release/kguard}
if [[ ! -x $KGUARD ]]; then
  cargo build --release --locked -q -p kguard-cli --bin kguard
fi
KGUARD=$(realpath "$KGUARD")
work=$(mktemp -d)
kube="$work/kube"
cleanup() {
  [[ -n ${kpid:-} ]] && kill "$kpid" 2>/dev/null || true
  bash "$HARNESS" stop "$kube" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# kguard's CA, serving certificate for 127.0.0.1, and kube-apiserver's client certificate
"$KGUARD" pki init "$work/pki" >/dev/null
"$KGUARD" pki issue --ca "$work/pki/ca" --server --cn kguard --san 127.0.0.1 --out "$work" --name tls >/dev/null
"$KGUARD" pki issue --ca "$work/pki/ca" --client --cn kube-apiserver-kguard-client --out "$work" \
  --name kube-apiserver-kguard-client >/dev/null
cp "$work/pki/ca.crt" "$work/ca.crt"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
health=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/state"
cat >"$work/state/ns.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: hooked, labels: {kguard-test: "1", pod-security.kubernetes.io/enforce: baseline}}
EOF
cat >"$work/kguard.yaml" <<EOF
apiVersion: kguard.io/v1alpha1
kind: ServerConfig
listen: 127.0.0.1:$port
healthListen: 127.0.0.1:$health
reloadIntervalSeconds: 0
shutdownDelaySeconds: 0
tls: {certFile: tls.crt, keyFile: tls.key, clientCAFile: ca.crt}
state: {dir: state}
admission:
  podSecurity: {enabled: true}
  hardening: {enabled: true, minSeverity: critical}
  images: {enabled: true, forbidLatest: true}
EOF
"$KGUARD" serve --config "$work/kguard.yaml" >"$work/kguard.log" 2>&1 &
kpid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$health/readyz" >/dev/null && break; sleep 0.1; done

# deploy/apiserver's admission configuration: only the client certificate for the admission webhooks
for f in admission-configuration.yaml admission-webhook-kubeconfig.yaml imagepolicy-kubeconfig.yaml; do
  sed -e "s#/etc/kubernetes/kguard/#$work/#g" -e "s#https://kguard.kguard-system.svc:443#https://127.0.0.1:$port#" \
    -e "s#name: kguard.kguard-system.svc#name: 127.0.0.1:$port#" "deploy/apiserver/$f" >"$work/$f"
done
bash "$HARNESS" start "$kube" "--admission-control-config-file=$work/admission-configuration.yaml" >"$work/start.log" 2>&1 ||
  { tail -20 "$work/start.log"; exit 2; }
# shellcheck disable=SC1091
source "$kube/env"
ca_b64=$(base64 -w0 <"$work/ca.crt")
cat >"$work/objects.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: hooked, labels: {kguard-test: "1", pod-security.kubernetes.io/enforce: baseline}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain, labels: {pod-security.kubernetes.io/enforce: baseline}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: hooked}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: plain}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: kguard}
webhooks:
- name: pods.validate.kguard.io
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 5
  clientConfig: {url: "https://127.0.0.1:$port/validate", caBundle: "$ca_b64"}
  namespaceSelector: {matchLabels: {kguard-test: "1"}}
  rules: [{operations: [CREATE, UPDATE], apiGroups: [""], apiVersions: [v1], resources: [pods], scope: Namespaced}]
EOF
"$KUBECTL" --kubeconfig "$KUBECONFIG" apply -f "$work/objects.yaml" >/dev/null
pod='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bench"},"spec":{"containers":[{"name":"c","image":"registry.example/app:1.2.3"}]}}'
# wait until the webhook is in force (kguard counts its first review)
for _ in $(seq 100); do
  curl -s -o /dev/null --cacert "$KUBE_CA_CERT" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
    -H 'Content-Type: application/json' --data-binary "$pod" \
    "$KUBE_SERVER/api/v1/namespaces/hooked/pods?dryRun=All"
  curl -s "http://127.0.0.1:$health/metrics" | grep -q 'kguard_decisions_total{endpoint="validate"' && break
  sleep 0.2
done

# COUNT sequential requests on one kept-alive connection; one time per line
run() {
  local ns=$1 args=()
  for _ in $(seq "$COUNT"); do args+=(-o /dev/null "$KUBE_SERVER/api/v1/namespaces/$ns/pods?dryRun=All"); done
  curl -s -w '%{time_total}\n' --cacert "$KUBE_CA_CERT" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
    -H 'Content-Type: application/json' --data-binary "$pod" "${args[@]}"
}
for r in $(seq "$ROUNDS"); do
  run plain >>"$work/plain.txt"
  run hooked >>"$work/hooked.txt"
done
reviews=$(curl -s "http://127.0.0.1:$health/metrics" | sed -n 's/^kguard_decisions_total{endpoint="validate",decision="allowed"} //p')
python3 - "$work/plain.txt" "$work/hooked.txt" "$reviews" "$COUNT" "$ROUNDS" <<'PY'
import statistics, sys
def load(p): return sorted(float(x) * 1000 for x in open(p) if x.strip())
def q(xs, f): return xs[min(len(xs) - 1, int(f * len(xs)))]
plain, hooked = load(sys.argv[1]), load(sys.argv[2])
print(f"kube-apiserver v1.36 dry-run pod creations, {sys.argv[4]} x {sys.argv[5]} rounds each, sequential, one connection")
print(f"{'namespace':<28}{'median ms':>10}{'p90 ms':>10}{'p99 ms':>10}")
for name, xs in (("without the webhook", plain), ("with kguard's webhook", hooked)):
    print(f"{name:<28}{statistics.median(xs):>10.2f}{q(xs, .90):>10.2f}{q(xs, .99):>10.2f}")
print(f"{'added by kguard':<28}{statistics.median(hooked) - statistics.median(plain):>10.2f}"
      f"{q(hooked, .90) - q(plain, .90):>10.2f}{q(hooked, .99) - q(plain, .99):>10.2f}")
print(f"kguard reviews allowed: {sys.argv[3]}")
PY

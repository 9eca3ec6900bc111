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
# kube-apiserver also has kguard as token authenticator and as authorizer
# (`--authorization-mode=Node,RBAC,Webhook`, deploy/apiserver's kubeconfigs, their caches off so
# that every request asks kguard), and the same GET of a namespace's pods is timed three ways:
# as the admin (token file, RBAC: no webhook), as a user only kguard authenticates whom the
# server's RBAC lets list pods (the authentication webhook), and as that user where only kguard's
# RBAC grants it (authentication and authorization webhooks). The audit webhook in batch mode
# (deploy/apiserver's setting) sends events after the answer, so it adds nothing to a request.
#
#   bash bench/serve-apiserver-latency.sh            # COUNT=100 ROUNDS=15
#
# Many short rounds, each series in turn, so that the machine's drift over the run falls on every
# series alike (500 x 3 gave differences that moved by a millisecond from run to run).
#   KGUARD=path/to/kguard  (default: target/release/kguard, built when missing)
#
# Needs curl, python3 and the harness (its binaries under ~/.cache/kguard-kube).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-100}
ROUNDS=${ROUNDS:-15}
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
authentication: {tokenAuthFile: tokens.csv}
authorization: {modes: [RBAC]}
admission:
  podSecurity: {enabled: true}
  hardening: {enabled: true, minSeverity: critical}
  images: {enabled: true, forbidLatest: true}
EOF
# a user only kguard knows, whom kguard's RBAC lets list pods in `hooked`; one token per request
# (kube-apiserver keeps a token it authenticated for 10 s whatever the webhook's cache TTL)
for i in $(seq $((COUNT * ROUNDS * 2))); do echo "kguard-bench-token-$i,webby,uid-webby,web-team"; done >"$work/tokens.csv"
# a Role letting webby list pods in namespace $1, and its binding
webby_reads_pods() {
  cat <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: $1}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: webby-reads-pods, namespace: $1}
subjects: [{kind: User, name: webby, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}
EOF
}
webby_reads_pods hooked >"$work/state/rbac.yaml"
"$KGUARD" serve --config "$work/kguard.yaml" >"$work/kguard.log" 2>&1 &
kpid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$health/readyz" >/dev/null && break; sleep 0.1; done

# deploy/apiserver's admission configuration: only the client certificate for the admission webhooks
for f in admission-configuration.yaml admission-webhook-kubeconfig.yaml imagepolicy-kubeconfig.yaml \
  authn-webhook-kubeconfig.yaml authz-webhook-kubeconfig.yaml; do
  sed -e "s#/etc/kubernetes/kguard/#$work/#g" -e "s#https://kguard.kguard-system.svc:443#https://127.0.0.1:$port#" \
    -e "s#name: kguard.kguard-system.svc#name: 127.0.0.1:$port#" "deploy/apiserver/$f" >"$work/$f"
done
KGUARD_KUBE_AUTHZ_MODE=Node,RBAC,Webhook bash "$HARNESS" start "$kube" \
  "--admission-control-config-file=$work/admission-configuration.yaml" \
  "--authentication-token-webhook-config-file=$work/authn-webhook-kubeconfig.yaml" \
  --authentication-token-webhook-version=v1 --authentication-token-webhook-cache-ttl=0s \
  "--authorization-webhook-config-file=$work/authz-webhook-kubeconfig.yaml" --authorization-webhook-version=v1 \
  --authorization-webhook-cache-authorized-ttl=0s --authorization-webhook-cache-unauthorized-ttl=0s \
  >"$work/start.log" 2>&1 ||
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
$(webby_reads_pods plain)
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
# COUNT sequential GETs of a namespace's pods on one connection, each with its own token: the
# admin's, or the next of kguard's (a curl config, one block per request)
next_token=0
get() {
  local who=$1 ns=$2 cfg="$work/get.cfg" token
  : >"$cfg"
  for i in $(seq "$COUNT"); do
    if [[ $who == admin ]]; then token=$KUBE_ADMIN_TOKEN; else next_token=$((next_token + 1)); token=kguard-bench-token-$next_token; fi
    ((i > 1)) && echo next >>"$cfg"
    printf 'url = "%s"\nheader = "Authorization: Bearer %s"\ncacert = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %%{time_total}\\n"\nsilent\n' \
      "$KUBE_SERVER/api/v1/namespaces/$ns/pods" "$token" "$KUBE_CA_CERT" >>"$cfg"
  done
  curl -K "$cfg"
}
for r in $(seq "$ROUNDS"); do
  run plain >>"$work/plain.txt"
  run hooked >>"$work/hooked.txt"
  get admin plain >>"$work/get-admin.txt"
  get user plain >>"$work/get-authn.txt"
  get user hooked >>"$work/get-authz.txt"
done
# every GET was answered 200 (else a series would time refusals)
for f in get-admin get-authn get-authz; do
  if grep -vq '^200 ' "$work/$f.txt"; then
    echo "error: $f: not every GET was answered 200: $(grep -v '^200 ' "$work/$f.txt" | cut -d' ' -f1 | sort | uniq -c | head -3)" >&2
    exit 2
  fi
  cut -d' ' -f2 "$work/$f.txt" >"$work/$f.times"
done
reviews=$(curl -s "http://127.0.0.1:$health/metrics" | sed -n 's/^kguard_decisions_total{endpoint="validate",decision="allowed"} //p')
metric() { curl -s "http://127.0.0.1:$health/metrics" | sed -n "s/^kguard_decisions_total{endpoint=\"$1\",decision=\"allowed\"} //p"; }
python3 - "$work/plain.txt" "$work/hooked.txt" "$reviews" "$COUNT" "$ROUNDS" \
  "$work/get-admin.times" "$work/get-authn.times" "$work/get-authz.times" "$(metric authenticate)" "$(metric authorize)" <<'PY'
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
admin, authn, authz = load(sys.argv[6]), load(sys.argv[7]), load(sys.argv[8])
print(f"\nkube-apiserver v1.36 GETs of a namespace's pods, {sys.argv[4]} x {sys.argv[5]} rounds each, webhook caches off")
print(f"{'as':<40}{'median ms':>10}{'p90 ms':>10}{'p99 ms':>10}")
for name, xs in (("the admin (no webhook)", admin), ("kguard's user, the server's RBAC", authn),
                 ("kguard's user, kguard's RBAC", authz)):
    print(f"{name:<40}{statistics.median(xs):>10.2f}{q(xs, .90):>10.2f}{q(xs, .99):>10.2f}")
for name, hi, lo in (("added by the authentication webhook", authn, admin),
                     ("added by the authorization webhook", authz, authn)):
    print(f"{name:<40}{statistics.median(hi) - statistics.median(lo):>10.2f}"
          f"{q(hi, .90) - q(lo, .90):>10.2f}{q(hi, .99) - q(lo, .99):>10.2f}")
print(f"kguard tokens authenticated: {sys.argv[9]}, requests authorized: {sys.argv[10]}")
PY

#!/usr/bin/env bash
# The cost of `kguard scan --kubeconfig` on a cluster holding thousands of objects (issue 15, §3).
#
# Starts kube-apiserver v1.36 from ../shared/bench/kube-apiserver.sh, creates ../shared/corpus in
# it (what the server accepts, the namespaces it names first) and then generated objects
# (Deployments, Services, ConfigMaps, Roles, RoleBindings in 20 namespaces) until it holds at
# least OBJECTS objects, and measures, side by side in one run:
#
#   kguard scan --kubeconfig      wall time, of which listing (kguard's own "read ... in S s"
#                                 line), peak RSS (median of three runs, the largest RSS);
#   kubectl get ... -o json       the dump a user would make without kguard (every listable
#     + kguard scan FILE          resource, Events aside), then the scan of that file;
#   trivy k8s --scanners misconfig  when ../shared/bench/install-peers.sh installed Trivy and it
#                                 runs offline (else SKIPPED with its reason).
#
#   bash bench/scan-cluster.sh                  # OBJECTS=5000
#   KGUARD=path/to/kguard  (default: target/release/kguard, built when missing)
#
# Needs python3, /usr/bin/time and the harness (its binaries under ~/.cache/kguard-kube).
set -euo pipefail
cd "$(dirname "$0")/.."
OBJECTS=${OBJECTS:-5000}
# what ../shared/corpus adds (about 1,530 objects with the namespaces and the server's own)
CORPUS_OBJECTS=${CORPUS_OBJECTS:-1400}
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
  bash "$HARNESS" stop "$kube" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

bash "$HARNESS" install >/dev/null
bash "$HARNESS" start "$kube" >/dev/null
set -a
# shellcheck disable=SC1091
. "$kube/env"
set +a

# --- populate ---------------------------------------------------------------------------------
started=$(date +%s.%N)
create_all() { # one kubectl per folder at once (kubectl paces its own requests)
  local pids=()
  for d in "$@"; do
    "$KUBECTL" create -R -f "$d" >"$work/create.$BASHPID.$RANDOM.out" 2>>"$work/create.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
}
count_objects() {
  local resources
  resources=$("$KUBECTL" api-resources --verbs=list -o name | grep -vx 'events\|events.events.k8s.io\|componentstatuses' | paste -sd,)
  "$KUBECTL" get "$resources" -A -o json >"$work/dump.json"
  python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$work/dump.json"
}
# Generated objects first: the corpus registers admission webhooks (failurePolicy Fail) whose
# services never run here, and once they exist most creations are refused.
missing=$((OBJECTS - CORPUS_OBJECTS))
if ((missing > 0)); then
  python3 - "$work/gen" "$missing" <<'PY'
import os, sys
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
kinds = ["deploy", "svc", "cm", "role", "rb"]
files = [open(os.path.join(out, f"part{i}.yaml"), "w") for i in range(8)]
for ns in range(20):
    files[ns % 8].write(f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: bench-{ns}}}\n")
for i in range(n - 20):
    ns, kind, f = f"bench-{i % 20}", kinds[i % 5], files[i % 8]
    name = f"obj-{i}"
    if kind == "deploy":
        priv = "true" if i % 7 == 0 else "false"
        f.write(f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}, labels: {{app: {name}}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}, tier: t{i % 3}}}}}
    spec:
      containers:
      - name: app
        image: registry.example/app:{i % 4}.0
        securityContext: {{privileged: {priv}, runAsNonRoot: {str(i % 2 == 0).lower()}}}
        resources: {{limits: {{cpu: 100m, memory: 64Mi}}}}
""")
    elif kind == "svc":
        f.write(f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\n"
                f"spec: {{selector: {{app: obj-{i - 1}}}, ports: [{{port: 80}}]}}\n")
    elif kind == "cm":
        f.write(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\n"
                f"data: {{key: value-{i}}}\n")
    elif kind == "role":
        verbs = '["*"]' if i % 11 == 0 else "[get, list]"
        f.write(f"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: {name}, namespace: {ns}}}\n"
                f"rules: [{{apiGroups: [\"\"], resources: [pods, secrets], verbs: {verbs}}}]\n")
    else:
        f.write(f"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: {name}, namespace: {ns}}}\n"
                f"roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: obj-{i - 1}}}\n"
                f"subjects: [{{kind: ServiceAccount, name: default, namespace: {ns}}}]\n")
PY
  # namespaces first, then everything
  for f in "$work"/gen/part*.yaml; do
    python3 - "$f" "$work/ns-$(basename "$f")" <<'PY'
import sys
docs = open(sys.argv[1]).read().split("---\n")
open(sys.argv[2], "w").write("---\n".join(d for d in docs if "kind: Namespace" in d))
PY
  done
  cat "$work"/ns-part*.yaml | "$KUBECTL" create -f - >/dev/null 2>&1 || true
  create_all "$work"/gen/part*.yaml
fi
corpus=("$SHARED"/corpus/*/)
# the namespaces the corpus names, first
grep -rhoE '^\s+namespace: *"?[a-z0-9][a-z0-9-]*"?\s*$' "$SHARED/corpus" | sed 's/.*namespace: *"\{0,1\}\([a-z0-9-]*\).*/\1/' |
  sort -u | while read -r ns; do printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$ns"; done >"$work/ns.yaml"
"$KUBECTL" create -f "$work/ns.yaml" >/dev/null 2>&1 || true
create_all "${corpus[@]}"

have=$(count_objects)
populated=$(python3 -c "import time; print(f'{time.time() - $started:.0f}')")
echo "cluster: $have objects (Events aside), populated in ${populated} s"

# --- measure ------------------------------------------------------------------------------------
measure() { # label, command...: prints "label wall_s rss_mib", stderr of the command in $work/last.err
  local label=$1
  shift
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/last.err" || true
  # (time writes "Command exited with non-zero status N" first when the command fails)
  read -r wall rss < <(tail -n 1 "$work/time")
  echo "$label $wall $((rss / 1024))"
}
# three runs each, the median wall time and the largest RSS
measure3() {
  local label=$1 runs=() rss=0 r w m
  shift
  for _ in 1 2 3; do
    read -r _ w m < <(measure "$label" "$@")
    runs+=("$w")
    ((m > rss)) && rss=$m
    [[ $label == kguard ]] && sed -n 's/^kguard: read .* in \([0-9.]*\) s$/\1/p' "$work/last.err" >>"$work/reads"
  done
  r=$(printf '%s\n' "${runs[@]}" | sort -g | sed -n 2p)
  echo "$label $r $rss"
}
# warm the server's caches once
"$KGUARD" scan --kubeconfig "$KUBECONFIG" -q -o json >/dev/null 2>&1 || true

: >"$work/reads"
read -r _ k_wall k_rss < <(measure3 kguard "$KGUARD" scan --kubeconfig "$KUBECONFIG" --no-config -o json)
k_read=$(sort -g "$work/reads" | sed -n 2p)
k_line=$(sed -n 's/^kguard: //p' "$work/last.err")
resources=$("$KUBECTL" api-resources --verbs=list -o name | grep -vx 'events\|events.events.k8s.io\|componentstatuses' | paste -sd,)
read -r _ d_wall d_rss < <(measure3 dump bash -c "'$KUBECTL' get '$resources' -A -o json >'$work/dump2.json'")
read -r _ f_wall f_rss < <(measure3 file "$KGUARD" scan --no-config -o json "$work/dump2.json")

trivy=$(command -v trivy || echo "$HOME/.cache/kguard-peers/bin/trivy")
t_result="SKIPPED: Trivy not installed (../shared/bench/install-peers.sh)"
if [[ -x $trivy ]]; then
  if timeout 1800 /usr/bin/time -f '%e %M' -o "$work/time" "$trivy" k8s --kubeconfig "$KUBECONFIG" \
    --scanners misconfig --disable-node-collector --skip-db-update --skip-check-update --offline-scan --timeout 30m \
    --format json --report all -q >/dev/null 2>"$work/trivy.err"; then
    read -r t_wall t_rss < <(tail -n 1 "$work/time")
    t_result="trivy k8s --scanners misconfig: ${t_wall} s, $((t_rss / 1024)) MiB"
  else
    t_result="SKIPPED: trivy k8s did not run offline: $(grep -m1 -i 'error\|fatal' "$work/trivy.err" | cut -c1-400)"
  fi
fi

python3 - "$have" "$k_wall" "$k_read" "$k_rss" "$d_wall" "$d_rss" "$f_wall" "$f_rss" "$k_line" "$t_result" <<'PY'
import sys
n, kw, kr, krss, dw, drss, fw, frss, line, trivy = sys.argv[1:]
kw, kr, dw, fw = float(kw), float(kr), float(dw), float(fw)
print(f"\nkguard scan --kubeconfig ({line})")
print(f"{'':34} {'wall s':>8} {'RSS MiB':>8}")
print(f"{'kguard scan --kubeconfig':34} {kw:8.2f} {krss:>8}   listing {kr:.2f} s ({100 * kr / kw:.0f} %), scanning {kw - kr:.2f} s")
print(f"{'kubectl get -A -o json (dump)':34} {dw:8.2f} {drss:>8}")
print(f"{'kguard scan DUMP':34} {fw:8.2f} {frss:>8}")
print(f"{'dump + scan':34} {dw + fw:8.2f}")
print(f"ratio (dump + scan) / scan --kubeconfig: {(dw + fw) / kw:.2f}x")
print(trivy)
PY

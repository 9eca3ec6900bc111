#!/usr/bin/env bash
# Captures what kube-apiserver serves as discovery, every API version switched on, into the
# snapshot gen_discovery.py reads (short names, verbs, subresources, categories: what the
# OpenAPI definitions behind k8s-openapi do not carry).
#
#   capture_discovery.sh [OUT.json]    (default: the committed snapshot beside this script)
#
# Needs ../shared/bench/kube-apiserver.sh (its `install` done): starts an apiserver in a
# temporary directory with --runtime-config=api/all=true and AllAlpha/AllBeta feature gates,
# reads the aggregated discovery documents of /api and /apis (apidiscovery.k8s.io/v2), keeps the
# fields the generator needs, sorted, and stops the apiserver.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/kube-apiserver-discovery.json}"
repo="$(cd "$here/../../.." && pwd)"
harness="${KGUARD_KUBE_HARNESS:-$repo/../shared/bench/kube-apiserver.sh}"
[ -f "$harness" ] || { echo "capture_discovery.sh: no $harness" >&2; exit 1; }
dir="$(mktemp -d /tmp/kguard-discovery.XXXXXX)"
trap 'bash "$harness" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
bash "$harness" start "$dir" --runtime-config=api/all=true --feature-gates=AllAlpha=true,AllBeta=true >/dev/null
set -a; . "$dir/env"; set +a
accept='Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'
for p in api apis; do
  curl -sSf --cacert "$KUBE_CA_CERT" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" -H "$accept" \
    "$KUBE_SERVER/$p" >"$dir/$p.json"
done
version="$("$KUBECTL" version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')"
python3 - "$dir/api.json" "$dir/apis.json" "$version" >"$out" <<'PY'
import json, sys
api, apis, version = sys.argv[1], sys.argv[2], sys.argv[3]
rows = []
group_order = []
for path in (api, apis):
    for g in json.load(open(path))["items"]:
        name = g["metadata"].get("name", "")
        group_order.append(name)
        for v in g["versions"]:
            for r in v.get("resources", []):
                rows.append({
                    "group": name,
                    "version": v["version"],
                    "resource": r["resource"],
                    "kind": r.get("responseKind", {}).get("kind", ""),
                    "singular": r.get("singularResource", ""),
                    "namespaced": r["scope"] == "Namespaced",
                    "shortNames": r.get("shortNames", []),
                    "categories": r.get("categories", []),
                    "verbs": sorted(r.get("verbs", [])),
                    "subresources": [
                        {"name": s["subresource"], "kind": s.get("responseKind", {}).get("kind", ""),
                         "verbs": sorted(s.get("verbs", []))}
                        for s in sorted(r.get("subresources", []), key=lambda s: s["subresource"])
                    ],
                })
json.dump({"source": f"kube-apiserver {version}, /api and /apis aggregated discovery (apidiscovery.k8s.io/v2), "
                     "--runtime-config=api/all=true --feature-gates=AllAlpha=true,AllBeta=true",
           "groupOrder": group_order, "resources": rows}, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
PY
echo "capture_discovery.sh: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["resources"]))' "$out") resources from $version into $out" >&2

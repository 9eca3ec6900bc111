#!/bin/sh
# Seeds fuzz/corpus/<target>/ (ignored by git) from the repository's own fixtures and from the
# hand-written seeds in fuzz/seeds/<target>/. Only adds files; libFuzzer grows the corpus from
# there. Runs from any directory.
set -eu
cd "$(dirname "$0")"
root=..

# seed TARGET FILE...: copies each existing FILE into the target's corpus; files over 32 KiB are
# left out (libFuzzer's input length grows to the largest seed, and slows down with it).
seed() {
    target=$1
    shift
    mkdir -p "corpus/$target"
    for f in "$@"; do
        [ -f "$f" ] || continue
        [ "$(wc -c <"$f")" -le 32768 ] || continue
        name=$(printf '%s' "$f" | sed 's|^\.\./||; s|[/ ]|_|g')
        cp "$f" "corpus/$target/seed-$name"
    done
}

# seed_text TARGET NAME: the standard input as one seed.
seed_text() {
    mkdir -p "corpus/$1"
    cat >"corpus/$1/seed-$2"
}

seed dockerfile "$root"/tests/fixtures/rules/DF*/*.Dockerfile "$root"/Dockerfile
seed load "$root"/examples/*.yaml "$root"/tests/fixtures/bad/* "$root"/crates/discovery/tests/strict/*.yaml
seed webhook_requests "$root"/crates/server/benches/pod-review.json "$root"/deploy/kubernetes/configmap.yaml
seed vuln_parsers "$root"/tests/fixtures/vuln/osv/*.json "$root"/tests/fixtures/vuln/debian-rootfs/var/lib/dpkg/status
seed vuln_image "$root"/tests/fixtures/vuln/debian-image.tar
seed pem_csr
seed detect_rules "$root"/rules/kguard_k8s_audit_rules.yaml
seed detect_condition seeds/detect_condition/*
seed apparmor_profile seeds/apparmor_profile/*
printf '/usr/{bin,sbin}/**\n/usr/bin/foo\n/**\n' | seed_text apparmor_aare alternation
printf '@{HOME}/[^.]*/**\n/home/u/x/y\n/home/*/\n' | seed_text apparmor_aare variable
printf '/{,**/}[a-z]?\\*x\n/a/b/c*x\n/a/**/\n' | seed_text apparmor_aare escapes
seed apparmor_log "$root"/examples/apparmor/audit.log
# each one-line condition of the bundled rules
n=0
grep -E '^ +condition: [^>|]' "$root"/rules/kguard_k8s_audit_rules.yaml | sed 's/^ *condition: //' | while IFS= read -r c; do
    n=$((n + 1))
    printf '%s' "$c" | seed_text detect_condition "bundled-$n"
done
# the JSON lines of the ABAC test cases (the upstream example policy file and v1beta1 lines)
grep -E '^ +\{"' "$root"/crates/authz/tests/authz/abac.yaml | sed 's/^ *//' | seed_text abac_policy abac-cases.jsonl
seed audit_policy "$root"/deploy/apiserver/audit-policy.yaml "$root"/crates/audit/tests/audit/policy_cases.yaml \
    "$root"/crates/audit/tests/audit/kube/*.yaml
seed audit_events seeds/audit_events/*
# kguard.yaml as deployed (the ConfigMap's data)
awk '/^  kguard.yaml: \|/ { f = 1; next } f && /^  [^ ]/ { f = 0 } f { sub(/^    /, ""); print }' \
    "$root"/deploy/kubernetes/configmap.yaml | seed_text kguard_config deploy-kguard.yaml
seed jwt seeds/jwt/*
seed seccomp_profile seeds/seccomp_profile/*
seed sshd_config seeds/sshd_config/*
seed kube_bench seeds/kube_bench/*
# the proxy configurations of the docs and tests
seed mesh_proxy_config "$root"/tests/fixtures/mesh/proxy*.yaml
# linkerd2-proxy's captured ClientHellos, read in place from the shared oracles (not copied into
# the repository), and a plaintext request
seed mesh_client_hello "${KGUARD_SHARED:-$root/../shared}"/oracles/mtls/linkerd-tls/*.bin
printf 'GET /TheProject.html HTTP/1.0\r\n\r\n' | seed_text mesh_client_hello http-1.0
# the staged Falco captures (gzipped, under 32 KiB; read in place from the oracles folder, which
# is never copied into the repository)
seed runtime_scap "${KGUARD_SHARED:-$root/../shared}"/oracles/falco-syscall/test/trace_files/*.scap

#!/bin/sh
# Regenerates tests/fixtures/runtime/<capture>.txt: Debian sysdig 0.29.3's rendering of each field
# in FIELDS for every event it prints, one `sysdig -r` run per field (so no value can be confused
# with a separator). Format: a `## <field>` line, then `<evt.num> <value>` per event.
# usage: crates/runtime/tools/sysdig-expect.sh [shared dir]   (default: $KGUARD_SHARED or ../shared)
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
shared=${1:-${KGUARD_SHARED:-$root/../shared}}
dir=$shared/oracles/falco-syscall
out=$root/tests/fixtures/runtime
mkdir -p "$out"
FIELDS=$(sed -n 's/^[ ]*"\([^"]*\)",[ ]*\/\/ oracle-field$/\1/p' "$root/crates/runtime/tests/sysdig_oracle.rs")
for cap in test/trace_files/cat_write.scap test/trace_files/connect_localhost.scap test/trace_files/empty.scap \
    test/trace_files/open-multiple-files.scap test/trace_files/ping_sendto.scap test/trace_files/syscall.scap \
    libs/test/libsinsp_e2e/resources/captures/curl_google.scap \
    libs/test/libsinsp_e2e/resources/captures/single_ipv6_conn.scap \
    libs/test/libsinsp_e2e/resources/captures/test_ipv6_client.scap; do
    name=$(basename "$cap" .scap)
    f=$out/$name.txt
    echo "# sysdig $(sysdig --version | sed 's/^sysdig version //') -r $cap -p '*%evt.num %<field>'" >"$f"
    for field in $FIELDS; do
        echo "## $field" >>"$f"
        if ! TZ=UTC sysdig -r "$dir/$cap" -p "*%evt.num %$field" >>"$f" 2>/tmp/sysdig-expect.err; then
            echo "sysdig failed on $cap, $field: $(cat /tmp/sysdig-expect.err)" >&2
            exit 1
        fi
    done
    echo "$f: $(grep -c '' "$f") lines"
done

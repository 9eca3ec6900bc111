#!/bin/sh
# The fuzz smoke run of CI: builds every target, runs each for FUZZ_SECONDS (20 by default) from
# its seeds (./seed.sh) and the corpus kept from earlier runs, prints each target's executions, and
# exits non-zero when any target finds a crash, a timeout, a leak or an out-of-memory input (its
# log is printed; the input is left in fuzz/artifacts/<target>/).
#
# Builds go to a persistent target directory under $HOME (KGUARD_FUZZ_TARGET_DIR, default
# ~/.cache/kguard-fuzz-target) and the corpus grows under ~/.cache/kguard-fuzz-corpus, so that
# runs after the first rebuild only what changed. Needs cargo-fuzz (cargo install cargo-fuzz
# --locked); the stable toolchain builds it with RUSTC_BOOTSTRAP=1.
#
# Usage: fuzz/smoke.sh [TARGET...]   (default: every target)
set -eu
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${KGUARD_FUZZ_TARGET_DIR:-$HOME/.cache/kguard-fuzz-target}"
corpus="${KGUARD_FUZZ_CORPUS_DIR:-$HOME/.cache/kguard-fuzz-corpus}"
secs="${FUZZ_SECONDS:-20}"
# release code with debug assertions (integer overflow panics), address sanitizer
flags="-O -a"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz/smoke.sh: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
    exit 2
fi
./seed.sh
# shellcheck disable=SC2086
cargo fuzz build $flags

targets="$*"
if [ -z "$targets" ]; then
    targets=$(cargo fuzz list)
fi

status=0
for t in $targets; do
    mkdir -p "$corpus/$t" "corpus/$t"
    log="$CARGO_TARGET_DIR/smoke-$t.log"
    # shellcheck disable=SC2086
    if cargo fuzz run $flags "$t" "$corpus/$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    printf '%-18s %12s executions in %ss  %s\n' "$t" "${execs:-?}" "$secs" "$result"
    if [ "$result" != ok ]; then
        tail -n 60 "$log"
    fi
done
exit "$status"

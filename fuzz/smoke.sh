#!/usr/bin/env bash
# A quick check that every fuzz target builds and survives a short run from
# its seeds: RUNS executions each (20,000 by default). Meant for CI or
# before a commit that touches a parser; the real fuzzing is long runs
# (docs/FUZZING.md). Needs the nightly toolchain and cargo-fuzz.
#
#   fuzz/smoke.sh            # every target
#   RUNS=100000 fuzz/smoke.sh screen_body
#
# The corpus a run grows goes to a temporary folder, so the seeds in
# fuzz/corpus/ stay as committed. A crash leaves its input in
# fuzz/artifacts/<target>/ and makes the script fail.
set -euo pipefail
cd "$(dirname "$0")"

RUNS=${RUNS:-20000}
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

cargo +nightly fuzz build

grown=$(mktemp -d)
trap 'rm -rf "$grown"' EXIT
for target in "${targets[@]}"; do
    mkdir -p "$grown/$target"
    echo "== $target: $RUNS runs"
    started=$SECONDS
    # The same limits as the long runs (docs/FUZZING.md).
    log="$grown/$target.log"
    status=0
    cargo +nightly fuzz run "$target" "$grown/$target" "corpus/$target" -- \
        -runs="$RUNS" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(average_exec_per_sec|peak_rss_mb)' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log" >&2
        echo "== $target FAILED (exit $status): the input is in fuzz/artifacts/$target/" >&2
        exit "$status"
    fi
    echo "== $target: ok in $((SECONDS - started)) s"
done

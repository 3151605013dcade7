#!/usr/bin/env bash
# Smoke-run every fuzz target for a few seconds on the stable toolchain (no sanitizer), building
# once. Exits non-zero if a target crashes (the crashing input is in fuzz/artifacts/<target>/).
# Skips (exit 0) with a message when cargo-fuzz is not installed.
#
#   fuzz/smoke.sh              # every target, 5 s each
#   SMOKE_SECS=2 fuzz/smoke.sh address route_body
#   SMOKE_FEATURES=--no-default-features fuzz/smoke.sh   # pure-core targets only (faster build)
set -uo pipefail
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "smoke: cargo-fuzz is not installed; skipping (install: cargo install cargo-fuzz --locked)"
    exit 0
fi

SECS="${SMOKE_SECS:-5}"
FEATURES="${SMOKE_FEATURES:-}"
if [ "$#" -gt 0 ]; then
    TARGETS=("$@")
elif [ "$FEATURES" = "--no-default-features" ]; then
    TARGETS=(address canonical_jcs_diff sign_verify route_body vector_file)
else
    TARGETS=(address canonical_jcs_diff sign_verify route_body vector_file mock_http mock_ws)
fi

start=$(date +%s)
echo "smoke: building fuzz targets (stable, -s none) ..."
# shellcheck disable=SC2086
if ! cargo fuzz build -s none $FEATURES >/tmp/amp-fuzz-smoke-build.log 2>&1; then
    tail -30 /tmp/amp-fuzz-smoke-build.log
    echo "smoke: build FAILED"
    exit 1
fi
echo "smoke: built in $(( $(date +%s) - start )) s"

failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t"
    # Runs are bounded by time and count; seeds are read but the corpus directory is not grown
    # from the smoke run (a scratch directory receives new inputs).
    scratch=$(mktemp -d)
    t0=$(date +%s)
    # shellcheck disable=SC2086
    out=$(cargo fuzz run -s none $FEATURES "$t" "$scratch" "corpus/$t" -- \
        -dict=dict/json.dict -max_total_time="$SECS" -runs=2000000 -timeout=10 -rss_limit_mb=2048 2>&1)
    rc=$?
    rm -rf "$scratch"
    execs=$(printf '%s\n' "$out" | grep -oE 'exec/s: [0-9]+' | tail -1)
    if [ $rc -eq 0 ]; then
        echo "smoke: $t ok ($(( $(date +%s) - t0 )) s, ${execs:-exec/s: ?})"
    else
        printf '%s\n' "$out" | grep -E "panicked|SUMMARY|Test unit written" -A2 | head -20
        echo "smoke: $t FAILED (rc $rc)"
        failed+=("$t")
    fi
done

echo "smoke: total $(( $(date +%s) - start )) s"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "smoke: crashes in: ${failed[*]}"
    exit 1
fi
echo "smoke: all targets ok"

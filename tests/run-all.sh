#!/usr/bin/env bash
# `make test`: every check in order; the first failure stops the run and fails it.
set -euo pipefail
cd "$(dirname "$0")/.."

steps=(lint unit sanity build molecule)
passed=0
start=$(date +%s)
for step in "${steps[@]}"; do
    echo "=== make $step ==="
    t0=$(date +%s)
    if ! make --no-print-directory "$step"; then
        echo "=== make $step FAILED after $(( $(date +%s) - t0 )) s ==="
        echo "checks: $passed passed, 1 failed"
        exit 1
    fi
    echo "=== make $step passed in $(( $(date +%s) - t0 )) s ==="
    passed=$((passed + 1))
done
echo "all checks passed in $(( $(date +%s) - start )) s"
echo "checks: $passed passed, 0 failed"

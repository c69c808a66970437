#!/usr/bin/env bash
# pytest exits 5 when it collects nothing; an empty folder is not a failure of the suite.
set -uo pipefail
pytest -q "$@"
rc=$?
[ "$rc" -eq 5 ] && { echo "no tests collected in $*"; exit 0; }
exit "$rc"

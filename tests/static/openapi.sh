#!/usr/bin/env bash
# Static check of the REST contract's description, docs/openapi.yaml: validated as OpenAPI 3.1
# by a real validator (npm @readme/openapi-parser), then held against the code one counted test
# each by openapi.mjs: the api's route table (api/main.c) both ways, the problem table
# (shared/problem.c), the accepted request fields and bounds (shared/ledger.[ch], api/*.c), the
# pagination limits (api/api.h), the statuses and headers every kind of operation must document,
# and every example against its schema. Ends with "N passed, M failed".
#
#   tests/static/openapi.sh [ROOT]    ROOT: the tree to check (default: this repository);
#                                     point it at a modified copy to see a check fail
#
# The npm packages are pinned in tests/static/openapi/package.json and package-lock.json and
# installed there, into node_modules (git-ignored), with `npm ci` when missing or stale: a
# fresh clone needs only node, npm (scripts/deps.sh installs both) and the npm registry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg="$here/openapi"

fail_setup() {
    echo "openapi: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

command -v node >/dev/null || fail_setup "node is missing: run scripts/deps.sh"
# npm writes node_modules/.package-lock.json on install; older than the lock file means stale.
if [[ ! -f $pkg/node_modules/.package-lock.json || $pkg/package-lock.json -nt $pkg/node_modules/.package-lock.json ]]; then
    command -v npm >/dev/null || fail_setup "npm is missing: run scripts/deps.sh"
    echo "openapi: installing the npm packages of tests/static/openapi (npm ci)" >&2
    (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
        fail_setup "npm ci failed in $pkg (is the npm registry reachable?)"
fi

exec node "$here/openapi.mjs" "${1:-$here/../..}"

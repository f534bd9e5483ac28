#!/usr/bin/env bash
# Every Mermaid diagram of the docs (README.md, docs/**/*.md) rendered for real: mermaid.mjs
# loads the `mermaid` npm package into Debian's chromium (driven by playwright-core, as the
# browser tests do) and renders each ```mermaid block to SVG, one counted test per diagram,
# so a diagram that does not parse fails `make test`. Also fails on a diagram drawn in ASCII
# art (box-drawing arrows in an unlabelled code block): the docs draw with Mermaid.
# Ends with "N passed, M failed".
#
#   tests/static/mermaid.sh [ROOT]    ROOT: the tree to check (default: this repository)
#
# Packages: mermaid pinned in tests/static/mermaid/package.json, playwright-core in
# tests/browser/package.json (both installed with `npm ci` when missing or stale, see
# lib/npm.sh). CHROMIUM_PATH overrides /usr/bin/chromium.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=tests/static/lib/npm.sh
source "$here/lib/npm.sh"
static_npm_ci mermaid "$here/mermaid"
static_npm_ci mermaid "$here/../browser"

exec node "$here/mermaid.mjs" "${1:-$here/../..}"

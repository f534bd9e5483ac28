# shellcheck shell=bash
# Shared by the tests/static/*.sh checks that run node with pinned npm packages (this
# directory holds no check of its own). Source it.
#
#   static_npm_ci NAME DIR   install DIR's package-lock.json into DIR/node_modules (git-ignored)
#                            with `npm ci` when missing or stale; on failure print NAME's
#                            "0 passed, 1 failed" line and exit
#
# A fresh clone needs only node, npm (scripts/deps.sh installs both) and the npm registry.

# fail_setup NAME MESSAGE: the check could not run: one failure.
fail_setup() {
    echo "$1: $2" >&2
    echo "0 passed, 1 failed"
    exit 1
}

static_npm_ci() {
    local name=$1 dir=$2
    command -v node >/dev/null || fail_setup "$name" "node is missing: run scripts/deps.sh"
    # npm writes node_modules/.package-lock.json on install; older than the lock file means stale.
    if [[ ! -f $dir/node_modules/.package-lock.json || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
        command -v npm >/dev/null || fail_setup "$name" "npm is missing: run scripts/deps.sh"
        echo "$name: installing the npm packages of $dir (npm ci)" >&2
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
            fail_setup "$name" "npm ci failed in $dir (is the npm registry reachable?)"
    fi
}

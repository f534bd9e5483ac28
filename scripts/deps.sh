#!/usr/bin/env bash
# Install the Debian packages splitter needs to build, test and run locally.
# `scripts/deps.sh compose` adds what `make compose-test` needs: the Docker engine, Debian's
# docker-compose (1.29) and debootstrap (the base image is made locally).
#
# Quiet and quick when everything is there already: each package is checked with dpkg first,
# and apt-get (with one `apt-get update`) runs only for the missing ones. As root it calls
# apt-get directly, otherwise through sudo.
#
# The server packages (postgresql-15, redis-server, redis-sentinel, nginx) start system services when
# installed on a normal Debian machine. splitter never uses those (scripts/stack.sh runs its
# own instances on its own ports), so the install runs with a policy-rc.d that forbids
# starting services, and tells postgresql-common not to create the `main` cluster on 5432.
set -euo pipefail

PACKAGES=(
    # build
    build-essential pkg-config
    libh2o-dev libuv1-dev libssl-dev libhiredis-dev libpq-dev libjansson-dev uuid-dev
    libsodium-dev check
    # servers and their clients (redis-cli, redis-benchmark, psql); redis-sentinel for the
    # failover tests (tests/failover)
    postgresql-15 postgresql-client-15 redis-server redis-tools redis-sentinel nginx
    # scripts, tests, benchmarks, style
    gettext-base curl jq wrk valgrind clang-format cppcheck nodejs npm
    # fuzzing (make fuzz): clang with libFuzzer and the sanitizer runtimes
    clang libclang-rt-14-dev
    # browser tests of the web client (tests/browser: playwright-core drives it)
    chromium
    # promtool, for tests/static/prometheus.sh (the server itself is not started)
    prometheus
    # a terminal for the e2e test of splitterctl top (tests/e2e/top.test.mjs)
    tmux
    # kubectl, whose `kubectl kustomize` renders deploy/kubernetes/ (tests/static/kubernetes.sh)
    kubernetes-client
)

# `make compose-test` only (the engine is started privately by tests/compose/engine.sh).
if [[ ${1:-} == compose ]]; then
    PACKAGES+=(docker.io docker-compose debootstrap)
fi

POLICY_RC=/usr/sbin/policy-rc.d
CREATECLUSTER_CONF=/etc/postgresql-common/createcluster.conf

die() {
    echo "deps.sh: $*" >&2
    exit 1
}

# as_root CMD...: run CMD as root, through sudo when we are not root.
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run '$*' (and sudo is not installed)"
    fi
}

# Packages that count as present when their command is on PATH: NodeSource's nodejs bundles
# npm and conflicts with Debian's npm package; another kubectl (Kubernetes' own packages, a
# cloud SDK's) owns /usr/bin/kubectl, which Debian's kubernetes-client would overwrite.
declare -A SATISFIED_BY_COMMAND=([nodejs]=node [npm]=npm [kubernetes-client]=kubectl)

missing_packages() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        if [[ -n ${SATISFIED_BY_COMMAND[$pkg]:-} ]] && command -v "${SATISFIED_BY_COMMAND[$pkg]}" >/dev/null 2>&1; then
            continue
        fi
        # "install ok installed" only: a package removed with its config files left behind
        # still answers dpkg -s.
        if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
            echo "$pkg"
        fi
    done
}

# Forbid service starts during the install, unless a policy already exists (Docker-style
# images ship one that does the same). Removed again by cleanup.
created_policy=0
block_service_starts() {
    if [[ ! -e $POLICY_RC ]]; then
        as_root sh -c "printf '#!/bin/sh\n# temporary, from splitter scripts/deps.sh\nexit 101\n' >'$POLICY_RC' && chmod 755 '$POLICY_RC'"
        created_policy=1
    fi
    # No `main` cluster on 5432 if postgresql-common is installed by us.
    if [[ ! -e $CREATECLUSTER_CONF ]]; then
        as_root mkdir -p "$(dirname "$CREATECLUSTER_CONF")"
        as_root sh -c "echo 'create_main_cluster = false' >'$CREATECLUSTER_CONF'"
    fi
}

cleanup() {
    if [[ $created_policy -eq 1 ]]; then
        as_root rm -f "$POLICY_RC"
    fi
}

# If a system cluster or service got started anyway (a machine without our policy file and
# with a working init), stop it: it is not ours to keep running, and the main cluster would
# hold port 5432.
stop_system_services() {
    if command -v pg_lsclusters >/dev/null 2>&1; then
        local ver name port status
        while read -r ver name port status _; do
            if [[ $status == online* ]]; then
                echo "deps.sh: stopping the Debian PostgreSQL cluster $ver/$name (port $port): splitter runs its own"
                as_root pg_ctlcluster "$ver" "$name" stop || true
            fi
        done < <(pg_lsclusters --no-header 2>/dev/null || true)
    fi
    local svc
    for svc in redis-server redis-sentinel nginx prometheus; do
        if [[ -x /etc/init.d/$svc ]] && as_root /etc/init.d/"$svc" status >/dev/null 2>&1; then
            echo "deps.sh: stopping the system $svc service: splitter runs its own"
            as_root /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
        fi
    done
}

main() {
    command -v dpkg-query >/dev/null 2>&1 || die "this script is for Debian (dpkg-query not found)"
    local -a missing
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    echo "deps.sh: installing ${missing[*]}"
    trap cleanup EXIT
    block_service_starts
    export DEBIAN_FRONTEND=noninteractive
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" >/dev/null
    stop_system_services
    mapfile -t missing < <(missing_packages)
    [[ ${#missing[@]} -eq 0 ]] || die "still missing after apt-get install: ${missing[*]}"
    echo "deps.sh: done"
}

main "$@"

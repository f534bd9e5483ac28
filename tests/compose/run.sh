#!/usr/bin/env bash
# The Compose stack booted for real (`make compose-test`): docker-compose.yml with
# docker-compose.secrets.yml (passwords from files) and docker-compose.test.yml (test doubles
# of the official PostgreSQL, Redis and nginx images, see tests/compose/doubles/README.md) on
# a private Docker engine (tests/compose/engine.sh): its own data root, socket, bridge and
# address pool under a temporary directory, stopped by its pid at the end, whatever happens.
#
#   1. images: the base image from debootstrap (no registry here), then every image built
#      from its Dockerfile; OCI labels, stripped binaries, splitterctl in the worker image,
#      sizes reported
#   2. up -d: every service healthy within 120 s, started in the depends_on order
#   3. through the published nginx port: register, create a group, add an expense with
#      Prefer: wait, read balances and settlements
#   4. --scale worker=4 --scale api=2: the partitions spread over four workers (splitterctl
#      workers inside the stack), both api replicas answer requests; `docker kill` of a worker
#      moves its partitions to the others and no accepted expense is lost
#   5. down, then up: accounts, groups, expenses (volume postgres_data) and sessions (Redis
#      AOF, volume redis_data) are still there
#   6. down -v: no container, network or volume of the project is left
#
# One counted check per line "ok"/"not ok"; ends with "N passed, M failed". Needs root (the
# engine) and the packages of `scripts/deps.sh compose`. The debootstrap tarball is cached in
# ${XDG_CACHE_HOME:-~/.cache}/splitter (made again when missing). COMPOSE_TEST_KEEP_IMAGES=1
# keeps the engine's images and build cache there too (engine-root/), so that a rerun while
# working on the stack rebuilds only what changed; by default every run starts from nothing,
# as CI does.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
# shellcheck source=tests/compose/engine.sh
source "$SPLITTER_ROOT/tests/compose/engine.sh"
cd "$SPLITTER_ROOT"

CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/splitter"
DOCKER=/usr/bin/docker # Debian's client (a newer one on PATH may lack what compose expects)
# docker-compose 1.29 builds through the `docker` on PATH: Debian's, too.
export PATH="/usr/bin:$PATH"
PASSED=0
FAILED=0
T=
PROJECT="splittertest$$"
T0=$SECONDS

ok() {
    PASSED=$((PASSED + 1))
    echo "ok - $*"
}
not_ok() {
    FAILED=$((FAILED + 1))
    echo "not ok - $*"
}
# check NAME CMD...: one counted check, CMD's exit status decides.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
elapsed() {
    echo "$((SECONDS - T0))s"
}

dc() {
    docker-compose --project-name "$PROJECT" --project-directory "$SPLITTER_ROOT" \
        --env-file "$T/env" -f docker-compose.yml -f docker-compose.secrets.yml \
        -f tests/compose/docker-compose.test.yml "$@"
}

finish() {
    local rc=$?
    set +e # clean up as far as possible, whatever fails
    if [[ -n $T ]]; then
        if [[ $FAILED -gt 0 || $rc -ne 0 ]] && [[ -S $T/engine/docker.sock ]]; then
            echo "--- logs of the stack (last lines) ---" >&2
            dc logs --no-color --tail=30 >&2 2>/dev/null || true
        fi
        [[ ! -S $T/engine/docker.sock ]] || dc down -v --remove-orphans >/dev/null 2>&1 || true
        engine_stop
        rm -rf "$T"
    fi
    # Stopped by an error or a signal: that counts as a failure too.
    [[ $rc -eq 0 || $FAILED -gt 0 ]] || FAILED=1
    echo "compose-test took $(elapsed)"
    echo "$PASSED passed, $FAILED failed"
    [[ $FAILED -eq 0 ]] || exit 1
}

# --- HTTP through nginx -----------------------------------------------------------------

# api METHOD PATH [BODY] [extra curl args...]: sets STATUS and BODY (the answer's).
api() {
    local method=$1 path=$2 body=${3:-}
    shift 3 || shift $#
    local -a args=(-sS -o "$T/body" -w '%{http_code}' -X "$method" --max-time 20
        -H 'Content-Type: application/json')
    [[ -z ${TOKEN:-} ]] || args+=(-H "Authorization: Bearer $TOKEN")
    [[ -z $body ]] || args+=(--data-binary "$body")
    STATUS="$(curl "${args[@]}" "$@" "http://127.0.0.1:$HTTP_PORT$path" || echo 000)"
    BODY="$(cat "$T/body" 2>/dev/null || true)"
}

# --- the stack ---------------------------------------------------------------------------

# wait_healthy SECONDS: true when every container of the project is running and healthy
# within SECONDS.
wait_healthy() {
    local deadline=$((SECONDS + $1)) ids states
    while ((SECONDS < deadline)); do
        ids="$(dc ps -q 2>/dev/null)"
        if [[ -n $ids ]]; then
            # shellcheck disable=SC2086
            states="$($DOCKER inspect -f '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids 2>/dev/null | sort | uniq -c)"
            if [[ $(grep -vc ' running/healthy$' <<<"$states") -eq 0 ]]; then
                return 0
            fi
        fi
        sleep 2
    done
    echo "not healthy after $1 s:" >&2
    dc ps >&2 || true
    return 1
}

# Time (ns) of the first event ACTION ("start", "health_status: healthy") of a service's
# container since $UP_SINCE, from the engine's event log.
event_time() {
    local service=$1 action=$2
    $DOCKER events --since "$UP_SINCE" --until "$(date +%s)" \
        --filter "label=com.docker.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=$service" --filter type=container \
        --format '{{.TimeNano}} {{.Action}}' | awk -v a="$action" '{ t = $1; $1 = ""; sub(/^ /, ""); if ($0 == a) { print t; exit } }'
}

# started_after SERVICE DEP: SERVICE started only after DEP was reported healthy.
started_after() {
    local s d
    s="$(event_time "$1" start)"
    d="$(event_time "$2" "health_status: healthy")"
    [[ -n $s && -n $d && $s -gt $d ]] || {
        echo "$1 started at ${s:-?}, $2 healthy at ${d:-?}" >&2
        return 1
    }
}

# workers_json: `splitterctl workers --json`, run in a worker container (the stack's network).
workers_json() {
    dc exec -T worker splitterctl workers --json 2>/dev/null
}

# spread_over N: N live consumers each hold at least one lease, all partitions are leased.
spread_over() {
    local want=$1 js
    js="$(workers_json)" || return 1
    jq -e --argjson n "$want" --argjson parts 16 '
        [.workers[] | select(.live and .partitions > 0)] as $w
        | ($w | length) == $n and ([.workers[].partitions] | add) == $parts' <<<"$js" >/dev/null
}

# eventually SECONDS CMD...: CMD succeeds within SECONDS (tried every 2 s).
eventually() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 2
    done
}

# Requests to the api (not health) a replica has answered, from its own /metrics.
api_requests() {
    $DOCKER exec "$1" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" >&3 && cat <&3' |
        awk '/^splitter_api_requests_total\{/ && !/route="\/api\/health"/ { n += $NF } END { print n + 0 }'
}

# --- checks ------------------------------------------------------------------------------

# labels_ok IMAGE APP: the OCI labels `make images` and the release workflow set.
labels_ok() {
    local labels
    labels="$($DOCKER inspect -f '{{json .Config.Labels}}' "$1")" || return 1
    jq -e --arg tag "$IMAGE_TAG" --arg title "splitter-$2" '
        .["org.opencontainers.image.version"] == $tag and
        (.["org.opencontainers.image.revision"] | test("^[0-9a-f]{40}$")) and
        has("org.opencontainers.image.source") and
        has("org.opencontainers.image.licenses") and
        .["org.opencontainers.image.title"] == $title' <<<"$labels" >/dev/null
}

image_checks() {
    local repo="$IMAGE_REPO" tag="$IMAGE_TAG" app
    for app in api worker nginx; do
        check "image $repo-$app:$tag carries the OCI labels (title, version, revision, source, licenses)" \
            labels_ok "$repo-$app:$tag" "$app"
    done
    # The binaries, copied out of the images: stripped (no symbol table).
    local c
    for spec in api:/usr/local/bin/splitter-api worker:/usr/local/bin/splitter-worker worker:/usr/local/bin/splitterctl; do
        app=${spec%%:*}
        c="$($DOCKER create "$repo-$app:$tag" 2>/dev/null)" || { not_ok "${spec#*:} in $repo-$app: no image"; continue; }
        $DOCKER cp "$c:${spec#*:}" "$T/bin" >/dev/null 2>&1 || true
        $DOCKER rm "$c" >/dev/null
        check "${spec#*:} in $repo-$app is there and stripped" \
            bash -c "[[ -x '$T/bin' ]] && ! readelf -S '$T/bin' | grep -q '\\.symtab'"
        rm -f "$T/bin"
    done
    check "the api image runs as uid 10001" \
        bash -c "[[ \$($DOCKER run --rm --entrypoint id '$repo-api:$tag' -u) == 10001 ]]"
    echo "image sizes:"
    $DOCKER image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
        grep -E "^($repo-|splitter-test-double/|debian:bookworm-slim)" | sort | sed 's/^/  /' || true
}

functional_checks() {
    local email="compose-$$@example.com"
    TOKEN=
    api POST /api/v1/auth/register "{\"email\":\"$email\",\"password\":\"correct horse battery\",\"name\":\"Ada\"}"
    check "register through nginx: 201" [ "$STATUS" = 201 ]
    TOKEN="$(jq -r .token <<<"$BODY" 2>/dev/null || true)"
    export TOKEN
    api POST /api/v1/groups '{"name":"Trip","currency":"EUR"}'
    check "create a group: 201" [ "$STATUS" = 201 ]
    GID="$(jq -r .id <<<"$BODY" 2>/dev/null || true)"
    ME="$(jq -r '.members[0].id' <<<"$BODY" 2>/dev/null || true)"
    api POST "/api/v1/groups/$GID/members" '{"name":"Bob"}'
    BOB="$(jq -r .id <<<"$BODY" 2>/dev/null || true)"
    check "add a member: 201" [ "$STATUS" = 201 ]
    api POST "/api/v1/groups/$GID/expenses" \
        "{\"description\":\"Dinner\",\"amount\":9001,\"paid_by\":[{\"member_id\":\"$ME\",\"amount\":9001}],\"split\":{\"mode\":\"equal\",\"members\":[{\"member_id\":\"$ME\"},{\"member_id\":\"$BOB\"}]}}" \
        -H 'Prefer: wait=10'
    check "an expense with Prefer: wait is applied: 201 and its shares 4501/4500" \
        bash -c "[[ $STATUS == 201 ]] && jq -e '[.shares[].amount] == [4501, 4500]' >/dev/null <<<'$BODY'"
    api GET "/api/v1/groups/$GID/balances"
    check "balances: Ada +4500, Bob -4500" \
        bash -c "[[ $STATUS == 200 ]] && jq -e --arg a '$ME' --arg b '$BOB' '
            (.balances | map({(.member_id): .balance}) | add) == {(\$a): 4500, (\$b): -4500}' >/dev/null <<<'$BODY'"
    api GET "/api/v1/groups/$GID/settlements"
    check "settlements: Bob pays Ada 4500" \
        bash -c "[[ $STATUS == 200 ]] && jq -e --arg a '$ME' --arg b '$BOB' '
            .transfers == [{from: \$b, to: \$a, amount: 4500}]' >/dev/null <<<'$BODY'"
}

# expense_bulk N TAG: N expenses of 100 each (Ada paid, Bob owes 50) into new groups, one
# group each so they land on many partitions; the group ids go to $T/groups-TAG.
expense_bulk() {
    local n=$1 tag=$2 i gid me bob
    : >"$T/groups-$tag"
    for ((i = 0; i < n; i++)); do
        api POST /api/v1/groups "{\"name\":\"g$tag$i\",\"currency\":\"EUR\"}"
        gid="$(jq -r .id <<<"$BODY")"
        me="$(jq -r '.members[0].id' <<<"$BODY")"
        api POST "/api/v1/groups/$gid/members" '{"name":"Bob"}'
        bob="$(jq -r .id <<<"$BODY")"
        api POST "/api/v1/groups/$gid/expenses" \
            "{\"description\":\"e$i\",\"amount\":100,\"paid_by\":[{\"member_id\":\"$me\",\"amount\":100}],\"split\":{\"mode\":\"equal\",\"members\":[{\"member_id\":\"$me\"},{\"member_id\":\"$bob\"}]}}"
        [[ $STATUS == 202 || $STATUS == 201 ]] || echo "expense $i: $STATUS $BODY" >&2
        echo "$gid" >>"$T/groups-$tag"
    done
}

# all_applied TAG: every group of expense_bulk TAG shows its expense in the balances.
all_applied() {
    local gid
    while read -r gid; do
        api GET "/api/v1/groups/$gid/balances"
        [[ $STATUS == 200 ]] && jq -e '[.balances[].balance] | sort == [-50, 50]' >/dev/null <<<"$BODY" || return 1
    done <"$T/groups-$1"
}

scale_checks() {
    dc up -d --scale worker=4 --scale api=2 >/dev/null 2>&1
    check "--scale worker=4 --scale api=2: every container healthy within 120 s" wait_healthy 120
    check "4 worker and 2 api containers run" \
        bash -c "[[ \$(dc ps -q worker | wc -l) == 4 && \$(dc ps -q api | wc -l) == 2 ]]"
    # nginx 1.22 (the test double) resolves the api's name only at start; the real image
    # re-resolves it (`resolve`).
    if ! grep -q 'resolve' < <($DOCKER exec "$(dc ps -q nginx)" sh -c 'cat /etc/nginx/conf.d/default.conf' | grep -E '^\s*server\s+api'); then
        dc restart nginx >/dev/null 2>&1
        wait_healthy 60 || true
    fi
    check "splitterctl workers (inside the stack): 16 partitions spread over 4 live workers" \
        eventually 90 spread_over 4
    workers_json | jq -r '.workers[] | "  \(.name) live=\(.live) partitions=\(.partitions)"' || true

    local -a apis
    mapfile -t apis < <(dc ps -q api)
    local before0 before1 i
    before0="$(api_requests "${apis[0]}")"
    before1="$(api_requests "${apis[1]}")"
    for ((i = 0; i < 40; i++)); do api GET /api/v1/me; done
    check "both api replicas answer requests through nginx" \
        bash -c "(( \$(api_requests ${apis[0]}) > $before0 && \$(api_requests ${apis[1]}) > $before1 ))"

    # Kill one worker while expenses arrive; its partitions move, nothing is lost.
    local victim host consumer
    victim="$(dc ps -q worker | head -n1)"
    host="$($DOCKER inspect -f '{{.Config.Hostname}}' "$victim")"
    consumer="$(workers_json | jq -r --arg h "$host-" '[.workers[] | select(.live) | .name | select(startswith($h))][0] // empty')"
    check "the worker to kill ($host) holds partitions" [ -n "$consumer" ]
    expense_bulk 10 before &
    local bulk=$!
    sleep 2
    $DOCKER kill "$victim" >/dev/null
    wait "$bulk"
    expense_bulk 10 after
    check "after docker kill of worker $consumer: its partitions moved to the live workers" \
        eventually 90 bash -c "workers_json | jq -e --arg n '$consumer' '
            ([.workers[] | select(.name == \$n and .live) | .partitions] | add // 0) == 0
            and ([.workers[] | select(.live) | .partitions] | add) == 16' >/dev/null"
    check "every expense accepted around the kill is applied (20 groups)" \
        eventually 90 bash -c 'all_applied before && all_applied after'
}

persistence_checks() {
    dc down >/dev/null 2>&1
    check "down: no container left running" bash -c "[[ -z \$(dc ps -q) ]]"
    UP_SINCE="$(date +%s)"
    dc up -d >/dev/null 2>&1
    check "up again: every container healthy within 120 s" wait_healthy 120
    api GET /api/v1/me
    check "the session from before down is still valid (Redis AOF in redis_data)" [ "$STATUS" = 200 ]
    api GET "/api/v1/groups/$GID/balances"
    check "the group and its expense are still there (PostgreSQL in postgres_data)" \
        bash -c "[[ $STATUS == 200 ]] && jq -e '[.balances[].balance] | sort == [-4500, 4500]' >/dev/null <<<'$BODY'"
}

cleanup_checks() {
    dc down -v >/dev/null 2>&1
    local f="label=com.docker.compose.project=$PROJECT"
    check "down -v: no container, network or volume of the stack is left" \
        bash -c "[[ -z \$($DOCKER ps -aq --filter '$f') && -z \$($DOCKER network ls -q --filter '$f') && -z \$($DOCKER volume ls -q --filter '$f') ]]"
}

main() {
    [[ $EUID -eq 0 ]] || die "needs root (it starts its own Docker engine)"
    local cmd
    for cmd in dockerd docker-compose debootstrap "$DOCKER" curl jq readelf ip; do
        command -v "$cmd" >/dev/null 2>&1 || die "$cmd is missing: run scripts/deps.sh compose"
    done
    T="$(mktemp -d "${TMPDIR:-/tmp}/splitter-compose.XXXXXX")"
    trap finish EXIT
    trap 'exit 130' INT TERM
    if [[ ${COMPOSE_TEST_KEEP_IMAGES:-0} == 1 ]]; then
        engine_start "$T/engine" "$CACHE_DIR/engine-root"
    else
        engine_start "$T/engine"
    fi
    note "private engine up ($DOCKER_HOST) after $(elapsed)"

    # The stack's settings: no .env from the checkout; passwords from files (0444: the
    # containers' users read them through the bind mount).
    local -a ports
    read -r -a ports < <(pick_free_ports 1)
    HTTP_PORT=${ports[0]}
    IMAGE_REPO=splitter-test
    IMAGE_TAG=ci
    mkdir -p "$T/secrets"
    head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$T/secrets/postgres_password"
    head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$T/secrets/redis_password"
    chmod 0444 "$T/secrets/"*
    chmod 0755 "$T" "$T/secrets"
    cat >"$T/env" <<ENV
HTTP_PORT=$HTTP_PORT
IMAGE_REPO=$IMAGE_REPO
IMAGE_TAG=$IMAGE_TAG
POSTGRES_PASSWORD_SECRET=$T/secrets/postgres_password
REDIS_PASSWORD_SECRET=$T/secrets/redis_password
REDIS_SENTINEL_PASSWORD_SECRET=$T/secrets/redis_password
ENV
    export HTTP_PORT IMAGE_REPO IMAGE_TAG
    unset POSTGRES_PASSWORD REDIS_PASSWORD POSTGRES_PASSWORD_FILE REDIS_PASSWORD_FILE \
        REDIS_SENTINEL_PASSWORD REDIS_SENTINEL_PASSWORD_FILE
    export -f dc api workers_json all_applied api_requests
    export T PROJECT SPLITTER_ROOT DOCKER

    base_image
    note "base image imported after $(elapsed)"
    local b0=$SECONDS rev
    rev="$(git rev-parse HEAD 2>/dev/null || echo 0000000000000000000000000000000000000000)"
    $DOCKER build -q -t splitter-test-double/nginx:1.22 tests/compose/doubles/nginx >/dev/null
    check "every image builds (api, worker, nginx and the test doubles)" \
        dc build --build-arg VERSION="$IMAGE_TAG" --build-arg REVISION="$rev" \
        --build-arg SOURCE="$(git config --get remote.origin.url || true)" -q
    note "images built in $((SECONDS - b0)) s (total $(elapsed))"
    image_checks

    UP_SINCE="$(date +%s)"
    local u0=$SECONDS
    dc up -d >/dev/null 2>&1 || true
    check "up -d: every service healthy within 120 s" wait_healthy 120
    note "stack healthy $((SECONDS - u0)) s after up (total $(elapsed))"
    check "api started after postgres was healthy" started_after api postgres
    check "api started after redis was healthy" started_after api redis
    check "worker started after postgres was healthy" started_after worker postgres
    check "worker started after redis was healthy" started_after worker redis
    check "nginx started after the api was healthy" started_after nginx api

    functional_checks
    scale_checks
    persistence_checks
    cleanup_checks
}

main "$@"

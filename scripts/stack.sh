#!/usr/bin/env bash
# The local splitter stack: PostgreSQL 15, Redis, the api, $WORKERS workers and nginx, all
# private to one state directory ($STATE_DIR, default var/) and its ports, so that several
# stacks (make run, the e2e tests, the benchmarks) can run side by side.
#
#   scripts/stack.sh up            start whatever is not running; wait for /api/health via nginx
#   scripts/stack.sh down          stop exactly what `up` started (data stays)
#   scripts/stack.sh run           up, follow the logs until Ctrl-C, then down
#   scripts/stack.sh logs          follow the logs
#   scripts/stack.sh status        one line per process; exit 3 if any is not running
#   scripts/stack.sh env           the effective configuration, as shell assignments
#   scripts/stack.sh pid NAME      pid of postgres, redis, api, worker-N or nginx
#   scripts/stack.sh kill NAME [SIG]   send SIG (default KILL) to NAME; `up` starts it again
#   scripts/stack.sh stop NAME     stop NAME gracefully and wait for it; `up` starts it again
#   scripts/stack.sh restart NAME  stop NAME gracefully, then `up`
#   scripts/stack.sh kill-worker N / restart-redis   shorthands for fault tests
#   scripts/stack.sh stop-workers  stop every worker; the next `up` starts $WORKERS of them
#
# Configuration: the environment, then .env at the repo root (or $SPLITTER_ENV_FILE) for
# variables the environment does not set, then the defaults below (see .env.example).
# BUILD (default build) selects the binaries ($BUILD/bin/api, $BUILD/bin/worker); VALGRIND=1
# runs api and workers under valgrind.
#
# Run as root, PostgreSQL runs as the `postgres` account (it refuses root) and nginx as root
# (its workers read web/ in the work tree; it listens on 127.0.0.1 only). Run as another user,
# everything runs as that user.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SPLITTER_ROOT"
umask 022

PG_BIN=/usr/lib/postgresql/15/bin

# --- configuration ------------------------------------------------------------------------

# load_env_file: export each KEY=VALUE of the .env file that the environment does not set.
# Accepts blank lines, # comments, `export KEY=...`, and single- or double-quoted values; an
# unquoted value ends at " #". Nothing is evaluated.
load_env_file() {
    local file="${SPLITTER_ENV_FILE:-$SPLITTER_ROOT/.env}" line key val n=0
    [[ -f $file ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        n=$((n + 1))
        line="${line#"${line%%[![:space:]]*}"}"
        [[ -z $line || $line == \#* ]] && continue
        line="${line#export }"
        if [[ ! $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            note "$file:$n: not KEY=VALUE, ignored"
            continue
        fi
        key="${BASH_REMATCH[1]}"
        val="${BASH_REMATCH[2]}"
        if [[ $val =~ ^\"(.*)\"[[:space:]]*$ || $val =~ ^\'(.*)\'[[:space:]]*$ ]]; then
            val="${BASH_REMATCH[1]}"
        else
            val="${val%%[[:space:]]#*}"
            val="${val%"${val##*[![:space:]]}"}"
        fi
        [[ -n ${!key+x} ]] && continue
        export "$key=$val"
    done <"$file"
}

# absolute PATH: PATH made absolute against the repo root.
absolute() {
    if [[ $1 == /* ]]; then echo "$1"; else echo "$SPLITTER_ROOT/$1"; fi
}

check_port_var() {
    local name=$1 val=${!1}
    if [[ ! $val =~ ^[0-9]+$ ]] || ((val < 1 || val > 65535)); then
        die "$name='$val' is not a port number"
    fi
}

apply_defaults() {
    # An empty value means the default, except REDIS_PASSWORD (empty: no password).
    : "${HTTP_PORT:=8080}" "${API_HOST:=127.0.0.1}" "${API_PORT:=8081}"
    : "${POSTGRES_HOST:=127.0.0.1}" "${POSTGRES_PORT:=5433}" "${POSTGRES_DB:=splitter}"
    : "${POSTGRES_USER:=splitter}" "${POSTGRES_PASSWORD:=splitter-local-dev}" "${PG_POOL_SIZE:=4}"
    : "${REDIS_HOST:=127.0.0.1}" "${REDIS_PORT:=6380}" "${REDIS_PASSWORD:=}"
    : "${REDIS_APPENDFSYNC:=everysec}"
    : "${WORKERS:=2}" "${SPLITTER_PARTITIONS:=16}" "${WORKER_BATCH:=500}" "${LEASE_TTL_MS:=10000}"
    : "${WORKER_METRICS_PORT:=9091}"
    : "${LOG_LEVEL:=info}" "${SPLITTER_MIGRATIONS_DIR:=postgres/migrations}"
    : "${AUTH_RATE_LIMIT:=10r/s}" "${AUTH_RATE_BURST:=50}" "${CORS_ALLOWED_ORIGINS:=}"
    : "${STATE_DIR:=var}" "${BUILD:=build}" "${VALGRIND:=0}"
    : "${API_UPSTREAM_SERVER:=$API_HOST:$API_PORT}"

    STATE_DIR="$(absolute "$STATE_DIR")"
    BUILD="$(absolute "$BUILD")"
    SPLITTER_MIGRATIONS_DIR="$(absolute "$SPLITTER_MIGRATIONS_DIR")"
    export HTTP_PORT API_HOST API_PORT POSTGRES_HOST POSTGRES_PORT POSTGRES_DB \
        POSTGRES_USER POSTGRES_PASSWORD PG_POOL_SIZE REDIS_HOST REDIS_PORT REDIS_PASSWORD \
        REDIS_APPENDFSYNC WORKERS SPLITTER_PARTITIONS WORKER_BATCH LEASE_TTL_MS LOG_LEVEL \
        SPLITTER_MIGRATIONS_DIR AUTH_RATE_LIMIT AUTH_RATE_BURST STATE_DIR BUILD VALGRIND \
        API_UPSTREAM_SERVER WORKER_METRICS_PORT CORS_ALLOWED_ORIGINS

    local v
    for v in HTTP_PORT API_PORT POSTGRES_PORT REDIS_PORT; do check_port_var "$v"; done
    [[ $WORKERS =~ ^[0-9]+$ ]] || die "WORKERS='$WORKERS' is not a number"
    [[ $WORKER_METRICS_PORT == 0 ]] || check_port_var WORKER_METRICS_PORT
    [[ $REDIS_APPENDFSYNC =~ ^(always|everysec|no)$ ]] ||
        die "REDIS_APPENDFSYNC='$REDIS_APPENDFSYNC' must be always, everysec or no"
    [[ $AUTH_RATE_LIMIT =~ ^[0-9]+r/[sm]$ ]] || die "AUTH_RATE_LIMIT='$AUTH_RATE_LIMIT' must look like 10r/s"
    [[ $AUTH_RATE_BURST =~ ^[0-9]+$ ]] || die "AUTH_RATE_BURST='$AUTH_RATE_BURST' is not a number"
    [[ $STATE_DIR != *[[:space:]]* ]] || die "STATE_DIR='$STATE_DIR' must not contain spaces"
    for v in $CORS_ALLOWED_ORIGINS; do
        [[ $v =~ ^https?://[a-z0-9.-]+(:[0-9]+)?$ ]] ||
            die "CORS_ALLOWED_ORIGINS: '$v' is not an origin like https://app.example (scheme and host in lower case, no path)"
    done

    LOG_DIR="$STATE_DIR/logs"
    RUN_DIR="$STATE_DIR/run"
    PG_DIR="$STATE_DIR/postgres"
    PG_DATA="$PG_DIR/data"
    PG_SOCK="$PG_DIR/socket"
    REDIS_DIR="$STATE_DIR/redis"
    NGINX_DIR="$STATE_DIR/nginx"
    BIN_DIR="$BUILD/bin"
    if [[ $EUID -eq 0 ]]; then PG_OS_USER=postgres; else PG_OS_USER="$(id -un)"; fi
    if [[ $VALGRIND == 1 ]]; then
        STOP_TIMEOUT="${STOP_TIMEOUT:-60}"
        HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-180}"
    else
        STOP_TIMEOUT="${STOP_TIMEOUT:-15}"
        HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-60}"
    fi
}

# --- processes ----------------------------------------------------------------------------

# alive PID: the process exists and is not a zombie.
alive() {
    local stat
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ ${stat%% *} != Z ]]
}

# start_time PID: the process's start time in clock ticks since boot (identifies it across
# pid reuse).
start_time() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    # Fields after "(comm) ": state is field 3 of the full line, starttime field 22.
    awk '{ print $20 }' <<<"$stat"
}

# pid_of NAME: print the recorded pid of NAME if that process is still the one we started.
pid_of() {
    local name=$1 pid='' rest='' comm
    case $name in
        postgres)
            [[ -f $PG_DATA/postmaster.pid ]] || return 1
            pid="$(head -n 1 "$PG_DATA/postmaster.pid")"
            ;;
        redis | nginx)
            local file="$RUN_DIR/$name.pid"
            [[ $name == nginx ]] && file="$NGINX_DIR/nginx.pid"
            [[ -f $file ]] || return 1
            pid="$(head -n 1 "$file")"
            ;;
        api | worker-*)
            [[ -f $RUN_DIR/$name.pid ]] || return 1
            read -r pid rest <"$RUN_DIR/$name.pid" || true
            ;;
        *) die "unknown process '$name' (postgres, redis, api, worker-N, nginx)" ;;
    esac
    alive "$pid" || return 1
    comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
    case $name in
        postgres) [[ $comm == postgres ]] || return 1 ;;
        redis) [[ $comm == redis-server* ]] || return 1 ;;
        nginx) [[ $comm == nginx ]] || return 1 ;;
        *) [[ -n $rest && "$(start_time "$pid")" == "$rest" ]] || return 1 ;;
    esac
    echo "$pid"
}

running() {
    pid_of "$1" >/dev/null 2>&1
}

# worker_names: worker-1 .. worker-$WORKERS plus any other worker with a pid file.
worker_names() {
    local n f
    {
        for ((n = 1; n <= WORKERS; n++)); do echo "worker-$n"; done
        for f in "$RUN_DIR"/worker-*.pid; do
            [[ -e $f ]] && basename "$f" .pid
        done
    } | sort -t- -k2,2n -u
}

# stop_pids TIMEOUT NAME=PID...: SIGTERM them all, wait up to TIMEOUT seconds, then SIGKILL
# those still there.
stop_pids() {
    local timeout=$1 item pid left deadline
    shift
    [[ $# -gt 0 ]] || return 0
    for item in "$@"; do kill -TERM "${item#*=}" 2>/dev/null || true; done
    deadline=$((SECONDS + timeout))
    while :; do
        left=0
        for item in "$@"; do alive "${item#*=}" && left=1; done
        [[ $left -eq 0 ]] && return 0
        ((SECONDS < deadline)) || break
        sleep 0.1
    done
    for item in "$@"; do
        pid="${item#*=}"
        if alive "$pid"; then
            note "${item%%=*} (pid $pid) did not stop within ${timeout}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    sleep 0.2
}

# pg_run CMD...: run a PostgreSQL command as the account that owns the cluster, from / (the
# work tree may not be readable by that account).
pg_run() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# ensure_reachable DIR: when root, make sure the postgres account can traverse every directory
# down to DIR (mktemp -d and some work trees are 0700), adding o+x where it is missing.
ensure_reachable() {
    [[ $EUID -eq 0 ]] || return 0
    local dir=$1 path="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${dir#/}"
    for part in "${parts[@]}"; do
        path="$path/$part"
        if ! runuser -u postgres -- test -x "$path"; then
            note "allowing other users to traverse $path (chmod o+x) so that PostgreSQL can reach $PG_DIR"
            chmod o+x "$path"
        fi
    done
}

# tail_logs N: print the last N lines of every log (and sanitizer report), for a failure
# report.
tail_logs() {
    local f
    for f in "$LOG_DIR"/*.log "$LOG_DIR"/asan.* "$LOG_DIR"/ubsan.*; do
        [[ -s $f ]] || continue
        case ${f##*/} in initdb.log | nginx-access.log) continue ;; esac
        echo "----- ${f#"$STATE_DIR"/} (last $1 lines) -----" >&2
        tail -n "$1" "$f" >&2
    done
}

# --- PostgreSQL ---------------------------------------------------------------------------

start_postgres() {
    if running postgres; then return 0; fi
    port_in_use "$POSTGRES_PORT" &&
        die "POSTGRES_PORT $POSTGRES_PORT is already in use by another process; choose another port"
    ensure_reachable "$STATE_DIR"
    mkdir -p "$PG_DIR" "$PG_SOCK"
    chown "$PG_OS_USER" "$PG_DIR" "$PG_SOCK"
    chmod 0755 "$PG_DIR" "$PG_SOCK"
    local sock="$PG_SOCK/.s.PGSQL.$POSTGRES_PORT"
    ((${#sock} < 100)) || die "socket path $sock is too long for a unix socket: use a shorter STATE_DIR"

    if [[ ! -s $PG_DATA/PG_VERSION ]]; then
        note "postgres: creating the cluster in $PG_DATA"
        local pwfile
        pwfile="$(mktemp)"
        # The superuser gets a random password nobody needs: it logs in by peer over the socket.
        head -c 32 /dev/urandom | base64 >"$pwfile"
        chown "$PG_OS_USER" "$pwfile"
        pg_run "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_OS_USER" --pwfile="$pwfile" \
            -E UTF8 --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 \
            >"$LOG_DIR/initdb.log" 2>&1 || {
            rm -f "$pwfile"
            cat "$LOG_DIR/initdb.log" >&2
            die "initdb failed"
        }
        rm -f "$pwfile"
        echo "include_if_exists = 'splitter.conf'" >>"$PG_DATA/postgresql.conf"
    fi
    # Our settings, refreshed at each start (the data directory is private to postgres).
    install -o "$PG_OS_USER" -m 0600 postgres/postgresql.conf "$PG_DATA/splitter.conf"
    touch "$LOG_DIR/postgres.log"
    chown "$PG_OS_USER" "$LOG_DIR/postgres.log"
    if ! pg_run "$PG_BIN/pg_ctl" start -w -t 60 -D "$PG_DATA" -l "$LOG_DIR/postgres.log" \
        -o "-p $POSTGRES_PORT -k $PG_SOCK -h $POSTGRES_HOST" >/dev/null; then
        tail -n 30 "$LOG_DIR/postgres.log" >&2
        die "postgres did not start"
    fi
    note "postgres: listening on $POSTGRES_HOST:$POSTGRES_PORT"
}

# sql_literal VALUE: VALUE as a SQL string literal (standard_conforming_strings is on).
sql_literal() {
    printf "'%s'" "${1//\'/\'\'}"
}

# setup_database: role $POSTGRES_USER (password kept in step with the configuration) and
# database $POSTGRES_DB owned by it. Idempotent. The SQL goes through stdin, so the password
# never shows in a process list.
setup_database() {
    local user pass db
    user="$(sql_literal "$POSTGRES_USER")"
    pass="$(sql_literal "$POSTGRES_PASSWORD")"
    db="$(sql_literal "$POSTGRES_DB")"
    pg_run "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$POSTGRES_PORT" \
        -U "$PG_OS_USER" -d postgres >/dev/null <<SQL || die "could not create the role and database"
SELECT format('CREATE ROLE %I LOGIN', $user)
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $user) \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', $user, $pass) \gexec
SELECT format('CREATE DATABASE %I OWNER %I', $db, $user)
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = $db) \gexec
SQL
}

stop_postgres() {
    running postgres || return 0
    pg_run "$PG_BIN/pg_ctl" stop -w -t "$STOP_TIMEOUT" -m fast -D "$PG_DATA" >/dev/null || {
        note "postgres did not stop in time: immediate shutdown"
        pg_run "$PG_BIN/pg_ctl" stop -w -m immediate -D "$PG_DATA" >/dev/null || true
    }
}

# --- Redis --------------------------------------------------------------------------------

redis_cli() {
    if [[ -n $REDIS_PASSWORD ]]; then
        REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"
    else
        redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"
    fi
}

# redis_quote VALUE: VALUE as a double-quoted redis.conf string.
redis_quote() {
    local v=${1//\\/\\\\}
    v=${v//\"/\\\"}
    printf '"%s"' "$v"
}

start_redis() {
    if running redis; then return 0; fi
    port_in_use "$REDIS_PORT" &&
        die "REDIS_PORT $REDIS_PORT is already in use by another process; choose another port"
    mkdir -p "$REDIS_DIR"
    rm -f "$RUN_DIR/redis.pid"
    # Per-instance settings after the repo's file (later lines win). Written 0600: it may hold
    # the password, which would otherwise show on the command line.
    (
        umask 077
        {
            echo "# generated by scripts/stack.sh: do not edit"
            echo "include $(redis_quote "$SPLITTER_ROOT/redis/redis.conf")"
            echo "bind $REDIS_HOST"
            echo "port $REDIS_PORT"
            echo "dir $(redis_quote "$REDIS_DIR")"
            echo "daemonize yes"
            echo "pidfile $(redis_quote "$RUN_DIR/redis.pid")"
            echo "logfile $(redis_quote "$LOG_DIR/redis.log")"
            echo "appendfsync $REDIS_APPENDFSYNC"
            [[ -z $REDIS_PASSWORD ]] || echo "requirepass $(redis_quote "$REDIS_PASSWORD")"
        } >"$REDIS_DIR/redis.conf"
    )
    redis-server "$REDIS_DIR/redis.conf" || {
        tail -n 30 "$LOG_DIR/redis.log" >&2
        die "redis-server did not start"
    }
    local deadline=$((SECONDS + 30))
    until [[ "$(redis_cli ping 2>/dev/null)" == PONG ]]; do
        if ((SECONDS >= deadline)); then
            tail -n 30 "$LOG_DIR/redis.log" >&2
            die "redis did not answer PING within 30s"
        fi
        sleep 0.1
    done
    note "redis: listening on $REDIS_HOST:$REDIS_PORT"
}

# --- api and workers ----------------------------------------------------------------------

# launch NAME BINARY: start BINARY in the background (under valgrind if VALGRIND=1) with its
# output in $LOG_DIR/NAME.log, and record "pid starttime" in $RUN_DIR/NAME.pid.
launch() {
    local name=$1 bin=$2 pid
    local -a cmd=("$bin")
    if [[ $VALGRIND == 1 ]]; then
        cmd=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99
            --num-callers=30 "--log-file=$LOG_DIR/valgrind-%p.log" "$bin")
    fi
    nohup "${cmd[@]}" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid $(start_time "$pid")" >"$RUN_DIR/$name.pid"
}

start_api() {
    if running api; then return 0; fi
    port_in_use "$API_PORT" && die "API_PORT $API_PORT is already in use by another process; choose another port"
    launch api "$BIN_DIR/api"
}

# Worker N serves /metrics on WORKER_METRICS_PORT + N - 1 (0: none), so the workers of one host
# never share a port.
start_workers() {
    local n base=$WORKER_METRICS_PORT
    for ((n = 1; n <= WORKERS; n++)); do
        export WORKER_METRICS_PORT=$((base == 0 ? 0 : base + n - 1))
        running "worker-$n" || launch "worker-$n" "$BIN_DIR/worker"
    done
    export WORKER_METRICS_PORT=$base
}

# --- nginx --------------------------------------------------------------------------------

# render TEMPLATE OUTPUT: substitute exactly the listed placeholders.
render() {
    # shellcheck disable=SC2016 # the placeholders themselves, not their values
    local vars='${HTTP_PORT} ${NGINX_LISTEN_HOST} ${API_UPSTREAM_SERVER} ${AUTH_RATE_LIMIT}
        ${AUTH_RATE_BURST} ${WEB_ROOT} ${NGINX_ACCESS_LOG} ${NGINX_RESOLVER} ${NGINX_USER}
        ${NGINX_STATE_DIR} ${NGINX_LOG_DIR} ${CORS_ALLOWED_ORIGINS}'
    envsubst "$vars" <"$1" >"$2"
    if grep -n '^[^#]*[$]{[A-Z_]*}' "$2" >&2; then
        die "$2: placeholders left unsubstituted (add them to render() in scripts/stack.sh)"
    fi
}

start_nginx() {
    if running nginx; then return 0; fi
    port_in_use "$HTTP_PORT" && die "HTTP_PORT $HTTP_PORT is already in use by another process; choose another port"
    mkdir -p "$NGINX_DIR/conf.d" "$NGINX_DIR/tmp"
    rm -f "$NGINX_DIR"/conf.d/*.conf "$NGINX_DIR/nginx.pid"
    (
        # NGINX_RESOLVER is unused here (the upstream is an address) but must be valid.
        export NGINX_LISTEN_HOST=127.0.0.1 WEB_ROOT="$SPLITTER_ROOT/web" NGINX_RESOLVER=127.0.0.1
        export NGINX_ACCESS_LOG="$LOG_DIR/nginx-access.log" NGINX_USER
        export NGINX_STATE_DIR="$NGINX_DIR" NGINX_LOG_DIR="$LOG_DIR"
        NGINX_USER="$(id -un)"
        render nginx/nginx.conf.template "$NGINX_DIR/nginx.conf"
        local t
        for t in nginx/templates/*.conf.template; do
            render "$t" "$NGINX_DIR/conf.d/$(basename "$t" .template)"
        done
    )
    local -a nginx=(nginx -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" -e "$LOG_DIR/nginx-error.log")
    local out
    out="$("${nginx[@]}" -t -q 2>&1)" || {
        echo "$out" >&2
        die "the rendered nginx configuration in $NGINX_DIR is invalid"
    }
    "${nginx[@]}" || {
        tail -n 20 "$LOG_DIR/nginx-error.log" >&2
        die "nginx did not start"
    }
    local deadline=$((SECONDS + 10))
    until running nginx; do
        ((SECONDS < deadline)) || die "nginx wrote no pid file in $NGINX_DIR"
        sleep 0.1
    done
    note "nginx: listening on http://127.0.0.1:$HTTP_PORT/"
}

# --- commands -----------------------------------------------------------------------------

# wait_healthy: until GET /api/health through nginx answers 200; fail early if a process died.
wait_healthy() {
    local url="http://127.0.0.1:$HTTP_PORT/api/health" code name
    local deadline=$((SECONDS + HEALTH_TIMEOUT))
    while :; do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
        [[ $code == 200 ]] && break
        for name in api $(worker_names) nginx; do
            if ! running "$name"; then
                tail_logs 30
                die "$name exited during start-up (logs above, all in $LOG_DIR)"
            fi
        done
        if ((SECONDS >= deadline)); then
            tail_logs 30
            die "$url did not answer 200 within ${HEALTH_TIMEOUT}s (last: $code)"
        fi
        sleep 0.2
    done
    # A worker that fails after the api is healthy would otherwise go unnoticed.
    for name in $(worker_names); do
        running "$name" || {
            tail_logs 30
            die "$name exited during start-up"
        }
    done
}

# check_same_ports: refuse to add processes to a stack of this STATE_DIR that is running with
# other ports (its pids are ours, but the new processes would not find the old ones).
check_same_ports() {
    local file="$RUN_DIR/ports" want name
    want="HTTP_PORT=$HTTP_PORT API_PORT=$API_PORT POSTGRES_PORT=$POSTGRES_PORT REDIS_PORT=$REDIS_PORT"
    if [[ -f $file && "$(cat "$file")" != "$want" ]]; then
        for name in postgres redis api $(worker_names) nginx; do
            if running "$name"; then
                die "the stack in $STATE_DIR runs with $(cat "$file"), not $want: use those settings or run down first"
            fi
        done
    fi
    echo "$want" >"$file"
}

cmd_up() {
    [[ -x $BIN_DIR/api && -x $BIN_DIR/worker ]] ||
        die "$BIN_DIR/api or $BIN_DIR/worker is missing: build first (make)"
    mkdir -p "$STATE_DIR" "$LOG_DIR" "$RUN_DIR"
    check_same_ports
    start_postgres
    setup_database
    start_redis
    start_api
    start_workers
    start_nginx
    wait_healthy
    note "up: http://127.0.0.1:$HTTP_PORT/ (state in $STATE_DIR)"
}

cmd_down() {
    local name pid any=0
    local -a pids=()
    if pid="$(pid_of nginx)"; then stop_pids "$STOP_TIMEOUT" "nginx=$pid"; any=1; fi
    for name in api $(worker_names); do
        if pid="$(pid_of "$name")"; then pids+=("$name=$pid"); fi
    done
    if [[ ${#pids[@]} -gt 0 ]]; then stop_pids "$STOP_TIMEOUT" "${pids[@]}"; any=1; fi
    rm -f "$RUN_DIR"/api.pid "$RUN_DIR"/worker-*.pid
    if pid="$(pid_of redis)"; then stop_pids "$STOP_TIMEOUT" "redis=$pid"; any=1; fi
    if running postgres; then stop_postgres; any=1; fi
    if [[ $any -eq 1 ]]; then note "down: stopped (data kept in $STATE_DIR)"; fi
}

cmd_status() {
    local name pid bad=0
    for name in postgres redis api $(worker_names) nginx; do
        if pid="$(pid_of "$name")"; then
            printf '%-10s running  pid %s\n' "$name" "$pid"
        else
            printf '%-10s stopped\n' "$name"
            bad=1
        fi
    done
    echo "http://127.0.0.1:$HTTP_PORT/  state: $STATE_DIR"
    return $((bad * 3))
}

cmd_logs() {
    mkdir -p "$LOG_DIR"
    local -a files=("$LOG_DIR"/*.log)
    [[ -e ${files[0]} ]] || die "no logs in $LOG_DIR yet"
    exec tail -n 20 -F "${files[@]}"
}

cmd_run() {
    cmd_up
    local tail_pid
    tail -n 20 -F "$LOG_DIR"/*.log &
    tail_pid=$!
    # Background jobs of a script ignore SIGINT, so Ctrl-C reaches only us: stop the tail and
    # the stack.
    trap 'kill "$tail_pid" 2>/dev/null || true; echo >&2; cmd_down; exit 0' INT TERM
    note "following the logs; Ctrl-C stops the stack"
    wait "$tail_pid" || true
    cmd_down
}

cmd_env() {
    local v
    for v in HTTP_PORT API_HOST API_PORT POSTGRES_HOST POSTGRES_PORT POSTGRES_DB \
        POSTGRES_USER POSTGRES_PASSWORD PG_POOL_SIZE REDIS_HOST REDIS_PORT REDIS_PASSWORD \
        REDIS_APPENDFSYNC WORKERS SPLITTER_PARTITIONS WORKER_BATCH LEASE_TTL_MS LOG_LEVEL \
        SPLITTER_MIGRATIONS_DIR AUTH_RATE_LIMIT AUTH_RATE_BURST STATE_DIR BUILD VALGRIND \
        API_UPSTREAM_SERVER WORKER_METRICS_PORT CORS_ALLOWED_ORIGINS; do
        printf '%s=%q\n' "$v" "${!v}"
    done
}

cmd_kill() {
    local name=${1:?usage: stack.sh kill NAME [SIGNAL]} sig=${2:-KILL} pid
    pid="$(pid_of "$name")" || die "$name is not running"
    kill "-$sig" "$pid"
    note "sent SIG$sig to $name (pid $pid)"
}

# cmd_stop_workers: stop every worker gracefully and forget them, so that the next `up` starts
# exactly $WORKERS of them (the benchmarks change the number of workers this way).
cmd_stop_workers() {
    local name pid
    local -a items=()
    for name in $(worker_names); do
        if pid="$(pid_of "$name")"; then
            items+=("$name=$pid")
        fi
    done
    stop_pids "$STOP_TIMEOUT" "${items[@]}"
    rm -f "$RUN_DIR"/worker-*.pid
    note "workers stopped"
}

# cmd_stop NAME: stop one process gracefully (SIGTERM, or pg_ctl for PostgreSQL) and wait
# until it is gone; the rest of the stack keeps running.
cmd_stop() {
    local name=${1:?usage: stack.sh stop NAME} pid
    if [[ $name == postgres ]]; then
        stop_postgres
    elif pid="$(pid_of "$name")"; then
        stop_pids "$STOP_TIMEOUT" "$name=$pid"
    fi
}

cmd_restart() {
    cmd_stop "${1:?usage: stack.sh restart NAME}"
    cmd_up
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2
    exit 2
}

main() {
    [[ $# -ge 1 ]] || usage
    load_env_file
    apply_defaults
    local command=$1
    shift
    case $command in
        up) cmd_up ;;
        down) cmd_down ;;
        run) cmd_run ;;
        logs) cmd_logs ;;
        status) cmd_status ;;
        env) cmd_env ;;
        pid) pid_of "${1:?usage: stack.sh pid NAME}" || die "${1} is not running" ;;
        kill) cmd_kill "$@" ;;
        stop) cmd_stop "$@" ;;
        restart) cmd_restart "$@" ;;
        kill-worker) cmd_kill "worker-${1:?usage: stack.sh kill-worker N}" "${2:-KILL}" ;;
        restart-redis) cmd_restart redis ;;
        stop-workers) cmd_stop_workers ;;
        -h | --help | help) usage ;;
        *) die "unknown command '$command' (up, down, run, logs, status, env, pid, kill, stop, restart)" ;;
    esac
}

main "$@"

#!/usr/bin/env bash
# Benchmarks: scripts/bench.sh (make bench).
#
# Starts a private stack like the e2e tests (temporary STATE_DIR, random free ports, no .env,
# WORKERS from the environment, default 2), runs every $BUILD/bench/* binary (each prints its
# own markdown table), then measures the stack with wrk and redis-benchmark and prints one
# markdown table: what, figure, the raw limit it is compared with (measured in the same run,
# on the same machine), and the ratio. The stack is stopped and removed at the end.
#
# Environment: BUILD (default build), WORKERS (2), BENCH_DURATION (wrk seconds, 5),
# BENCH_CONNECTIONS (64), BENCH_THREADS (2), BENCH_EVENTS (events queued per apply run, 40000),
# BENCH_STREAMS (idle stream counts, default 1000,5000,10000),
# BENCH_ONLY (space-separated stack benchmark names, e.g. "bench_applied_events bench_lag":
# only those, after the raw limits, without the binaries).
# BENCH_GROUPS (groups of the mixed load, 1000), BENCH_CURVE_EXPENSES / BENCH_CURVE_MEMBERS /
# BENCH_CURVE_SPLITS (the cost curves' sizes, see bench_curves).
# bench_cpu (bench/cpu.sh) adds a table of CPU µs per operation by component; bench_mixed,
# bench_curves and bench_scaling add one table each.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SPLITTER_ROOT"
# shellcheck source=bench/cpu.sh
source bench/cpu.sh

BUILD="${BUILD:-build}"
[[ $BUILD == /* ]] || BUILD="$SPLITTER_ROOT/$BUILD"
export BUILD
DURATION="${BENCH_DURATION:-5}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-2}"

BENCH_STATE=""
FAILURES=0
ROWS=()
declare -A RAW=()       # raw limit key -> figure (per second)
declare -A RAW_LABEL=() # raw limit key -> what it is

finish() {
    [[ -n $BENCH_STATE ]] || return 0
    scripts/stack.sh down || true
    rm -rf "$BENCH_STATE"
    BENCH_STATE=""
}

# fmt NUMBER: integer with thousands separators.
fmt() {
    printf '%.0f' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'
}

# wrk_rate URL [WRK ARGS...]: run wrk and print the requests per second; appends a warning
# to WRK_NOTE when some answers were not 2xx/3xx or sockets failed.
WRK_NOTE=""
wrk_rate() {
    local url=$1 out rate bad errors
    shift
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$@" "$url" 2>&1)" || {
        echo "$out" >&2
        echo 0
        return 0
    }
    rate="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
    bad="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")"
    errors="$(grep -o 'Socket errors:.*' <<<"$out" || true)"
    WRK_NOTE=""
    [[ -z $bad ]] || WRK_NOTE="$bad answers not 2xx/3xx! "
    [[ -z $errors ]] || WRK_NOTE+="$errors"
    echo "${rate:-0}"
}

# row WHAT FIGURE UNIT [RAW_KEY]: one line of the table; the ratio is FIGURE / RAW[RAW_KEY].
row() {
    local what=$1 figure=$2 unit=$3 key=${4:-} raw="(raw limit)" ratio="—"
    if [[ -n $key ]]; then
        raw="$(fmt "${RAW[$key]}") $unit (${RAW_LABEL[$key]})"
        ratio="$(awk -v a="$figure" -v b="${RAW[$key]}" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "—" }')"
    fi
    ROWS+=("| $what | $(fmt "$figure") $unit${WRK_NOTE:+ ($WRK_NOTE)} | $raw | $ratio |")
    WRK_NOTE=""
}

# raw NAME LABEL FIGURE UNIT: record a raw limit and list it in the table.
raw() {
    RAW[$1]=$3
    RAW_LABEL[$1]=$2
    row "$2" "$3" "$4"
}

# --- raw limits of this machine, measured now -----------------------------------------------

# The stack's variables (API_HOST, REDIS_HOST, ...) come from `stack.sh env` at run time.
# shellcheck disable=SC2153
measure_raw_limits() {
    local base="http://127.0.0.1:$HTTP_PORT" out rate
    local -a auth=()
    raw static "nginx: static file /" "$(wrk_rate "$base/")" "req/s"
    raw api_ping "api direct: GET /api/ping" "$(wrk_rate "http://$API_HOST:$API_PORT/api/ping")" "req/s"
    raw proxy_ping "nginx → api: GET /api/ping" "$(wrk_rate "$base/api/ping")" "req/s"
    [[ -z $REDIS_PASSWORD ]] || auth=(-a "$REDIS_PASSWORD" --no-auth-warning)
    out="$(redis-benchmark -h "$REDIS_HOST" -p "$REDIS_PORT" "${auth[@]}" -q -n 200000 -c 64 \
        XADD bench:stream '*' f v 2>&1 | tr '\r' '\n')"
    rate="$(sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' <<<"$out" | tail -n 1)"
    [[ -n $rate ]] || {
        echo "$out" >&2
        FAILURES=$((FAILURES + 1))
    }
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "${auth[@]}" DEL bench:stream >/dev/null
    raw redis_xadd "redis-benchmark: XADD, 64 clients, AOF $REDIS_APPENDFSYNC" "${rate:-0}" "ops/s"
}

# ==== stack benchmarks: later issues add theirs here =====================================
# Each is a function that measures one figure against the running stack (BASE_URL, the
# stack's variables in the environment) and calls
#     row "what" FIGURE UNIT RAW_KEY
# with RAW_KEY one of: static, api_ping, proxy_ping, redis_xadd (see measure_raw_limits).
# wrk_rate URL [wrk args, e.g. -s script.lua] gives requests per second.

bench_proxy_overhead() {
    # nginx's share of a trivial api request: the proxied figure against the direct one.
    row "nginx → api: GET /api/ping (vs direct)" "${RAW[proxy_ping]}" "req/s" api_ping
}

# --- reads ------------------------------------------------------------------------------

# pg_exec ARGS...: psql against the stack's PostgreSQL.
pg_exec() {
    psql -X -q -A -t -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$@"
}

# ms_of_request URL: one GET with the reader's token; prints its total time in ms.
ms_of_request() {
    curl -s -o /dev/null -H "Authorization: Bearer $READ_TOKEN" -w '%{time_total}' "$1" |
        awk '{ printf "%.2f", $1 * 1000 }'
}

# median VALUES...: the middle value (the lower one of an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# wrk_latency CONNECTIONS URL [WRK ARGS...]: "rate p99" of a wrk run with --latency.
wrk_latency() {
    local c=$1 url=$2 out
    shift 2
    out="$(wrk -t"$THREADS" -c"$c" -d"${DURATION}s" --latency "$@" "$url" 2>&1)"
    echo "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out") $(awk '$1 == "99%" { print $2 }' <<<"$out")"
}

bench_balance_reads() {
    local base="http://127.0.0.1:$HTTP_PORT" pid out rate p99 hwm ping_p99 floor
    eval "$(node bench/reads.mjs setup)"
    # The trivial GET again, right beside the balance load: the machine is shared. Its own
    # p99 at the same concurrency is the floor of any proxied request's.
    read -r rate ping_p99 <<<"$(wrk_latency "$CONNECTIONS" "$base/api/ping")"
    raw ping_beside "nginx → api: GET /api/ping, just before the balance load (p99 ${ping_p99:-?})" \
        "${rate:-0}" "req/s"
    pid="$(scripts/stack.sh pid api)"
    # The peak from here on: start-up (argon2id's 64 MiB test hash) and setup excluded.
    echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
        -H "Authorization: Bearer $READ_TOKEN" "$base/api/v1/groups/$READ_GROUP/balances" 2>&1)"
    rate="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
    p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
    hwm="$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")"
    WRK_NOTE="$(awk '/Non-2xx or 3xx responses:/ { print $NF " answers not 2xx/3xx! " }' <<<"$out")"
    # Little's law: a closed loop of C connections at R req/s waits C / R on average.
    floor="$(awk -v c="$CONNECTIONS" -v r="${rate:-0}" 'BEGIN { if (r > 0) printf "%.1fms", 1000 * c / r; else print "?" }')"
    row "cached balance reads through nginx, $CONNECTIONS connections (p99 ${p99:-?}; mean $floor by Little's law)" \
        "${rate:-0}" "req/s" ping_beside
    # The tail below saturation: 8 connections, beside the GET at 8.
    read -r rate ping_p99 <<<"$(wrk_latency 8 "$base/api/ping")"
    raw ping_beside_8 "nginx → api: GET /api/ping, 8 connections (p99 ${ping_p99:-?})" "${rate:-0}" "req/s"
    read -r rate p99 <<<"$(wrk_latency 8 "$base/api/v1/groups/$READ_GROUP/balances" \
        -H "Authorization: Bearer $READ_TOKEN")"
    row "cached balance reads through nginx, 8 connections (p99 ${p99:-?})" "${rate:-0}" "req/s" ping_beside_8
    ROWS+=("| api peak RSS (VmHWM) during the balance load | $hwm MiB | 32 MiB (target) | $(awk -v a="$hwm" 'BEGIN { printf "%.0f%%", 100 * a / 32 }') |")
}

bench_balance_10k() {
    local base="http://127.0.0.1:$HTTP_PORT" url i cold=() warm=()
    pg_exec -v gid="$BIG_GROUP" -v uid="$READ_USER" -v members=10 -v expenses=10000 \
        -f bench/seed_group.sql >/dev/null
    url="$base/api/v1/groups/$BIG_GROUP/balances"
    for i in 1 2 3 4 5; do
        redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" DEL "splitter:view:$BIG_GROUP" >/dev/null
        cold+=("$(ms_of_request "$url")")
        warm+=("$(ms_of_request "$url")")
    done
    ROWS+=("| one balance request, 10,000 expenses, cache flushed (PostgreSQL), median of 5 | $(median "${cold[@]}") ms | IHateMoney ~1,300 ms | — |")
    ROWS+=("| one balance request, 10,000 expenses, cached, median of 5 | $(median "${warm[@]}") ms | IHateMoney ~1,300 ms | — |")
}

# --- the ledger write path ---------------------------------------------------------------

# events_recorded: applied plus rejected ledger events in PostgreSQL.
events_recorded() {
    psql -X -q -A -t -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
        -c "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM rejected_events)"
}

# stream_backlog: entries not yet trimmed (applied entries are trimmed), over every partition.
stream_backlog() {
    local p total=0 n
    for ((p = 0; p < ${SPLITTER_PARTITIONS:-16}; p++)); do
        n="$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" XLEN "splitter:stream:$p")"
        total=$((total + n))
    done
    echo "$total"
}

# expense_lua FILE: the wrk script that posts BENCH_BODY_FILE with BENCH_TOKEN (from
# `node bench/ledger.mjs setup`).
expense_lua() {
    {
        echo 'wrk.method = "POST"'
        echo 'wrk.headers["Content-Type"] = "application/json"'
        echo "wrk.headers[\"Authorization\"] = \"Bearer $BENCH_TOKEN\""
        echo "local f = io.open(\"$BENCH_BODY_FILE\")"
        echo 'wrk.body = f:read("*a")'
        echo 'f:close()'
    } >"$1"
}

bench_write_acceptance() {
    local base="http://127.0.0.1:$HTTP_PORT" lua rate i
    eval "$(node bench/ledger.mjs setup)"
    lua="$BENCH_STATE/post-expense.lua"
    expense_lua "$lua"
    # The trivial GET again, right beside the write load: the machine is shared.
    raw ping_beside_write "nginx → api: GET /api/ping, just before the write load" \
        "$(wrk_rate "$base/api/ping")" "req/s"
    rate="$(wrk_rate "$base/api/v1/groups/$BENCH_GROUP/expenses" -s "$lua")"
    RAW[accepted]=$rate
    RAW_LABEL[accepted]="expense writes accepted through nginx, no wait"
    row "expense writes accepted through nginx (202: validated, XADD), workers applying them on the same cores" \
        "$rate" "req/s" ping_beside_write
    # Let the workers drain what was accepted before measuring them.
    drain_streams
    # The accept path alone (nginx, the api, Redis): the workers stopped, so that applying
    # what is accepted does not share the cores with accepting it.
    scripts/stack.sh stop-workers >/dev/null
    raw ping_beside_write_alone "nginx → api: GET /api/ping, workers stopped" \
        "$(wrk_rate "$base/api/ping")" "req/s"
    rate="$(wrk_rate "$base/api/v1/groups/$BENCH_GROUP/expenses" -s "$lua")"
    row "expense writes accepted through nginx (202: validated, XADD), workers stopped" "$rate" "req/s" \
        ping_beside_write_alone
    scripts/stack.sh up >/dev/null
    drain_streams
}

# drain_streams: until the workers applied every queued entry (10 minutes at most).
drain_streams() {
    local i
    for ((i = 0; i < 6000; i++)); do
        [[ $(stream_backlog) -eq 0 ]] && break
        sleep 0.1
    done
}

# REDIS_WAIT_REPLICAS=1: what a 202 that survives the loss of the Redis primary costs. A real
# replica (redis-server --replicaof the stack's Redis, on loopback, no persistence of its own)
# and a second api with REDIS_WAIT_REPLICAS=1; the same expense load straight at each api (no
# nginx), the default one first, with the replica attached for both, the queue drained between.
bench_replica_wait() {
    local lua="$BENCH_STATE/post-expense-wait.lua" rport aport rpid apid rate i
    local -a ports auth=()
    read -r -a ports < <(pick_free_ports 2)
    rport=${ports[0]}
    aport=${ports[1]}
    [[ -z $REDIS_PASSWORD ]] || auth=(--masterauth "$REDIS_PASSWORD" --requirepass "$REDIS_PASSWORD")
    redis-server --port "$rport" --bind 127.0.0.1 --dir "$BENCH_STATE" --save '' --appendonly no \
        --replicaof "$REDIS_HOST" "$REDIS_PORT" "${auth[@]}" --logfile "$BENCH_STATE/replica.log" &
    rpid=$!
    for ((i = 0; i < 300; i++)); do
        REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p "$rport" INFO replication 2>/dev/null |
            grep -q 'master_link_status:up' && break
        sleep 0.1
    done
    API_PORT=$aport REDIS_WAIT_REPLICAS=1 "$BUILD/bin/api" >>"$BENCH_STATE/api-wait.log" 2>&1 &
    apid=$!
    for ((i = 0; i < 100; i++)); do
        curl -fs -o /dev/null "http://127.0.0.1:$aport/api/health" && break
        sleep 0.1
    done
    eval "$(node bench/ledger.mjs setup)"
    expense_lua "$lua"
    raw accept_default "api direct: expense writes accepted, default (with a replica attached)" \
        "$(wrk_rate "http://$API_HOST:$API_PORT/api/v1/groups/$BENCH_GROUP/expenses" -s "$lua")" "req/s"
    drain_streams
    rate="$(wrk_rate "http://127.0.0.1:$aport/api/v1/groups/$BENCH_GROUP/expenses" -s "$lua")"
    row "api direct: expense writes accepted with REDIS_WAIT_REPLICAS=1 (202 once a replica holds it)" \
        "$rate" "req/s" accept_default
    kill "$apid" "$rpid" 2>/dev/null || true
    wait "$apid" "$rpid" 2>/dev/null || true
    drain_streams
}

# leases_settled K: every partition leased, by K distinct workers (30 s at most).
leases_settled() {
    local k=$1 i p owners
    for ((i = 0; i < 300; i++)); do
        owners="$(for ((p = 0; p < ${SPLITTER_PARTITIONS:-16}; p++)); do
            redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" GET "splitter:lease:$p" | sed 's/:[0-9]*$//'
        done | sort)"
        if ! grep -q '^$' <<<"$owners" && [[ $(uniq <<<"$owners" | wc -l) -eq $k ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "bench.sh: leases did not settle on $k workers" >&2
}

bench_applied_events() {
    local n="${BENCH_EVENTS:-40000}" run k keyed file before recorded start end rate
    # The last run is 2 workers again, each event with an Idempotency-Key (claimed in
    # idempotency_keys): compared with the same run without keys.
    for run in 1 2 4 2-keyed; do
        k=${run%%-*}
        keyed=""
        [[ $run == *-keyed ]] && keyed=keyed
        file="$BENCH_STATE/events-$run.resp"
        node bench/ledger.mjs events "$n" "$file" $keyed
        scripts/stack.sh stop-workers >/dev/null
        WORKERS=$k scripts/stack.sh up >/dev/null
        # Steady state: the workers own their partitions before the events arrive; queueing
        # them (one pipe, ~0.5 s for 20,000) is far faster than applying them. Progress is read
        # from the workers' counters by one polling process (a psql started every 100 ms cost
        # the machine a quarter of its time), then checked against PostgreSQL.
        leases_settled "$k"
        before="$(WORKERS=$k node bench/ledger.mjs applied)"
        recorded="$(events_recorded)"
        start="$(date +%s.%N)"
        redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --pipe <"$file" >/dev/null
        if ! WORKERS=$k node bench/ledger.mjs wait-applied $((before + n)); then
            echo "bench.sh: $k worker(s) did not apply $n events in 10 minutes" >&2
            FAILURES=$((FAILURES + 1))
        fi
        end="$(date +%s.%N)"
        if [[ $(events_recorded) -lt $((recorded + n)) ]]; then
            echo "bench.sh: PostgreSQL holds fewer than the $n events the workers counted" >&2
            FAILURES=$((FAILURES + 1))
        fi
        rate="$(awk -v n="$n" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }')"
        if [[ -n $keyed ]]; then
            row "ledger events applied, $k worker(s), $n queued at once, each with an Idempotency-Key" \
                "$rate" "events/s" applied_plain
        else
            row "ledger events applied, $k worker(s), $n queued at once" "$rate" "events/s" redis_xadd
            RAW[applied_$k]=$rate
            RAW_LABEL[applied_$k]="applied with $k worker(s), same run"
            if [[ $k == 4 ]]; then
                row "ledger events applied, 4 workers, against 2 (more workers never slower: ≥ 100 %)" \
                    "$rate" "events/s" applied_2
            fi
            if [[ $k == 2 ]]; then
                RAW[applied_plain]=$rate
                RAW_LABEL[applied_plain]="the same without keys"
            fi
        fi
    done
    scripts/stack.sh stop-workers >/dev/null
    WORKERS=2 scripts/stack.sh up >/dev/null
}

# The end-to-end lag at half the highest rate the whole write path sustains here: the load
# generator (one node process, Prefer: wait=10 on every write), nginx, the api, Redis, the
# workers and PostgreSQL all share these cores, so that rate sits far below the workers' own
# (bench_applied_events). It is found by doubling from 250 writes/s, 3 s a step, while every
# write is applied within 10 s and p99 stays under 1 s.
bench_lag() {
    local rate=250 best=0 out p50 p99 sent late
    while ((rate <= 16000)); do
        read -r p50 p99 sent late <<<"$(node bench/ledger.mjs lag "$rate" 3)"
        [[ $late -eq 0 ]] && awk -v p="$p99" 'BEGIN { exit !(p < 1000) }' || break
        best=$rate
        rate=$((rate * 2))
    done
    if ((best == 0)); then
        echo "bench.sh: the write path did not sustain 250 Prefer: wait writes/s" >&2
        FAILURES=$((FAILURES + 1))
        return 0
    fi
    # Beside the writes accepted without waiting when bench_write_acceptance ran before.
    if [[ -n ${RAW[accepted]:-} ]]; then
        row "Prefer: wait writes sustained end to end (applied within 10 s, p99 < 1 s; doubling steps of 3 s from 250/s)" \
            "$best" "writes/s" accepted
    else
        ROWS+=("| Prefer: wait writes sustained end to end (applied within 10 s, p99 < 1 s; doubling steps of 3 s from 250/s) | $best writes/s | — | — |")
    fi
    rate=$((best / 2))
    out="$(node bench/ledger.mjs lag "$rate" "$DURATION")"
    read -r p50 p99 sent late <<<"$out"
    ROWS+=("| accept → applied as a Prefer: wait client sees it, $rate writes/s (half of that), $sent sent | p50 $p50 ms, p99 $p99 ms, $late not applied within 10 s | p99 aim 50 ms | $(awk -v a="$p99" 'BEGIN { printf "%.0f%%", 100 * a / 50 }') |")
}

# Live-update streams: idle streams opened straight on the api (spread over 10 groups) up to
# BENCH_STREAMS (1000,5000,10000) in steps, the api's resident memory at each step, and the
# latency from a write's 202 to its event on a stream through nginx, with the largest count of
# idle streams still open (held by a second node process) and again with none. Both the api (which raises its own soft limit)
# and the node client need a descriptor each per stream: the run is refused when the hard limit
# is too low for the largest count.
bench_streams() {
    local steps="${BENCH_STREAMS:-1000,5000,10000}" max out holder base_kib prev=0 prev_kib=0 n kib
    local p50 p99 tries=0
    max="${steps##*,}"
    if (($(ulimit -Hn) < max + 1000)); then
        echo "bench.sh: bench_streams needs a descriptor limit above $((max + 1000)) (hard limit $(ulimit -Hn))" >&2
        FAILURES=$((FAILURES + 1))
        return 0
    fi
    ulimit -Sn "$(ulimit -Hn)"
    out="$BENCH_STATE/streams.out"
    API_PID="$(scripts/stack.sh pid api)" node bench/streams.mjs idle "$steps" >"$out" &
    holder=$!
    until grep -q '^ready$' "$out"; do
        if ! kill -0 "$holder" 2>/dev/null || ((tries++ > 3000)); then
            cat "$out" >&2
            echo "bench.sh: bench/streams.mjs idle failed" >&2
            kill "$holder" 2>/dev/null || true
            FAILURES=$((FAILURES + 1))
            return 0
        fi
        sleep 0.1
    done
    read -r _ p50 p99 _ <<<"$(node bench/streams.mjs latency 200)"
    kill -TERM "$holder"
    wait "$holder" || true
    while read -r n kib; do
        [[ $n != ready ]] || continue
        if [[ $n == 0 ]]; then
            base_kib=$kib
            ROWS+=("| api RSS with no stream open | $(fmt $((kib / 1024))) MiB | — | — |")
        else
            ROWS+=("| api RSS with $(fmt "$n") idle streams (+$(fmt $(((kib - base_kib) / 1024))) MiB over none) | $(fmt $(((kib - prev_kib) * 1000 / (n - prev)))) KiB per 1,000 streams ($(fmt "$prev")→$(fmt "$n")) | — | — |")
        fi
        prev=$n
        prev_kib=$kib
    done <"$out"
    ROWS+=("| accept → delivered on a stream through nginx (202 answer to its event; 200 writes one after another), $(fmt "$max") idle streams open (held by another process) | p50 $p50 ms, p99 $p99 ms | — | — |")
    read -r _ p50 p99 _ <<<"$(node bench/streams.mjs latency 200)"
    ROWS+=("| accept → delivered on a stream through nginx, no other stream open | p50 $p50 ms, p99 $p99 ms | — | — |")
}

# ==== CPU per operation, by component (bench/cpu.sh) =====================================
# Each load runs between cpu_start and cpu_stop; the rows are printed by cpu_table after the
# main table. Acceptance is measured with the workers stopped (nginx, the api and Redis only),
# then the queue it left plus BENCH_EVENTS / 2 events over 64 groups is applied by 2 workers
# started inside the window (Redis, the workers, PostgreSQL only).

# wrk_counts URL [WRK ARGS...]: run wrk --latency; prints "requests non2xx rate p50 p99".
wrk_counts() {
    local url=$1 out
    shift
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" 2>&1)" || {
        echo "$out" >&2
        echo "0 0 0 ? ?"
        return 0
    }
    awk '/ requests in / { n = $1 } /Non-2xx or 3xx responses:/ { bad = $NF }
         /^Requests\/sec:/ { rate = $2 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
         END { printf "%d %d %.0f %s %s\n", n, bad, rate, p50 ? p50 : "?", p99 ? p99 : "?" }' <<<"$out"
}

# not_2xx COUNT: ", COUNT not 2xx!" when COUNT is not 0.
not_2xx() {
    [[ $1 == 0 ]] || echo ", $1 not 2xx!"
}

bench_cpu() {
    local base="http://127.0.0.1:$HTTP_PORT" lua="$BENCH_STATE/cpu-expense.lua" n bad rate p50 p99
    local events=$((${BENCH_EVENTS:-40000} / 2)) file="$BENCH_STATE/cpu-events.resp" queued
    eval "$(node bench/reads.mjs setup)"
    eval "$(node bench/ledger.mjs setup)"
    expense_lua "$lua"
    # One write applied first, so that the group's view is cached: the api checks access there.
    curl -fsS -o /dev/null -H "Authorization: Bearer $BENCH_TOKEN" -H 'Content-Type: application/json' \
        -H 'Prefer: wait=10' --data-binary "@$BENCH_BODY_FILE" "$base/api/v1/groups/$BENCH_GROUP/expenses"

    cpu_start
    read -r n bad rate p50 p99 <<<"$(wrk_counts "$base/api/ping")"
    cpu_stop "$n" "GET /api/ping through nginx ($(fmt "$rate")/s, p99 $p99)"

    cpu_start
    read -r n bad rate p50 p99 <<<"$(wrk_counts "$base/api/v1/groups/$READ_GROUP/balances" \
        -H "Authorization: Bearer $READ_TOKEN")"
    cpu_stop "$n" "cached balance read through nginx ($(fmt "$rate")/s, p99 $p99$(not_2xx "$bad"))"

    cpu_start
    read -r n bad rate p50 p99 <<<"$(wrk_counts "$base/api/v1/groups/$READ_GROUP/settlements" \
        -H "Authorization: Bearer $READ_TOKEN")"
    cpu_stop "$n" "cached settlement read through nginx ($(fmt "$rate")/s, p99 $p99$(not_2xx "$bad"))"

    cpu_start
    read -r n bad rate p50 p99 <<<"$(wrk_counts "$base/api/v1/groups/$READ_GROUP/expenses?limit=50" \
        -H "Authorization: Bearer $READ_TOKEN")"
    cpu_stop "$n" "page of expenses (5 of 5) through nginx ($(fmt "$rate")/s, p99 $p99$(not_2xx "$bad"))"

    scripts/stack.sh stop-workers >/dev/null
    cpu_start
    read -r n bad rate p50 p99 <<<"$(wrk_counts "$base/api/v1/groups/$BENCH_GROUP/expenses" -s "$lua")"
    cpu_stop $((n - bad)) "expense write accepted through nginx, workers stopped ($(fmt "$rate")/s, p99 $p99$(not_2xx "$bad"))"

    queued=$((n - bad + events))
    node bench/ledger.mjs events "$events" "$file"
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --pipe <"$file" >/dev/null
    cpu_start
    WORKERS=2 scripts/stack.sh up >/dev/null
    if ! WORKERS=2 node bench/ledger.mjs wait-applied "$queued"; then
        echo "bench.sh: 2 workers did not apply $queued events in 10 minutes" >&2
        FAILURES=$((FAILURES + 1))
    fi
    cpu_stop "$queued" "ledger event applied, 2 workers started on a queue of $(fmt "$queued")"
}
# ==== end of CPU per operation ===========================================================

# ==== mixed load: 90 % reads, 10 % writes over many groups (bench/mixed.mjs) ==============
# BENCH_GROUPS groups (1000), BENCH_CONNECTIONS kept-alive connections, BENCH_DURATION seconds
# per run, with 1, 2 and 4 workers (each run's CPU by component through bench/cpu.sh). node, not
# wrk: wrk's Lua has no per-request clock to give each kind's p50 and p99.

MIXED_ROWS=()

bench_mixed() {
    local file="$BENCH_STATE/mixed.json" k kind rate p50 p99 errors total out
    node bench/mixed.mjs setup "${BENCH_GROUPS:-1000}" "$file"
    for k in 1 2 4; do
        scripts/stack.sh stop-workers >/dev/null
        WORKERS=$k scripts/stack.sh up >/dev/null
        leases_settled "$k"
        cpu_start
        out="$(node bench/mixed.mjs run "$file" "$DURATION" "$CONNECTIONS")"
        total="$(awk '{ n += $2 } END { print n }' <<<"$out")"
        cpu_stop "$total" "mixed load, $k worker(s): one request (90 % reads, 10 % writes)"
        while read -r kind _ rate p50 p99 errors; do
            MIXED_ROWS+=("| $k | ${kind/_/ } | $(fmt "$rate")/s | $p50 ms | $p99 ms | $errors |")
        done <<<"$out"
        MIXED_ROWS+=("| $k | **all** | **$(fmt "$(awk -v n="$total" -v s="$DURATION" 'BEGIN { print n / s }')")/s** | | | |")
        drain_streams
    done
    scripts/stack.sh stop-workers >/dev/null
    WORKERS=2 scripts/stack.sh up >/dev/null
}

mixed_table() {
    md_table "Mixed load: ${BENCH_GROUPS:-1000} groups, $CONNECTIONS connections, ${DURATION}s per run, 30 % balances, 30 % settlements, 30 % pages of 50 expenses, 10 % expense writes (node client):" \
        "workers|kind|throughput|p50|p99|errors" "${MIXED_ROWS[@]}"
}
# ==== end of the mixed load ==============================================================

# ==== cost curves: how a read's and a write's cost grows with the work (bench/curves.mjs) ===
# Groups seeded straight into PostgreSQL (bench/seed_group.sql); one request at a time through
# nginx, median of 5 (curl, connection included), the view deleted before each cold read.
# BENCH_CURVE_EXPENSES (1000 10000 100000), BENCH_CURVE_MEMBERS (10 100 1000 10000),
# BENCH_CURVE_SPLITS (2 20 200).

CURVE_ROWS=()

# curve_ms URL TOKEN [VIEW_GID]: median ms of 5 GETs; with VIEW_GID, its view deleted before each.
# Answers other than 200 are named after the figure.
curve_ms() {
    local url=$1 token=$2 gid=${3:-} i code ms t=() bad=""
    for i in 1 2 3 4 5; do
        [[ -z $gid ]] || redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" DEL "splitter:view:$gid" >/dev/null
        read -r code ms < <(curl -s -o /dev/null -H "Authorization: Bearer $token" \
            -w '%{http_code} %{time_total}\n' "$url")
        t+=("$(awk -v s="$ms" 'BEGIN { printf "%.2f", s * 1000 }')")
        [[ $code == 200 ]] || bad+=" $code"
    done
    echo "$(median "${t[@]}") ms${bad:+ (answers not 200:$bad!)}"
}

# curve_seed MEMBERS EXPENSES: a new group seeded so; sets CURVE_* (bench/curves.mjs).
curve_seed() {
    eval "$(node bench/curves.mjs group 1 "$BENCH_STATE")"
    pg_exec -v gid="$CURVE_GROUP" -v uid="$CURVE_USER" -v members="$1" -v expenses="$2" \
        -f bench/seed_group.sql >/dev/null
}

bench_curves() {
    local base="http://127.0.0.1:$HTTP_PORT" n g cursor page1 page2 bytes lua n_req bad rate p50 p99
    local accept apply queued
    for n in ${BENCH_CURVE_EXPENSES:-1000 10000 100000}; do
        curve_seed 10 "$n"
        g="$base/api/v1/groups/$CURVE_GROUP"
        page1="$(curve_ms "$g/expenses?limit=50" "$CURVE_TOKEN")"
        cursor="$(curl -s -H "Authorization: Bearer $CURVE_TOKEN" "$g/expenses?limit=50" |
            sed -n 's/.*"next_cursor":"\([^"]*\)".*/\1/p')"
        page2="$(curve_ms "$g/expenses?limit=50&cursor=$cursor" "$CURVE_TOKEN")"
        CURVE_ROWS+=("| expenses in one group (10 members) | $(fmt "$n") | balances cold $(curve_ms "$g/balances" "$CURVE_TOKEN" "$CURVE_GROUP"), cached $(curve_ms "$g/balances" "$CURVE_TOKEN"); first page of 50 expenses $page1, second (cursor) $page2 |")
    done
    for n in ${BENCH_CURVE_MEMBERS:-10 100 1000 10000}; do
        curve_seed "$n" 20
        g="$base/api/v1/groups/$CURVE_GROUP"
        bytes="$(curl -s -H "Authorization: Bearer $CURVE_TOKEN" "$g/settlements" | wc -c)"
        CURVE_ROWS+=("| members of one group (20 expenses, every balance non-zero) | $(fmt "$n") | settlements cold $(curve_ms "$g/settlements" "$CURVE_TOKEN" "$CURVE_GROUP"), cached $(curve_ms "$g/settlements" "$CURVE_TOKEN") ($(fmt "$bytes") bytes) |")
    done
    # Accepting and applying an expense split between n members: accepted with the workers
    # stopped (nginx, api, Redis), then applied by 2 workers (Redis, workers, PostgreSQL); CPU
    # per write of the whole stack from bench/cpu.sh.
    lua="$BENCH_STATE/curve-expense.lua"
    for n in ${BENCH_CURVE_SPLITS:-2 20 200}; do
        eval "$(node bench/curves.mjs group "$n" "$BENCH_STATE")"
        BENCH_TOKEN=$CURVE_TOKEN BENCH_BODY_FILE=$CURVE_BODY expense_lua "$lua"
        scripts/stack.sh stop-workers >/dev/null
        cpu_start
        read -r n_req bad rate p50 p99 <<<"$(wrk_counts "$base/api/v1/groups/$CURVE_GROUP/expenses" -s "$lua")"
        cpu_stop $((n_req - bad)) "expense split between $n accepted through nginx, workers stopped ($(fmt "$rate")/s, p99 $p99$(not_2xx "$bad"))"
        accept="${CPU_US[stack]}"
        queued=$((n_req - bad))
        cpu_start
        WORKERS=2 scripts/stack.sh up >/dev/null
        WORKERS=2 node bench/ledger.mjs wait-applied "$queued" ||
            { echo "bench.sh: the split-$n writes were not applied" >&2; FAILURES=$((FAILURES + 1)); }
        cpu_stop "$queued" "expense split between $n applied, 2 workers started on the queue (one group)"
        apply="${CPU_US[stack]}"
        CURVE_ROWS+=("| members an expense is split between | $n | accepted $(fmt "$rate")/s through nginx (p99 $p99), stack CPU $accept µs a write; applied $(awk -v n="$queued" -v s="${CPU_US[seconds]}" 'BEGIN { printf "%.0f", n / s }')/s (one group: one worker), stack CPU $apply µs an event |")
    done
}

curve_table() {
    md_table "Cost curves (one request at a time through nginx, median of 5 unless a rate):" \
        "grows with|n|cost" "${CURVE_ROWS[@]}"
}
# ==== end of the cost curves ==============================================================

# ==== the capacity model checked: applied events with 1, 2, 4 workers and fewer partitions ==
# Each run: BENCH_EVENTS / 2 events over 64 groups queued while the workers are stopped, then
# k workers started on them (the clock and bench/cpu.sh from their start until all are applied).
# The last run lowers SPLITTER_PARTITIONS to 2 (api and workers restarted; the streams are
# empty between runs): 4 workers, of which only 2 can own a partition. docs/SCALING.md predicts
# each rate from the CPU per event of the 1-worker run.

SCALING_ROWS=()

bench_scaling() {
    local n=$((${BENCH_EVENTS:-40000} / 2)) run k p file rate c1 predicted
    for run in 1:16 2:16 4:16 4:2; do
        k=${run%%:*}
        p=${run##*:}
        file="$BENCH_STATE/scaling-$k-$p.resp"
        scripts/stack.sh stop-workers >/dev/null
        if [[ $p != "${SPLITTER_PARTITIONS:-16}" ]]; then
            scripts/stack.sh stop api >/dev/null
            SPLITTER_PARTITIONS=$p scripts/stack.sh up >/dev/null
            scripts/stack.sh stop-workers >/dev/null
        fi
        SPLITTER_PARTITIONS=$p node bench/ledger.mjs events "$n" "$file"
        redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --pipe <"$file" >/dev/null
        cpu_start
        SPLITTER_PARTITIONS=$p WORKERS=$k scripts/stack.sh up >/dev/null
        if ! WORKERS=$k node bench/ledger.mjs wait-applied "$n"; then
            echo "bench.sh: $k worker(s) did not apply $n events" >&2
            FAILURES=$((FAILURES + 1))
        fi
        cpu_stop "$n" "ledger event applied, $k worker(s) started on $(fmt "$n") queued, $p partitions"
        rate="$(awk -v n="$n" -v s="${CPU_US[seconds]}" 'BEGIN { printf "%.0f", n / s }')"
        [[ $run != 1:16 ]] || c1=${CPU_US[stack]}
        # The model: min(workers, partitions, cores) streams of work, each event costing the
        # 1-worker run's stack CPU; one worker is bounded by its own serial path at that cost.
        predicted="$(awk -v k="$k" -v p="$p" -v c="$(nproc)" -v us="$c1" \
            'BEGIN { m = k; if (p < m) m = p; if (c < m) m = c; printf "%.0f", m * 1e6 / us }')"
        SCALING_ROWS+=("| $k | $p | $(fmt "$rate")/s | ${CPU_US[stack]} µs | $(fmt "$predicted")/s | $(awk -v a="$rate" -v b="$predicted" 'BEGIN { printf "%+.0f %%", 100 * (a - b) / b }') | ${CPU_US[other]} % |")
    done
    scripts/stack.sh stop-workers >/dev/null
    scripts/stack.sh stop api >/dev/null
    WORKERS=2 scripts/stack.sh up >/dev/null
}

scaling_table() {
    md_table "Applied events by workers and partitions, beside the capacity model (docs/SCALING.md):" \
        "workers|partitions|applied|stack CPU per event|predicted|error|other work on the machine" \
        "${SCALING_ROWS[@]}"
}
# ==== end of the capacity model check =====================================================

STACK_BENCHMARKS=(
    bench_proxy_overhead
    bench_balance_reads
    bench_balance_10k
    bench_write_acceptance
    bench_replica_wait
    bench_applied_events
    bench_lag
    bench_streams
    bench_cpu
    bench_mixed
    bench_curves
    bench_scaling
)
# ==== end of the stack benchmarks ========================================================

run_bench_binaries() {
    local bin
    for bin in "$BUILD"/bench/*; do
        [[ -f $bin && -x $bin ]] || continue
        echo "## $(basename "$bin")"
        echo
        if ! "$bin"; then
            echo "bench.sh: $bin failed" >&2
            FAILURES=$((FAILURES + 1))
        fi
        echo
    done
}

main() {
    command -v wrk >/dev/null || die "wrk is missing: run scripts/deps.sh"
    BENCH_STATE="$(mktemp -d "${TMPDIR:-/tmp}/splitter-bench.XXXXXX")"
    chmod 0711 "$BENCH_STATE"
    trap finish EXIT
    trap 'exit 130' INT TERM
    private_stack_env "$BENCH_STATE"
    export WORKERS="${WORKERS:-2}"
    # Room for bench_streams' largest count (and its latency stream) under the api's cap.
    export STREAM_MAX="${STREAM_MAX:-20000}"
    scripts/stack.sh up
    eval "$(scripts/stack.sh env | sed 's/^/export /')"
    export BASE_URL="http://127.0.0.1:$HTTP_PORT" STACK_STATE_DIR="$BENCH_STATE"
    export PGPASSWORD="$POSTGRES_PASSWORD"

    [[ -n ${BENCH_ONLY:-} ]] || run_bench_binaries

    echo "## Stack ($(nproc) cores; wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s; load generator on the same machine)"
    echo
    measure_raw_limits
    local b
    for b in "${STACK_BENCHMARKS[@]}"; do
        [[ -z ${BENCH_ONLY:-} || " $BENCH_ONLY " == *" $b "* ]] && "$b"
    done
    echo "| what | figure | raw limit | ratio |"
    echo "|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    mixed_table
    curve_table
    scaling_table
    cpu_table
    finish
    [[ $FAILURES -eq 0 ]] || die "$FAILURES benchmark(s) failed"
}

main "$@"

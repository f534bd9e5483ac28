#!/usr/bin/env bash
# Test runner: scripts/test.sh SECTION... with SECTION one of
#
#   unit    every $BUILD/tests/test_* (Check) and every tests/cases/<name>/run.sh golden-file
#           runner, which is called with $BUILD/bin/<name> and ends with "N passed, M failed"
#   static  every tests/static/*.sh (fast checks of files: configs, containers), each ending
#           with "N passed, M failed"
#   e2e     a private stack (temporary STATE_DIR, random free ports, WORKERS=2, no .env) and
#           node's test runner on tests/e2e/*.test.mjs; the stack is always stopped afterwards.
#           In the same stack, tests/browser/*.test.mjs drive the web client in Debian's
#           chromium (playwright-core) and count as their own section, "browser" (skipped
#           under SANITIZE/VALGRIND and with BROWSER=0)
#   faults  tests/faults/*.test.mjs one at a time: each starts its own stacks (1 to 4 workers)
#           and kills or restarts their parts under load
#   chaos   tests/chaos/*.test.mjs (`make chaos`): one fault per test on its own stack under a
#           retried write load, then the checker's line per fault ("chaos NAME: ..."), repeated
#           together after the run
#   failover  tests/failover/*.test.mjs (`make failover`): the chaos load through a Redis
#           Sentinel failover and a PostgreSQL promotion, each on its own stack with replicas
#
# Each section prints "<section>: N passed, M failed"; the last line is the total alone,
# "N passed, M failed". Exit status 1 if anything failed or could not run.
#
# Environment: BUILD (default build), SANITIZE=1 (ASan/UBSan build: leak checks, sanitizer
# logs fail the e2e section), VALGRIND=1 (unit tests, api and workers under valgrind, gating
# on definite leaks and errors).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SPLITTER_ROOT"

BUILD="${BUILD:-build}"
[[ $BUILD == /* ]] || BUILD="$SPLITTER_ROOT/$BUILD"
SANITIZE="${SANITIZE:-0}"
VALGRIND="${VALGRIND:-0}"
export BUILD SANITIZE VALGRIND

VALGRIND_ARGS=(--leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=30)
TOTAL_PASSED=0
TOTAL_FAILED=0

# section_result NAME PASSED FAILED: print the section line and add to the totals.
section_result() {
    echo "$1: $2 passed, $3 failed"
    TOTAL_PASSED=$((TOTAL_PASSED + $2))
    TOTAL_FAILED=$((TOTAL_FAILED + $3))
}

# summary_counts FILE: print "PASSED FAILED" from the last "N passed, M failed" line of FILE.
summary_counts() {
    local line
    line="$(grep -E '(^|[[:space:]])[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)" || return 1
    [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]] || return 1
    echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
}

# run_counted NAME OUTFILE CMD...: run CMD with its output shown and saved to OUTFILE; sets
# RC to its exit status.
run_counted() {
    local name=$1 out=$2
    shift 2
    echo "== $name"
    set +e
    "$@" 2>&1 | tee "$out"
    RC=${PIPESTATUS[0]}
    set -e
}

# --- unit ---------------------------------------------------------------------------------

run_check_binary() {
    local bin=$1 out=$2 name
    name="$(basename "$bin")"
    local -a cmd=("$bin")
    if [[ $VALGRIND == 1 ]]; then
        cmd=(valgrind "${VALGRIND_ARGS[@]}" "--log-file=$out.valgrind" "$bin")
    fi
    run_counted "$name" "$out" env CK_FORK="${CK_FORK:-$([[ $VALGRIND == 1 || $SANITIZE == 1 ]] && echo no || echo yes)}" "${cmd[@]}"
    if [[ $VALGRIND == 1 && -s $out.valgrind ]] && ! grep -q 'ERROR SUMMARY: 0 errors' "$out.valgrind"; then
        cat "$out.valgrind"
    fi
}

section_unit() {
    local passed=0 failed=0 tmp bin line checks f e name runner counts
    tmp="$(mktemp -d)"
    local -a bins=()
    for bin in "$BUILD"/tests/test_*; do
        [[ -f $bin && -x $bin ]] && bins+=("$bin")
    done
    local -a srcs=(tests/unit/test_*.c)
    if [[ ${#bins[@]} -eq 0 && -e ${srcs[0]} ]]; then
        echo "unit: no test binaries in $BUILD/tests although tests/unit has sources: build first" >&2
        failed=$((failed + 1))
    fi
    if [[ $SANITIZE == 1 ]]; then
        export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
        export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    fi
    for bin in "${bins[@]}"; do
        name="$(basename "$bin")"
        run_check_binary "$bin" "$tmp/$name.out"
        line="$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$tmp/$name.out" | tail -n 1)" || true
        if [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
            checks=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} e=${BASH_REMATCH[3]}
            passed=$((passed + checks - f - e))
            failed=$((failed + f + e))
            if [[ $RC -ne 0 && $((f + e)) -eq 0 ]]; then
                echo "unit: $name exited with status $RC after passing its checks (leak or memory error?)" >&2
                failed=$((failed + 1))
            fi
        else
            echo "unit: $name printed no Check summary (exit status $RC)" >&2
            failed=$((failed + 1))
        fi
    done
    for runner in tests/cases/*/run.sh; do
        [[ -f $runner ]] || continue
        name="$(basename "$(dirname "$runner")")"
        if [[ ! -x $BUILD/bin/$name ]]; then
            echo "unit: $runner needs $BUILD/bin/$name, which is missing" >&2
            failed=$((failed + 1))
            continue
        fi
        run_counted "cases/$name" "$tmp/cases-$name.out" bash "$runner" "$BUILD/bin/$name"
        if counts="$(summary_counts "$tmp/cases-$name.out")"; then
            read -r f e <<<"$counts"
            passed=$((passed + f))
            failed=$((failed + e))
            if [[ $RC -ne 0 && $e -eq 0 ]]; then
                echo "unit: $runner exited with status $RC" >&2
                failed=$((failed + 1))
            fi
        else
            echo "unit: $runner printed no 'N passed, M failed' line (exit status $RC)" >&2
            failed=$((failed + 1))
        fi
    done
    rm -rf "$tmp"
    section_result unit "$passed" "$failed"
}

# --- static -------------------------------------------------------------------------------

section_static() {
    local passed=0 failed=0 tmp script name counts p f
    tmp="$(mktemp -d)"
    for script in tests/static/*.sh; do
        [[ -f $script ]] || continue
        name="$(basename "$script" .sh)"
        run_counted "static/$name" "$tmp/$name.out" bash "$script"
        if counts="$(summary_counts "$tmp/$name.out")"; then
            read -r p f <<<"$counts"
            passed=$((passed + p))
            failed=$((failed + f))
            if [[ $RC -ne 0 && $f -eq 0 ]]; then
                echo "static: $script exited with status $RC" >&2
                failed=$((failed + 1))
            fi
        else
            echo "static: $script printed no 'N passed, M failed' line (exit status $RC)" >&2
            failed=$((failed + 1))
        fi
    done
    rm -rf "$tmp"
    section_result static "$passed" "$failed"
}

# --- e2e ----------------------------------------------------------------------------------

E2E_STATE=""
E2E_PASSED=0
E2E_FAILED=0

# e2e_checks_after_down: sanitizer and valgrind reports of api and workers.
e2e_checks_after_down() {
    local f
    local -a reports=()
    if [[ $SANITIZE == 1 ]]; then
        for f in "$E2E_STATE"/logs/asan* "$E2E_STATE"/logs/ubsan*; do
            [[ -s $f ]] && reports+=("$f")
        done
        if [[ ${#reports[@]} -gt 0 ]]; then
            for f in "${reports[@]}"; do
                echo "----- sanitizer report ${f##*/} -----"
                cat "$f"
            done
            echo "e2e: sanitizer reports from api/worker (above)" >&2
            E2E_FAILED=$((E2E_FAILED + 1))
        fi
    fi
    # The worker's JSON region (worker/arena.c) is recycled only when every value of a batch
    # was freed; a value that outlives its batch is reported once. Off under ASan (which sees
    # such a leak itself), so this checks the ordinary build.
    for f in "$E2E_STATE"/logs/worker-*.log; do
        if [[ -e $f ]] && grep -q 'outlived their batch' "$f"; then
            grep 'outlived their batch' "$f"
            echo "e2e: a JSON value outlived its batch in ${f##*/}" >&2
            E2E_FAILED=$((E2E_FAILED + 1))
        fi
    done
    if [[ $VALGRIND == 1 ]]; then
        for f in "$E2E_STATE"/logs/valgrind-*.log; do
            [[ -e $f ]] || continue
            if ! grep -q 'ERROR SUMMARY: 0 errors' "$f"; then
                echo "----- ${f##*/} -----"
                cat "$f"
                echo "e2e: valgrind found errors or definite leaks, or the process did not exit cleanly (${f##*/})" >&2
                E2E_FAILED=$((E2E_FAILED + 1))
            fi
        done
    fi
}

# e2e_finish: stop the private stack, check the reports, keep the logs if anything failed,
# remove the state directory. Runs on every exit path.
e2e_finish() {
    [[ -n $E2E_STATE ]] || return 0
    scripts/stack.sh down || E2E_FAILED=$((E2E_FAILED + 1))
    e2e_checks_after_down
    if [[ $E2E_FAILED -gt 0 && -d $E2E_STATE/logs ]]; then
        local keep f
        keep="tests/artifacts/e2e-$(date -u +%Y%m%dT%H%M%SZ)-$$"
        mkdir -p "$keep"
        cp -r "$E2E_STATE/logs/." "$keep/"
        for f in "$E2E_STATE"/logs/api.log "$E2E_STATE"/logs/worker-*.log; do
            [[ -s $f ]] || continue
            echo "----- ${f##*/} (last 30 lines) -----"
            tail -n 30 "$f"
        done
        echo "e2e: logs kept in $keep"
    fi
    rm -rf "$E2E_STATE"
    E2E_STATE=""
}

# tap_count FILE KEY: the number on the last "# KEY N" line of a TAP file (0 if none).
tap_count() {
    local n
    n="$(sed -n "s/^# $2 \([0-9][0-9]*\)$/\1/p" "$1" | tail -n 1)"
    echo "${n:-0}"
}

# e2e_browser: tests/browser/*.test.mjs against the e2e stack, one file at a time (one
# chromium); playwright-core is installed by `npm ci` when missing or stale. Screenshots go to
# tests/artifacts/screenshots/.
BROWSER_RAN=0
BROWSER_PASSED=0
BROWSER_FAILED=0
e2e_browser() {
    [[ ${BROWSER:-1} == 1 && $SANITIZE != 1 && $VALGRIND != 1 ]] || return 0
    local -a files=()
    local f
    if [[ -n ${E2E_FILES:-} ]]; then
        for f in $E2E_FILES; do
            [[ $f != tests/browser/* ]] || files+=("$f")
        done
    else
        mapfile -t files < <(find tests/browser -maxdepth 1 -type f -name '*.test.mjs' 2>/dev/null | sort)
    fi
    [[ ${#files[@]} -gt 0 ]] || return 0
    BROWSER_RAN=1
    local dir=tests/browser tap="$E2E_STATE/browser.tap" rc fail
    if [[ ! -f $dir/node_modules/.package-lock.json || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
        echo "browser: installing the npm packages of $dir (npm ci)"
        if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
            echo "browser: npm ci failed in $dir (is the npm registry reachable?)" >&2
            BROWSER_FAILED=1
            return 0
        fi
    fi
    if [[ ! -x ${CHROMIUM_PATH:-/usr/bin/chromium} ]]; then
        echo "browser: ${CHROMIUM_PATH:-/usr/bin/chromium} is missing: run scripts/deps.sh" >&2
        BROWSER_FAILED=1
        return 0
    fi
    set +e
    timeout "${BROWSER_TIMEOUT:-900}" node --test --test-concurrency=1 --test-reporter=spec \
        --test-reporter-destination=stdout --test-reporter=tap \
        --test-reporter-destination="$tap" "${files[@]}"
    rc=$?
    set -e
    BROWSER_PASSED="$(tap_count "$tap" pass)"
    fail=$(($(tap_count "$tap" fail) + $(tap_count "$tap" cancelled)))
    if [[ $rc -ne 0 && $fail -eq 0 ]]; then
        echo "browser: node --test exited with status $rc" >&2
        fail=1
    fi
    BROWSER_FAILED=$fail
}

section_e2e() {
    E2E_PASSED=0
    E2E_FAILED=0
    local ef
    for ef in ${E2E_FILES:-}; do
        [[ -f $ef ]] || die "e2e: no such file '$ef'"
    done
    E2E_STATE="$(mktemp -d "${TMPDIR:-/tmp}/splitter-e2e.XXXXXX")"
    chmod 0711 "$E2E_STATE" # PostgreSQL runs as postgres and must reach its data directory
    trap 'e2e_finish' EXIT
    private_stack_env "$E2E_STATE"
    export WORKERS=2
    # Live-update streams: heartbeats every second and a small cap, so the tests see both.
    export STREAM_HEARTBEAT_MS=1000 STREAM_MAX=12
    # Browser clients of one other origin may call the api (tests/e2e/cors.test.mjs).
    export CORS_ALLOWED_ORIGINS="https://client.example http://127.0.0.1:5173"
    # Webhooks (tests/e2e/webhooks.test.mjs): receivers on loopback over http (never the
    # default), quick retries within a short window, and a short timeout for the slow receiver.
    export WEBHOOKS_ALLOW_INSECURE=1 WEBHOOKS_RETRY_BASE_MS=200 WEBHOOKS_RETRY_WINDOW_MS=4000
    export WEBHOOKS_TIMEOUT_MS=2000 WEBHOOKS_POLL_MS=100
    # A private CA the workers trust for https receivers; the test signs its receivers'
    # certificates with it (the key stays in the state directory).
    mkdir -p "$E2E_STATE/webhooks"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=splitter e2e webhook CA" -keyout "$E2E_STATE/webhooks/ca-key.pem" \
        -out "$E2E_STATE/webhooks/ca.pem" 2>/dev/null || die "e2e: cannot make the webhook test CA"
    export WEBHOOKS_CA_FILE="$E2E_STATE/webhooks/ca.pem"
    if [[ $SANITIZE == 1 ]]; then
        export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$E2E_STATE/logs/asan"
        export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$E2E_STATE/logs/ubsan"
    fi
    echo "== e2e stack: http://127.0.0.1:$HTTP_PORT/ (state $E2E_STATE)"
    if ! scripts/stack.sh up; then
        echo "e2e: the stack did not come up" >&2
        E2E_FAILED=$((E2E_FAILED + 1))
        e2e_finish
        trap - EXIT
        section_result e2e "$E2E_PASSED" "$E2E_FAILED"
        return 0
    fi
    # Everything a test may need to poke the services directly.
    eval "$(scripts/stack.sh env | sed 's/^/export /')"
    export BASE_URL="http://127.0.0.1:$HTTP_PORT" STACK_STATE_DIR="$E2E_STATE"
    export PGPASSWORD="$POSTGRES_PASSWORD"

    # E2E_FILES (`make e2e FILE=...`): only these files (tests/e2e/serial/ ones run serially as
    # below, tests/browser/ ones in chromium); else every file.
    local -a files=() serial=()
    local f
    if [[ -n ${E2E_FILES:-} ]]; then
        for f in $E2E_FILES; do
            case $f in
                tests/e2e/serial/*) serial+=("$f") ;;
                tests/browser/*) ;; # e2e_browser runs these
                *) files+=("$f") ;;
            esac
        done
    else
        mapfile -t files < <(find tests/e2e -maxdepth 1 -type f \( -name '*.test.mjs' -o -name '*.test.js' \) | sort)
        mapfile -t serial < <(find tests/e2e/serial -maxdepth 1 -type f -name '*.test.mjs' 2>/dev/null | sort)
    fi
    if [[ -n ${E2E_FILES:-} && ${#files[@]} -eq 0 ]]; then
        :
    elif [[ ${#files[@]} -eq 0 ]]; then
        local code
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE_URL/api/health" || true)"
        if [[ $code == 200 ]]; then
            echo "ok - GET /api/health through nginx answers 200 (no tests in tests/e2e yet)"
            E2E_PASSED=1
        else
            echo "not ok - GET /api/health through nginx answered $code"
            E2E_FAILED=1
        fi
    else
        local tap="$E2E_STATE/e2e.tap" rc pass fail cancelled
        set +e
        timeout "${E2E_TIMEOUT:-1200}" node --test --test-reporter=spec --test-reporter-destination=stdout \
            --test-reporter=tap --test-reporter-destination="$tap" "${files[@]}"
        rc=$?
        set -e
        pass="$(tap_count "$tap" pass)"
        fail="$(tap_count "$tap" fail)"
        cancelled="$(tap_count "$tap" cancelled)"
        E2E_PASSED=$((E2E_PASSED + pass))
        E2E_FAILED=$((E2E_FAILED + fail + cancelled))
        if [[ $rc -ne 0 && $((fail + cancelled)) -eq 0 ]]; then
            echo "e2e: node --test exited with status $rc" >&2
            E2E_FAILED=$((E2E_FAILED + 1))
        fi
    fi
    e2e_browser
    # tests/e2e/serial/ stops parts of the shared stack (Redis): after the files above, one
    # file at a time, so nothing else runs meanwhile.
    if [[ ${#serial[@]} -gt 0 ]]; then
        local stap="$E2E_STATE/e2e-serial.tap" src
        set +e
        timeout "${E2E_TIMEOUT:-1200}" node --test --test-concurrency=1 --test-reporter=spec \
            --test-reporter-destination=stdout --test-reporter=tap \
            --test-reporter-destination="$stap" "${serial[@]}"
        src=$?
        set -e
        E2E_PASSED=$((E2E_PASSED + $(tap_count "$stap" pass)))
        E2E_FAILED=$((E2E_FAILED + $(tap_count "$stap" fail) + $(tap_count "$stap" cancelled)))
        if [[ $src -ne 0 && $(($(tap_count "$stap" fail) + $(tap_count "$stap" cancelled))) -eq 0 ]]; then
            echo "e2e: node --test (serial) exited with status $src" >&2
            E2E_FAILED=$((E2E_FAILED + 1))
        fi
    fi
    e2e_finish
    trap - EXIT
    section_result e2e "$E2E_PASSED" "$E2E_FAILED"
    [[ $BROWSER_RAN == 0 ]] || section_result browser "$BROWSER_PASSED" "$BROWSER_FAILED"
}

# --- faults and chaos ---------------------------------------------------------------------

# node_files LIMIT FILE...: node's test runner on FILE..., one file at a time (each starts its
# own stacks and kills or restarts their parts, so their load is theirs alone), stopped after
# LIMIT seconds. Sets NODE_PASSED and NODE_FAILED from its TAP counts (cancelled tests and a
# failed run without a failed test count as failures).
node_files() {
    local limit=$1 tmp tap rc
    shift
    NODE_PASSED=0
    NODE_FAILED=0
    [[ $# -gt 0 ]] || return 0
    tmp="$(mktemp -d)"
    tap="$tmp/run.tap"
    set +e
    BUILD="$BUILD" timeout "$limit" node --test --test-concurrency=1 \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" "$@"
    rc=$?
    set -e
    NODE_PASSED="$(tap_count "$tap" pass)"
    NODE_FAILED=$(($(tap_count "$tap" fail) + $(tap_count "$tap" cancelled)))
    if [[ $rc -ne 0 && $NODE_FAILED -eq 0 ]]; then
        echo "node --test $* exited with status $rc" >&2
        NODE_FAILED=1
    fi
    rm -rf "$tmp"
}

# tests/faults/*.test.mjs
section_faults() {
    local -a files=()
    mapfile -t files < <(find tests/faults -maxdepth 1 -type f -name '*.test.mjs' | sort)
    node_files "${FAULTS_TIMEOUT:-1500}" "${files[@]}"
    section_result faults "$NODE_PASSED" "$NODE_FAILED"
}

# checked_section NAME LIMIT: node's test runner on tests/NAME/*.test.mjs, one file at a time,
# stopped after LIMIT seconds; each test appends the chaos checker's line to $CHAOS_RESULTS, and
# the lines are printed together before the counts.
checked_section() {
    local name=$1 limit=$2 results
    local -a files=()
    mapfile -t files < <(find "tests/$name" -maxdepth 1 -type f -name '*.test.mjs' | sort)
    results="$(mktemp)"
    CHAOS_RESULTS="$results" node_files "$limit" "${files[@]}"
    echo "== $name results"
    cat "$results"
    rm -f "$results"
    section_result "$name" "$NODE_PASSED" "$NODE_FAILED"
}

# tests/chaos/*.test.mjs (`make chaos`).
section_chaos() {
    checked_section chaos "${CHAOS_TIMEOUT:-900}"
}

# tests/failover/*.test.mjs (`make failover`): Redis Sentinel and PostgreSQL streaming
# replication failovers under the chaos suite's load.
section_failover() {
    checked_section failover "${FAILOVER_TIMEOUT:-600}"
}

main() {
    [[ $# -gt 0 ]] || die "usage: scripts/test.sh unit|static|e2e|faults|chaos|failover..."
    local section
    for section in "$@"; do
        case $section in
            unit | static | e2e | faults | chaos | failover) ;;
            *) die "unknown section '$section' (unit, static, e2e, faults, chaos, failover)" ;;
        esac
    done
    for section in "$@"; do
        "section_$section"
    done
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    [[ $TOTAL_FAILED -eq 0 ]]
}

main "$@"

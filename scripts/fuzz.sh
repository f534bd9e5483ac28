#!/usr/bin/env bash
# Run every libFuzzer harness (build/fuzz/fuzz_<name>, built by `make fuzz`) for a bounded time.
#
#   FUZZ_SECONDS=15 scripts/fuzz.sh [NAME...]
#
# Each harness starts from its committed seeds in fuzz/corpus/<name>/, with the dictionary
# fuzz/<name>.dict when there is one, and writes what it finds into a scratch corpus (the
# committed one is only read). ASan+UBSan are built in; leak
# detection is on; an input running over FUZZ_TIMEOUT seconds (default 10) is a failure. A
# crash, leak, timeout or broken invariant fails the harness, and its input is kept in
# build/fuzz/artifacts/ (reproduce: build/fuzz/fuzz_<name> build/fuzz/artifacts/<file>).
# Prints per harness "ok <name>: <runs> runs, <exec/s> exec/s, cov <n>, ft <n>" or
# "FAIL <name>", then "N passed, M failed"; exit status 1 if any failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
FUZZ_DIR="${FUZZ_DIR:-build/fuzz}"
FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-10}"

names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
    for src in fuzz/fuzz_*.c; do
        names+=("$(basename "$src" .c | sed 's/^fuzz_//')")
    done
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$FUZZ_DIR/artifacts"
passed=0
failed=0
for name in "${names[@]}"; do
    bin="$FUZZ_DIR/fuzz_$name"
    seeds="fuzz/corpus/$name"
    log="$scratch/$name.log"
    if [[ ! -x $bin || ! -d $seeds ]]; then
        echo "FAIL $name: $bin or $seeds is missing"
        failed=$((failed + 1))
        continue
    fi
    mkdir -p "$scratch/$name"
    dict=()
    [[ -f fuzz/$name.dict ]] && dict=(-dict="fuzz/$name.dict")
    echo "== fuzz/$name (${FUZZ_SECONDS}s)"
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        "$bin" -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$FUZZ_DIR/artifacts/$name-" "${dict[@]}" \
        "$scratch/$name" "$seeds" >"$log" 2>&1
    rc=$?
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)"
    if [[ $rc -eq 0 && -n $done_line ]]; then
        runs="$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$done_line")"
        cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")"
        ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$done_line")"
        eps="$(sed -nE 's/.* exec\/s: ([0-9]+).*/\1/p' <<<"$done_line")"
        echo "ok $name: $runs runs, $eps exec/s, cov $cov, ft $ft"
        passed=$((passed + 1))
    else
        tail -n 40 "$log"
        echo "FAIL $name: exit status $rc (input kept under $FUZZ_DIR/artifacts/$name-*)"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

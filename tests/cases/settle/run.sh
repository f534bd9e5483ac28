#!/usr/bin/env bash
# Golden-file tests for the settle command.
#
#   tests/cases/settle/run.sh build/bin/settle
#
# Each directory here is a case: input.json goes to stdin. With expected.json
# the command must exit 0 and print exactly that; with exit_code it must exit
# with that status, print nothing on stdout and one line on stderr. Prints
# "ok <case>" or "FAIL <case>: why" per case, then "N passed, M failed";
# exits non-zero if any case failed.
set -u

bin=${1:?usage: $0 path/to/settle}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
# shellcheck source=tests/cases/lib.sh
. "$here/../lib.sh"

check() {
    local dir=$1 status want
    [ -f "$dir/input.json" ] || return 1
    "$bin" < "$dir/input.json" > "$out" 2> "$err"
    status=$?
    if [ -f "$dir/expected.json" ]; then
        if [ "$status" -ne 0 ]; then
            why="exit status $status: $(head -n 1 "$err")"
        elif ! cmp -s "$out" "$dir/expected.json"; then
            why="output differs: $(head -c 200 "$out")"
        fi
    elif [ -f "$dir/exit_code" ]; then
        want=$(tr -d '[:space:]' < "$dir/exit_code")
        if [ "$status" -ne "$want" ]; then
            why="exit status $status, want $want"
        elif [ -s "$out" ]; then
            why="unexpected output on stdout"
        elif [ "$(wc -l < "$err")" -ne 1 ]; then
            why="stderr is not exactly one line"
        fi
    else
        why="neither expected.json nor exit_code"
    fi
}

cases_run "$here" check

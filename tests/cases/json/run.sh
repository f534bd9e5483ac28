#!/usr/bin/env bash
# Golden-file tests for the strict JSON reader, through the json tool.
#
#   tests/cases/json/run.sh build/bin/json
#
# Each directory here is a case: input goes to stdin, and stdout must be exactly expected
# ("valid <document>" or the refusal with its offset and reason); the exit status must be 0
# for a valid document and 1 for a refused one. Prints "ok <case>" or "FAIL <case>: why" per
# case, then "N passed, M failed"; exits non-zero if any case failed.
set -u

bin=${1:?usage: $0 path/to/json}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# shellcheck source=tests/cases/lib.sh
. "$here/../lib.sh"

check() {
    local dir=$1 status want=1
    if [ ! -f "$dir/input" ] || [ ! -f "$dir/expected" ]; then
        why="needs input and expected"
        return 0
    fi
    "$bin" < "$dir/input" > "$out" 2>/dev/null
    status=$?
    if head -c 6 "$dir/expected" | grep -q '^valid '; then
        want=0
    fi
    if [ "$status" -ne "$want" ]; then
        why="exit status $status, want $want"
    elif ! cmp -s "$out" "$dir/expected"; then
        why="output differs: $(head -c 200 "$out")"
    fi
}

cases_run "$here" check

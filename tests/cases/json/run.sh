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
passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for dir in "$here"/*/; do
    dir=${dir%/}
    name=$(basename "$dir")
    why=""
    if [ ! -f "$dir/input" ] || [ ! -f "$dir/expected" ]; then
        why="needs input and expected"
    else
        "$bin" < "$dir/input" > "$out" 2>/dev/null
        status=$?
        want=1
        if head -c 6 "$dir/expected" | grep -q '^valid '; then
            want=0
        fi
        if [ "$status" -ne "$want" ]; then
            why="exit status $status, want $want"
        elif ! cmp -s "$out" "$dir/expected"; then
            why="output differs: $(head -c 200 "$out")"
        fi
    fi
    if [ -z "$why" ]; then
        echo "ok $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name: $why"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

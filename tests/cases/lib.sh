# The loop both golden-file runners share (sourced by tests/cases/*/run.sh).
#
#   cases_run DIR CHECK
#
# calls CHECK with each case directory below DIR. CHECK sets the variable `why` to the reason
# the case failed, or leaves it empty when it passed; it returns non-zero to skip a directory
# that is not a case. Prints "ok <case>" or "FAIL <case>: why" per case, then
# "N passed, M failed"; returns non-zero if any case failed.
cases_run() {
    local here=$1 check=$2 dir name passed=0 failed=0
    for dir in "$here"/*/; do
        dir=${dir%/}
        name=$(basename "$dir")
        why=""
        "$check" "$dir" || continue
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
}

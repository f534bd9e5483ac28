#!/usr/bin/env bash
# Static checks of the monitoring profile's Prometheus configuration, without running it:
#
#   tests/static/prometheus.sh [ROOT]
#
# promtool (Debian package `prometheus`, installed by `make deps`) validates
# prometheus/prometheus.yml; then it must scrape the api and worker services on the ports the
# stack gives them. Last line "N passed, M failed"; exit 1 if any failed.
set -uo pipefail

ROOT="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
CONF="$ROOT/prometheus/prometheus.yml"
passed=0
failed=0

check() {
    local name=$1
    shift
    local out
    if out="$("$@" 2>&1)"; then
        passed=$((passed + 1))
        echo "ok - $name"
    else
        failed=$((failed + 1))
        echo "not ok - $name"
        sed 's/^/    /' <<<"$out"
    fi
}

if command -v promtool >/dev/null 2>&1; then
    check "promtool check config prometheus/prometheus.yml" promtool check config "$CONF"
else
    failed=$((failed + 1))
    echo "not ok - promtool check config: promtool is missing (make deps installs Debian's prometheus)"
fi
check "the api job discovers every api replica on 8080 (dns_sd A api)" \
    grep -Pzq -- '- job_name: api\n(?:.*\n)*?\s+- names: \[api\]\n\s+type: A\n\s+port: 8080\n' "$CONF"
check "the worker job discovers every worker replica on 9091 (dns_sd A worker)" \
    grep -Pzq -- '- job_name: worker\n(?:.*\n)*?\s+- names: \[worker\]\n\s+type: A\n\s+port: 9091\n' "$CONF"
check "docker-compose.yml runs prometheus in the monitoring profile with this file" \
    grep -Pzq -- '\n  prometheus:\n(?:    .*\n|\n)*?    profiles: \[monitoring\]\n(?:    .*\n|\n)*?      - \./prometheus/prometheus\.yml:/etc/prometheus/prometheus\.yml:ro\n' \
    "$ROOT/docker-compose.yml"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

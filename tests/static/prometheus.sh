#!/usr/bin/env bash
# Static checks of the monitoring profile's Prometheus configuration, without running it:
#
#   tests/static/prometheus.sh [ROOT]
#
# promtool (Debian package `prometheus`, installed by `make deps`) validates
# prometheus/prometheus.yml and the alerting rules it loads (prometheus/alerts.yml), runs their
# unit tests (prometheus/alerts.test.yml: every rule firing and not firing), and parses every
# PromQL expression of the Grafana dashboard (prometheus/grafana/splitter.json, extracted with
# jq into a rules file made on the fly). Every splitter_* series the rules and the dashboard
# name must be one the api or the worker exports; every alert has a severity and a runbook
# anchor that docs/OPERATIONS.md has. Then it must scrape the api and worker services on the
# ports the stack gives them. Last line "N passed, M failed"; exit 1 if any failed.
set -uo pipefail

ROOT="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
CONF="$ROOT/prometheus/prometheus.yml"
RULES="$ROOT/prometheus/alerts.yml"
DASH="$ROOT/prometheus/grafana/splitter.json"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
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

# dashboard_rules: the dashboard's expressions as recording rules, for promtool check rules.
dashboard_rules() {
    jq -r '"groups:\n  - name: dashboard\n    rules:",
        ([.panels[].targets[].expr] | to_entries[]
         | "      - record: dashboard:expr_\(.key)\n        expr: \(.value | @json)")' "$DASH"
}

# unknown_series FILE...: splitter_* names in FILEs that neither api/metrics.c nor
# worker/metrics.c writes (histogram suffixes stripped); prints them, fails if any.
unknown_series() {
    local name bad=0
    while read -r name; do
        if ! grep -qE "$name(_bucket|_count|_sum)?([^a-z0-9_]|\$)" "$ROOT/api/metrics.c" "$ROOT/worker/metrics.c"; then
            echo "unknown series: $name"
            bad=1
        fi
    done < <(grep -oh 'splitter_[a-z0-9_]*' "$@" | sed -E '/_$/d; s/_(bucket|count|sum)$//' | sort -u)
    [[ $bad -eq 0 ]]
}

# runbooks: every alert has a severity, and its runbook_url's anchor is a heading of
# docs/OPERATIONS.md (GitHub's anchor of "### SplitterDeadLetters" is #splitterdeadletters).
runbooks() {
    local alert anchor bad=0 n
    n="$(grep -c '^      - alert: ' "$RULES")"
    [[ "$(grep -c '^          severity: \(page\|ticket\)$' "$RULES")" -eq $n ]] || {
        echo "$n alerts, not as many severity labels (page or ticket)"
        bad=1
    }
    [[ "$(grep -c '^          runbook_url: ' "$RULES")" -eq $n ]] || {
        echo "$n alerts, not as many runbook_url annotations"
        bad=1
    }
    while read -r alert; do
        anchor="$(tr '[:upper:]' '[:lower:]' <<<"$alert")"
        grep -q "runbook_url: \"docs/OPERATIONS.md#$anchor\"" "$RULES" || {
            echo "$alert: no runbook_url docs/OPERATIONS.md#$anchor"
            bad=1
        }
        grep -q "^### $alert\$" "$ROOT/docs/OPERATIONS.md" || {
            echo "$alert: no '### $alert' runbook section in docs/OPERATIONS.md"
            bad=1
        }
        grep -q "alertname: $alert\$" "$ROOT/prometheus/alerts.test.yml" || {
            echo "$alert: no unit test in prometheus/alerts.test.yml"
            bad=1
        }
    done < <(sed -n 's/^      - alert: //p' "$RULES")
    [[ $bad -eq 0 && $n -gt 0 ]]
}

# rule_tests: promtool test rules, from the directory the test file names its rules from.
rule_tests() {
    (cd "$ROOT/prometheus" && promtool test rules alerts.test.yml)
}

rules_loaded() {
    grep -Pzq -- '\nrule_files:\n  - alerts\.yml\n' "$CONF" &&
        grep -q -- '- \./prometheus/alerts\.yml:/etc/prometheus/alerts\.yml:ro$' "$ROOT/docker-compose.yml"
}

if command -v promtool >/dev/null 2>&1; then
    check "promtool check config prometheus/prometheus.yml (with its rule_files)" promtool check config "$CONF"
    check "promtool check rules prometheus/alerts.yml" promtool check rules "$RULES"
    check "promtool test rules prometheus/alerts.test.yml" rule_tests
    if dashboard_rules >"$TMP/dashboard.yml" 2>"$TMP/jq.err"; then
        check "promtool parses every expression of prometheus/grafana/splitter.json ($(grep -c 'record:' "$TMP/dashboard.yml"))" \
            promtool check rules "$TMP/dashboard.yml"
    else
        failed=$((failed + 1))
        echo "not ok - prometheus/grafana/splitter.json is not a dashboard jq can read"
        sed 's/^/    /' "$TMP/jq.err"
    fi
else
    failed=$((failed + 1))
    echo "not ok - promtool check config: promtool is missing (make deps installs Debian's prometheus)"
fi
check "prometheus.yml loads alerts.yml, and docker-compose.yml mounts it next to prometheus.yml" \
    rules_loaded
check "every splitter_* series of the rules and the dashboard is exported by the api or the worker" \
    unknown_series "$RULES" "$DASH"
check "every alert has a severity, a runbook section in docs/OPERATIONS.md and a unit test" runbooks
check "the api job discovers every api replica on 8080 (dns_sd A api)" \
    grep -Pzq -- '- job_name: api\n(?:.*\n)*?\s+- names: \[api\]\n\s+type: A\n\s+port: 8080\n' "$CONF"
check "the worker job discovers every worker replica on 9091 (dns_sd A worker)" \
    grep -Pzq -- '- job_name: worker\n(?:.*\n)*?\s+- names: \[worker\]\n\s+type: A\n\s+port: 9091\n' "$CONF"
check "docker-compose.yml runs prometheus in the monitoring profile with this file" \
    grep -Pzq -- '\n  prometheus:\n(?:    .*\n|\n)*?    profiles: \[monitoring\]\n(?:    .*\n|\n)*?      - \./prometheus/prometheus\.yml:/etc/prometheus/prometheus\.yml:ro\n' \
    "$ROOT/docker-compose.yml"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

#!/usr/bin/env bash
# Static checks of the Kubernetes manifests in deploy/kubernetes/ (no cluster needed): every
# overlay is rendered with `kubectl kustomize` (Debian's kubernetes-client, scripts/deps.sh),
# every rendered object is validated against its schema (npm kubernetes-models and
# @kubernetes-models/keda), and the house rules are asserted one counted test each by
# kubernetes.mjs: probes, requests and limits, the security context, pinned images, a
# PodDisruptionBudget per Deployment, no Secret data, the NetworkPolicies, the workers'
# ScaledObject, the ConfigMaps equal to nginx/, postgres/ and redis/. Each rule is shown
# failing on the committed bad fixture (kubernetes/bad.yaml). Ends with "N passed, M failed".
#
#   tests/static/kubernetes.sh [ROOT]    ROOT: the tree to check (default: this repository)
#
# Environment: KUBECTL (default kubectl). The npm packages are installed as for the other
# checks (lib/npm.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=tests/static/lib/npm.sh
source "$here/lib/npm.sh"
command -v "${KUBECTL:-kubectl}" >/dev/null || fail_setup kubernetes "kubectl is missing: run scripts/deps.sh"
static_npm_ci kubernetes "$here"

exec node "$here/kubernetes.mjs" "${1:-$here/../..}"

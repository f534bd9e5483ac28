#!/bin/sh
# The official nginx image's template step (20-envsubst-on-templates.sh): every
# /etc/nginx/templates/NAME.template becomes /etc/nginx/conf.d/NAME with envsubst, limited to
# the environment variables whose names match NGINX_ENVSUBST_FILTER. Then exec the command.
set -eu
filter="${NGINX_ENVSUBST_FILTER:-}"
# The official script's own line: one ${NAME} per matching variable (word splitting wanted).
# shellcheck disable=SC2016,SC2046
defined=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" </dev/null))
for t in /etc/nginx/templates/*.template; do
    [ -f "$t" ] || continue
    out="/etc/nginx/conf.d/$(basename "$t" .template)"
    envsubst "$defined" <"$t" >"$out"
    echo "$0: rendered $t to $out"
done
exec "$@"

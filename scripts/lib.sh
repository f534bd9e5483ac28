# shellcheck shell=bash
# Helpers shared by scripts/stack.sh, scripts/test.sh and scripts/bench.sh. Source it; it
# defines functions and SPLITTER_ROOT only.

export SPLITTER_ROOT
SPLITTER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# die MESSAGE...: print "<script>: MESSAGE" on stderr and exit 1.
die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# note MESSAGE...: progress line on stderr.
note() {
    echo "$(basename "$0"): $*" >&2
}

# port_in_use PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# pick_free_ports N: print N distinct ports in 20000..59999 on which nothing listens now.
# Random rather than sequential so that concurrent runs rarely collide.
pick_free_ports() {
    local want=$1 port tries=0
    local -a picked=()
    while [[ ${#picked[@]} -lt $want ]]; do
        ((tries++ < 1000)) || die "could not find $want free ports"
        # Below the kernel's ephemeral range (32768 and up here), so that no outgoing
        # connection of this very stack can take the port between this check and the bind.
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        [[ " ${picked[*]} " == *" $port "* ]] && continue
        port_in_use "$port" && continue
        picked+=("$port")
    done
    echo "${picked[@]}"
}

# private_stack_env STATE_DIR: export the environment of a throw-away stack (used by the e2e
# tests and the benchmarks): the given state directory, random free ports, no .env file.
private_stack_env() {
    local -a ports
    read -r -a ports < <(pick_free_ports 4)
    export STATE_DIR="$1"
    export SPLITTER_ENV_FILE=/dev/null
    export HTTP_PORT="${ports[0]}" API_PORT="${ports[1]}"
    export POSTGRES_PORT="${ports[2]}" REDIS_PORT="${ports[3]}"
    # Workers listen on WORKER_METRICS_PORT + N - 1: a free run of 8 ports.
    local base tries=0
    while :; do
        ((tries++ < 1000)) || die "could not find 8 free consecutive ports"
        base=$((20000 + (RANDOM * 32768 + RANDOM) % 11990))
        [[ " ${ports[*]} " == *" $base "* ]] && continue
        local k free=1
        for ((k = 0; k < 8; k++)); do
            if port_in_use $((base + k)) || [[ " ${ports[*]} " == *" $((base + k)) "* ]]; then
                free=0
                break
            fi
        done
        ((free)) && break
    done
    export WORKER_METRICS_PORT="$base"
}

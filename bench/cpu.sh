# shellcheck shell=bash
# CPU per operation, per component of the stack: sourced by scripts/bench.sh.
#
#   cpu_start                 snapshot the CPU time of every process of the stack
#   ... run a load of N operations ...
#   cpu_stop N "what"         snapshot again; append one row to CPU_ROWS and set CPU_US
#   cpu_table                 print CPU_ROWS as a markdown table (nothing when empty)
#   md_table TITLE COLUMNS ROW...  the same for any rows
#
# Components: nginx (master and workers), api, redis, workers (every worker-N, summed),
# postgres (the postmaster and every backend and auxiliary process of the stack's cluster),
# the load generator (what this script's children used: wrk, node, curl, redis-cli) and the
# machine (every core's busy time from /proc/stat, other work on the machine included).
#
# A component's CPU time is its processes' utime + stime plus cutime + cstime (the CPU of the
# children they reaped), and the same of their live children. That keeps PostgreSQL backends
# (and Redis's rewrite children) that end between the two snapshots: a backend alive at the first
# is counted there as itself, and at the second inside its postmaster's cutime with its whole
# life, so the difference is its time in the window. A process of the stack started inside the
# window counts from zero; one that ends inside it without being reaped by another (a worker
# stopped during the load) is left out. Resolution is one clock tick (10 ms) per process: a
# window of a few seconds under load is ~1 % exact.
#
# After cpu_stop, CPU_US[component] holds µs per operation (components: nginx, api, redis,
# workers, postgres, stack, loadgen, machine) and CPU_US[seconds] the window's length; CPU_LAST
# holds the row's cells. The stack runs from scripts/stack.sh with its environment exported
# (STATE_DIR, WORKERS...): the pids come from `scripts/stack.sh pid NAME`.

CPU_ROWS=()
CPU_ROOTS=""           # "component pid" lines, resolved by cpu_start
CPU_BEGIN=""           # "component pid ticks" lines of the first snapshot
CPU_BEGIN_MACHINE=0    # busy ticks of every core at the first snapshot
CPU_BEGIN_LOADGEN=0    # this script's children's ticks at the first snapshot
CPU_BEGIN_TIME=0
declare -A CPU_US=()
CPU_LAST=""

# cpu_roots: "component pid" for each process started by scripts/stack.sh (workers up to 64).
cpu_roots() {
    local name pid k
    for name in nginx api redis postgres; do
        pid="$(scripts/stack.sh pid "$name" 2>/dev/null)" && echo "$name $pid"
    done
    for ((k = 1; k <= 64; k++)); do
        pid="$(scripts/stack.sh pid "worker-$k" 2>/dev/null)" || {
            ((k > ${WORKERS:-2})) && break
            continue
        }
        echo "workers $pid"
    done
}

# cpu_ticks: "component pid ticks" per root of CPU_ROOTS: the root's own and reaped children's
# ticks plus those of its live children (and what those reaped). One pass over /proc.
cpu_ticks() {
    # Lines of /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and ")", so the
    # fields are counted after the last ") ".
    # shellcheck disable=SC2016 # awk's own variables
    {
        printf '%s\n' "$CPU_ROOTS" | sed 's/^/root /'
        cat /proc/[0-9]*/stat 2>/dev/null || true # processes end while it reads
    } | awk '
        $1 == "root" { comp[$3] = $2; next }
        {
            pid = $1
            rest = $0
            sub(/^.*\) /, "", rest)
            n = split(rest, f, " ")
            if (n < 15) next
            ppid[pid] = f[2]
            ticks[pid] = f[12] + f[13] + f[14] + f[15]
        }
        END {
            for (p in comp) if (p in ticks) total[p] += ticks[p]
            for (p in ppid) if (ppid[p] in comp) total[ppid[p]] += ticks[p]
            for (p in total) print comp[p], p, total[p]
        }'
}

# cpu_machine: busy ticks of every core (user nice system irq softirq steal).
cpu_machine() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# cpu_loadgen: ticks of this script's reaped children (the load generators, waited for).
cpu_loadgen() {
    local stat
    stat="$(cat "/proc/$$/stat")"
    stat="${stat##*) }"
    awk '{ print $14 + $15 }' <<<"$stat"
}

# The load generator's count is read last here and first in cpu_stop, so the snapshots' own
# cat and awk stay out of it.
cpu_start() {
    CPU_ROOTS="$(cpu_roots)"
    CPU_BEGIN_MACHINE="$(cpu_machine)"
    CPU_BEGIN_TIME="$(date +%s.%N)"
    CPU_BEGIN="$(cpu_ticks)"
    CPU_BEGIN_LOADGEN="$(cpu_loadgen)"
}

# cpu_stop OPS WHAT: the CPU each component used since cpu_start, in µs per operation; one row
# of CPU_ROWS: what, operations, seconds, then µs/op of nginx, api, redis, workers, postgres,
# the stack's sum, the load generator and the whole machine (busy cores), and the share of the
# machine's busy time that was neither the stack nor the load generator (other work).
cpu_stop() {
    local ops=$1 what=$2 end machine loadgen now hz
    loadgen="$(cpu_loadgen)"
    # Processes started inside the window (workers brought up by the load) count from zero.
    CPU_ROOTS="$(printf '%s\n%s\n' "$CPU_ROOTS" "$(cpu_roots)" | sort -u | sed '/^$/d')"
    end="$(cpu_ticks)"
    machine="$(cpu_machine)"
    now="$(date +%s.%N)"
    hz="$(getconf CLK_TCK)"
    CPU_LAST="$(awk -v ops="$ops" -v hz="$hz" -v secs="$(awk -v a="$CPU_BEGIN_TIME" -v b="$now" 'BEGIN { print b - a }')" \
        -v m=$((machine - CPU_BEGIN_MACHINE)) -v l=$((loadgen - CPU_BEGIN_LOADGEN)) '
        FNR == NR { a[$2] = $3; next }
        { d[$1] += $3 - a[$2] }
        END {
            if (ops <= 0) ops = 1
            split("nginx api redis workers postgres", c, " ")
            stack = 0
            for (i = 1; i <= 5; i++) {
                stack += d[c[i]]
                us[c[i]] = d[c[i]] * 1e6 / hz / ops
            }
            us["stack"] = stack * 1e6 / hz / ops
            us["loadgen"] = l * 1e6 / hz / ops
            us["machine"] = m * 1e6 / hz / ops
            other = m > 0 ? 100 * (m - stack - l) / m : 0
            if (other < 0) other = 0
            printf "seconds=%.2f", secs
            for (k in us) printf " %s=%.1f", k, us[k]
            printf " other=%.0f\n", other
        }' <(printf '%s\n' "$CPU_BEGIN") <(printf '%s\n' "$end"))"
    CPU_US=()
    local kv
    for kv in $CPU_LAST; do
        CPU_US[${kv%%=*}]=${kv#*=}
    done
    CPU_ROWS+=("| $what | $ops | ${CPU_US[seconds]} | ${CPU_US[nginx]} | ${CPU_US[api]} | ${CPU_US[redis]} | ${CPU_US[workers]} | ${CPU_US[postgres]} | **${CPU_US[stack]}** | ${CPU_US[loadgen]} | ${CPU_US[machine]} (${CPU_US[other]} % other work) |")
}

# md_table TITLE "COLUMN|COLUMN|..." ROW...: TITLE, then a markdown table of the ROWs (already
# "| a | b |" lines); nothing at all without rows.
md_table() {
    local title=$1 columns=$2
    shift 2
    [[ $# -gt 0 ]] || return 0
    printf '\n%s\n\n| %s |\n' "$title" "${columns//|/ | }"
    printf '|%s|\n' "${columns//[!|]/}" | sed 's/|/|---/g; s/---$//'
    printf '%s\n' "$@"
}

cpu_table() {
    md_table "CPU µs per operation, by component (utime+stime from /proc, reaped children included; $(nproc) cores):" \
        "what|operations|seconds|nginx|api|redis|workers|postgres|stack|load generator|machine" \
        "${CPU_ROWS[@]}"
}

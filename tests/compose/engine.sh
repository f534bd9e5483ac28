# shellcheck shell=bash
# A private Docker engine for tests/compose/run.sh: its own data root, exec root, socket,
# bridge and address pool under one temporary directory, so the test never touches the
# system's engine (or anybody else's) and leaves nothing behind. Source it; it defines
# functions only.
#
#   engine_start DIR [DATA_ROOT]
#                       start dockerd with everything under DIR (images and containers too,
#                       unless DATA_ROOT names a directory that outlives it); exports DOCKER_HOST
#   engine_stop         stop it by its pid, delete its bridge; safe to call twice
#   base_image          import debian:bookworm(-slim) made with debootstrap (cached tarball)

ENGINE_DIR=
ENGINE_BRIDGE=
ENGINE_DATA=

# The Debian mirror apt is configured with (deb822 sources first, then sources.list).
debian_mirror() {
    local uri
    uri="$(grep -hs -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
    if [[ -z $uri ]]; then
        uri="$(grep -hs -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' |
            grep -E '/debian/?$' | head -n1 || true)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

# A /16 in 10.128.0.0/9 that no route of this machine uses yet (random, so that two private
# engines rarely pick the same one).
free_pool() {
    local tries=0 b
    while ((tries++ < 200)); do
        b=$((128 + RANDOM % 120))
        ip -4 route | grep -q "^10\.$b\." || {
            echo "10.$b.0.0/16"
            return 0
        }
    done
    return 1
}

engine_start() {
    ENGINE_DIR=$1
    ENGINE_DATA=${2:-$1/root}
    mkdir -p "$ENGINE_DIR" "$ENGINE_DATA"
    local pool net
    pool="$(free_pool)" || die "no free 10.x.0.0/16 for the engine's networks"
    net=${pool%.0.0/16}
    # The default bridge: our own name and subnet, so a second engine on this machine (which
    # would take docker0) does not collide with this one.
    ENGINE_BRIDGE="spl$((RANDOM % 100000))"
    ip link add name "$ENGINE_BRIDGE" type bridge
    ip addr add "$net.255.1/24" dev "$ENGINE_BRIDGE"
    ip link set "$ENGINE_BRIDGE" up
    dockerd --data-root "$ENGINE_DATA" --exec-root "$ENGINE_DIR/exec" \
        --pidfile "$ENGINE_DIR/docker.pid" -H "unix://$ENGINE_DIR/docker.sock" \
        --bridge "$ENGINE_BRIDGE" --default-address-pool "base=$pool,size=24" \
        --containerd-namespace "splitter-$ENGINE_BRIDGE" \
        --containerd-plugins-namespace "splitter-$ENGINE_BRIDGE-plugins" \
        >"$ENGINE_DIR/dockerd.log" 2>&1 &
    echo $! >"$ENGINE_DIR/dockerd.launcher.pid"
    export DOCKER_HOST="unix://$ENGINE_DIR/docker.sock"
    local i
    for ((i = 0; i < 120; i++)); do
        /usr/bin/docker version >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$ENGINE_DIR/dockerd.launcher.pid")" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 20 "$ENGINE_DIR/dockerd.log" >&2
    die "the private Docker engine did not start (log above)"
}

engine_stop() {
    [[ -n $ENGINE_DIR ]] || return 0
    local pid
    pid="$(cat "$ENGINE_DIR/docker.pid" 2>/dev/null || cat "$ENGINE_DIR/dockerd.launcher.pid" 2>/dev/null || true)"
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        local i=0
        while kill -0 "$pid" 2>/dev/null && ((i++ < 60)); do
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    [[ -z $ENGINE_BRIDGE ]] || ip link del "$ENGINE_BRIDGE" 2>/dev/null || true
    # Overlay mounts left by a killed engine would make the data root undeletable.
    local m
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v a="$ENGINE_DIR/" -v b="$ENGINE_DATA/" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf "$ENGINE_DIR" || true
    ENGINE_DIR=
    ENGINE_DATA=
    ENGINE_BRIDGE=
}

# base_image: debian:bookworm and debian:bookworm-slim from debootstrap --variant=minbase,
# since no registry is reachable. The root filesystem tarball is cached in CACHE_DIR (made
# again when missing), so a rerun imports it in seconds.
base_image() {
    local tarball="$CACHE_DIR/debian-bookworm-minbase.tar"
    # Already there (a kept data root): importing again would make a new image and throw away
    # the build cache of everything on top of it.
    if /usr/bin/docker image inspect debian:bookworm-slim debian:bookworm >/dev/null 2>&1; then
        return 0
    fi
    if [[ ! -s $tarball ]]; then
        local rootfs="$ENGINE_DIR/rootfs"
        note "debootstrap bookworm from $(debian_mirror) (cached afterwards in $CACHE_DIR)"
        debootstrap --variant=minbase bookworm "$rootfs" "$(debian_mirror)" >"$ENGINE_DIR/debootstrap.log" 2>&1 || {
            tail -n 20 "$ENGINE_DIR/debootstrap.log" >&2
            die "debootstrap failed"
        }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        mkdir -p "$CACHE_DIR"
        tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    /usr/bin/docker import "$tarball" debian:bookworm-slim >/dev/null
    /usr/bin/docker tag debian:bookworm-slim debian:bookworm
}

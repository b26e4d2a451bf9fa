#!/usr/bin/env bash
# Builds local stand-ins for the base images that Dockerfile and docker-compose.yml name,
# for a machine whose Docker engine can reach no container registry (Debian's package
# archive and crates.io are reachable). Run it as root with an engine running (engine.sh).
#
#   debian:bookworm-slim  debootstrap --variant=minbase bookworm, docs and locales removed,
#                         `docker import`ed (the official slim image is made the same way).
#   postgres:16-alpine    debian:bookworm-slim + Debian's postgresql-15 (bookworm has no 16)
#                         + postgres-entrypoint.sh, which keeps the official image's contract
#                         that the compose file uses (POSTGRES_USER/PASSWORD/DB, PGDATA,
#                         first-run init on a socket-only temporary server, scram-sha-256 for
#                         host connections, pg_isready on PATH, STOPSIGNAL SIGINT).
#   rust:1-bookworm       debian:bookworm-slim + gcc and libc6-dev (the official image has a
#                         full buildpack-deps toolchain; authd needs only a C linker and libc)
#                         + the host's stable Rust toolchain (bin, lib, libexec, etc; no
#                         docs), laid out as the official image: RUSTUP_HOME=/usr/local/rustup,
#                         CARGO_HOME=/usr/local/cargo, cargo and rustc on PATH. No rustup: the
#                         toolchain is the host's, whatever rust-toolchain files say.
#
# Disk: the rust stand-in is written in one stream (docker export of the tools image plus
# the toolchain, through standin-merge.py, into `docker import`), so the toolchain is
# written once; with the overlay2 driver its files in the image layer are then replaced by
# hard links to the host's identical files (STANDIN_DEDUPE=0 to skip), so the image costs
# ~250 MB of disk rather than ~850 MB. The layer's content is unchanged by that.
#
# Environment: STANDIN_FORCE=1 rebuilds images that already exist; STANDIN_SKIP_RUST=1
# builds no rust:1-bookworm (the e2e script's prebuilt-binary mode does not need it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { printf '[standin %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
have() { [ "${STANDIN_FORCE:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }
work=$(mktemp -d /var/tmp/standin.XXXXXX)
# The bind mount of / used below lives outside $work, so no `rm -rf` ever reaches it.
view=/run/authd-standin-rootview
cleanup() {
    if mountpoint -q "$view"; then umount "$view" || true; fi
    rmdir "$view" 2>/dev/null || true
    rm -rf "$work"
    docker rm -f standin-export >/dev/null 2>&1 || true
}
trap cleanup EXIT

docker info >/dev/null 2>&1 || { echo "no Docker engine answers (start one: .ci/docker/engine.sh)" >&2; exit 1; }

# --- debian:bookworm-slim -------------------------------------------------------
if have debian:bookworm-slim; then
    log "debian:bookworm-slim present"
else
    command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
    log "debootstrap bookworm (minbase) ..."
    rootfs=$work/rootfs
    timeout 900 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    # As in the official image: no docs, man pages or translations from later installs.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    printf 'APT::Install-Recommends "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-norecommends"
    # As in the official image: apt keeps no package cache in a layer.
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
    rm -rf "$rootfs"
    log "debian:bookworm-slim imported"
fi

# --- postgres:16-alpine ---------------------------------------------------------
if have postgres:16-alpine; then
    log "postgres:16-alpine present"
else
    log "building postgres:16-alpine (stand-in: Debian PostgreSQL 15) ..."
    ctx=$work/postgres
    mkdir -p "$ctx"
    cp "$here/postgres-entrypoint.sh" "$ctx/docker-entrypoint.sh"
    cat >"$ctx/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN mkdir -p /etc/postgresql-common \
    && printf 'create_main_cluster = false\n' >/etc/postgresql-common/createcluster.conf \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /docker-entrypoint-initdb.d
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF
    DOCKER_BUILDKIT=0 docker build -q -t postgres:16-alpine "$ctx" >/dev/null
    log "postgres:16-alpine built"
fi

# --- rust:1-bookworm --------------------------------------------------------------
if [ "${STANDIN_SKIP_RUST:-0}" = 1 ]; then
    log "rust:1-bookworm skipped (STANDIN_SKIP_RUST=1)"
elif have rust:1-bookworm; then
    log "rust:1-bookworm present"
else
    sysroot=$(rustc +stable --print sysroot 2>/dev/null || rustc --print sysroot)
    version=$("$sysroot/bin/rustc" --version | awk '{print $2}')
    dest=usr/local/rustup/toolchains/$version-x86_64-unknown-linux-gnu
    log "building rust:1-bookworm (stand-in: host toolchain $version from $sysroot) ..."
    # The host's locally added CAs come along: where egress goes through a TLS-inspecting
    # proxy, cargo in the build stage reaches crates.io only if it trusts that proxy's CA
    # (a user behind such a proxy would have to add it to the official image likewise).
    ctx=$work/rust
    mkdir -p "$ctx/ca"
    cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/" 2>/dev/null || true
    cat >"$ctx/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
EOF
    DOCKER_BUILDKIT=0 docker build -q -t authd-standin/rust-tools "$ctx" >/dev/null
    docker create --name standin-export authd-standin/rust-tools >/dev/null
    docker export standin-export \
        | python3 "$here/standin-merge.py" "$sysroot" "$dest" \
        | docker import \
            --change 'ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo' \
            --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change "ENV RUST_VERSION=$version" \
            --change 'CMD ["bash"]' - rust:1-bookworm >/dev/null
    docker rm -f standin-export >/dev/null
    docker rmi authd-standin/rust-tools >/dev/null
    log "rust:1-bookworm imported"
    if [ "${STANDIN_DEDUPE:-1}" = 1 ] && [ "$(docker info -f '{{.Driver}}')" = overlay2 ]; then
        # dockerd bind-mounts its data root onto itself, and a hard link cannot cross two
        # mounts even of one file system: link through a plain (non-recursive) bind mount
        # of /, in which both the data root and the toolchain are one mount.
        layer=$(docker image inspect -f '{{.GraphDriver.Data.UpperDir}}' rust:1-bookworm)
        mkdir -p "$view"
        if mount --bind / "$view" 2>/dev/null; then
            n=0
            while IFS= read -r -d '' f; do
                rel=${f#"$view$layer/$dest/"}
                if cmp -s "$f" "$view$sysroot/$rel" && ln -f "$view$sysroot/$rel" "$f"; then
                    n=$((n + 1))
                fi
            done < <(find "$view$layer/$dest" -type f -print0)
            umount "$view" && rmdir "$view"
            log "toolchain files hard-linked to the host's copies: $n"
        else
            log "no bind mount possible: the toolchain stays copied in the image"
        fi
    fi
fi
docker images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -E '^(debian|postgres|rust):' || true

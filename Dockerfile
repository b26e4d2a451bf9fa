# syntax=docker/dockerfile:1

# --- build -------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Dependency caching: BuildKit cache mounts keep the cargo registry and the
# target directory (with the compiled dependencies) between builds, so a
# source change recompiles only the workspace crates. The workspace sources are
# touched first so that cargo, which judges freshness by mtime, always rebuilds
# them (sqlx::migrate! does not notice a newly added migration file otherwise).
# The binary is copied out of the cache mount in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git/db \
    --mount=type=cache,target=/src/target \
    find crates -name '*.rs' -exec touch {} + \
    && cargo build --release --locked -p api --bin authd \
    && install -m 0755 target/release/authd /usr/local/bin/authd

# --- runtime -----------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 authd \
    && useradd --uid 10001 --gid authd --no-log-init --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin authd \
    && mkdir -p /data \
    && chown authd:authd /data \
    && chmod 0700 /data
COPY --from=build /usr/local/bin/authd /usr/local/bin/authd

ENV BIND_ADDR=0.0.0.0:8080 DATA_DIR=/data LOG_FORMAT=json
USER authd:authd
EXPOSE 8080

# No curl in bookworm-slim: bash's /dev/tcp sends GET /healthz to the port of
# BIND_ADDR (on 127.0.0.1 when it listens on all addresses) and expects 200.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/bin/bash", "-c", "a=${BIND_ADDR:-0.0.0.0:8080}; p=${a##*:}; h=${a%:*}; h=${h#\\[}; h=${h%\\]}; case $h in ''|0.0.0.0|::) h=127.0.0.1;; esac; exec 3<>/dev/tcp/$h/$p || exit 1; printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3; IFS= read -r s <&3; [[ $s == 'HTTP/1.'?' 200'* ]]"]

ENTRYPOINT ["/usr/local/bin/authd"]

# Shared by the .ci scripts: `source .ci/lib.sh` from the repository root. Two rules:
# every script tests one given binary and never builds its own (.ci/run builds it once),
# and every Python tool comes from one venv filled from .ci/requirements.txt.

# ci_authd_bin [PATH]: prints the absolute path of the authd binary to test: PATH, else
# $AUTHD_BIN, else the release build in CARGO_TARGET_DIR (or target/), which is what
# `cargo run --release` runs. Fails, saying how to build it, when there is none.
ci_authd_bin() {
    local bin=${1:-${AUTHD_BIN:-${CARGO_TARGET_DIR:-target}/release/authd}}
    case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
    if [ ! -x "$bin" ]; then
        echo "no authd binary at $bin: build it with" \
            "\`cargo build --release --locked -p api --bin authd\`," \
            "or pass its path (argument or AUTHD_BIN)" >&2
        return 1
    fi
    printf '%s\n' "$bin"
}

# ci_use_venv: puts the venv holding .ci/requirements.txt first on PATH, so `python3` and
# the tools are the pinned ones. The venv (AUTHD_CI_VENV, default $TMPDIR/authd-ci-venv)
# is created and filled with `pip install -r` only when it was filled from another
# requirements file or Python; otherwise this costs one checksum.
ci_use_venv() {
    local venv=${AUTHD_CI_VENV:-${TMPDIR:-/tmp}/authd-ci-venv}
    local stamp="$venv/.filled-from"
    local want
    want="$(python3 -c 'import sys; print(sys.version.split()[0])') $(sha256sum .ci/requirements.txt | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "installing .ci/requirements.txt into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r .ci/requirements.txt
        printf '%s\n' "$want" >"$stamp"
    fi
    export AUTHD_CI_VENV=$venv
    case ":$PATH:" in *":$venv/bin:"*) ;; *) export PATH="$venv/bin:$PATH" ;; esac
}

# ci_start_authd WHO BIN [VAR=VALUE]...: starts BIN in a fresh empty directory on a free
# loopback port with only PATH, HOME, BIND_ADDR, LOG_FORMAT=json and the given variables,
# and waits (at most 20 s) for /healthz. Sets CI_AUTHD_PID, CI_AUTHD_WORK and
# CI_AUTHD_BASE; the server is stopped and its directory removed by ci_stop_authd, which
# runs on exit too. WHO prefixes the failure messages (ci_fail).
CI_AUTHD_PID=""
CI_AUTHD_WORK=""
CI_AUTHD_BASE=""
CI_WHO="ci"

ci_stop_authd() {
    if [ -n "$CI_AUTHD_PID" ]; then
        kill "$CI_AUTHD_PID" 2>/dev/null || true
        wait "$CI_AUTHD_PID" 2>/dev/null || true
        CI_AUTHD_PID=""
    fi
    if [ -n "$CI_AUTHD_WORK" ]; then
        rm -rf "$CI_AUTHD_WORK"
        CI_AUTHD_WORK=""
    fi
}

# ci_fail MESSAGE: says what failed, shows the running server's log, exits 1.
ci_fail() {
    echo "$CI_WHO: $*" >&2
    if [ -n "$CI_AUTHD_WORK" ] && [ -f "$CI_AUTHD_WORK/server.log" ]; then
        echo "--- server log ---" >&2
        cat "$CI_AUTHD_WORK/server.log" >&2
    fi
    exit 1
}

ci_start_authd() {
    CI_WHO=$1
    local bin=$2
    shift 2
    trap ci_stop_authd EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    CI_AUTHD_WORK=$(mktemp -d)
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    CI_AUTHD_BASE="http://127.0.0.1:$port"
    (cd "$CI_AUTHD_WORK" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
        BIND_ADDR="127.0.0.1:$port" LOG_FORMAT=json "$@" \
        "$bin" >"$CI_AUTHD_WORK/server.log" 2>&1) &
    CI_AUTHD_PID=$!
    local deadline=$((SECONDS + 20))
    until curl -fsS -o /dev/null --max-time 1 "$CI_AUTHD_BASE/healthz" 2>/dev/null; do
        kill -0 "$CI_AUTHD_PID" 2>/dev/null || ci_fail "authd exited before answering /healthz"
        [ "$SECONDS" -lt "$deadline" ] || ci_fail "authd did not answer $CI_AUTHD_BASE/healthz within 20 s"
        sleep 0.2
    done
}

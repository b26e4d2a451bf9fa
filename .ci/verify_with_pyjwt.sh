#!/usr/bin/env bash
# Proves that authd's asymmetric tokens verify in another language's standard JWT library
# (Python's PyJWT) with nothing but /.well-known/jwks.json. For each of RS256, ES256 and
# EdDSA: starts the built binary with only BIND_ADDR, JWT_ALGORITHM and LOG_FORMAT set, in
# an empty directory (so it generates its key into ./data), and runs
# .ci/verify_with_pyjwt.py against it.
#
# Usage: .ci/verify_with_pyjwt.sh [PATH_TO_AUTHD_BINARY]   (or AUTHD_BIN; default: the
# release build, see ci_authd_bin in .ci/lib.sh). Builds nothing. PyJWT and cryptography
# come from the venv of .ci/requirements.txt (ci_use_venv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
source .ci/lib.sh
bin=$(ci_authd_bin "${1:-}")
ci_use_venv

pid=""
work=""
stop_server() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    fi
    if [ -n "$work" ]; then
        rm -rf "$work"
        work=""
    fi
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    echo "verify_with_pyjwt: $*" >&2
    if [ -n "$work" ] && [ -f "$work/server.log" ]; then
        echo "--- server log ---" >&2
        cat "$work/server.log" >&2
    fi
    exit 1
}

for alg in RS256 ES256 EdDSA; do
    work=$(mktemp -d)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    base="http://127.0.0.1:$port"
    (cd "$work" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
        BIND_ADDR="127.0.0.1:$port" JWT_ALGORITHM="$alg" LOG_FORMAT=json \
        "$bin" >"$work/server.log" 2>&1) &
    pid=$!

    deadline=$((SECONDS + 20))
    until curl -fsS -o /dev/null --max-time 1 "$base/healthz" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || fail "$alg: authd exited before answering /healthz"
        [ "$SECONDS" -lt "$deadline" ] || fail "$alg: authd did not answer $base/healthz within 20 s"
        sleep 0.2
    done

    python3 "$root/.ci/verify_with_pyjwt.py" "$base" "$alg" || fail "$alg: the PyJWT check failed (above)"
    stop_server
done
echo "verify_with_pyjwt: ok"

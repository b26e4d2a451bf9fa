#!/usr/bin/env bash
# Checks authd's TOTP (RFC 6238) against a second implementation, Python's pyotp: starts
# the built binary in an empty directory and runs .ci/check_totp_with_pyotp.py against
# it (enrol over HTTP, read the otpauth:// URI with pyotp, confirm and log in with its
# codes).
#
# Usage: .ci/check_totp_with_pyotp.sh [PATH_TO_AUTHD_BINARY]   (or AUTHD_BIN; see
# ci_authd_bin in .ci/lib.sh). Builds nothing. pyotp comes from the venv of
# .ci/requirements.txt (ci_use_venv).
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
    echo "check_totp_with_pyotp: $*" >&2
    if [ -n "$work" ] && [ -f "$work/server.log" ]; then
        echo "--- server log ---" >&2
        cat "$work/server.log" >&2
    fi
    exit 1
}

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
base="http://127.0.0.1:$port"
(cd "$work" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    BIND_ADDR="127.0.0.1:$port" MFA_ISSUER="authd CI" LOG_FORMAT=json \
    "$bin" >"$work/server.log" 2>&1) &
pid=$!

deadline=$((SECONDS + 20))
until curl -fsS -o /dev/null --max-time 1 "$base/healthz" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || fail "authd exited before answering /healthz"
    [ "$SECONDS" -lt "$deadline" ] || fail "authd did not answer $base/healthz within 20 s"
    sleep 0.2
done

python3 "$root/.ci/check_totp_with_pyotp.py" "$base" || fail "the pyotp check failed (above)"
echo "check_totp_with_pyotp: ok"

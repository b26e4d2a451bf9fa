#!/usr/bin/env bash
# Property-based scan of the served OpenAPI document against the server itself
# (schemathesis, pinned in .ci/requirements.txt): every check, every phase, once with a
# user's access token and once with an admin's. Any failure fails CI: the document must
# say exactly what the server accepts and answers.
#
# Usage: .ci/schemathesis.sh [PATH_TO_AUTHD_BINARY]   (or AUTHD_BIN; default: the release
# build, see ci_authd_bin in .ci/lib.sh). Builds nothing. schemathesis comes from the venv
# of .ci/requirements.txt (ci_use_venv; AUTHD_CI_VENV names it).
# Optional: SCHEMATHESIS_MAX_EXAMPLES
# (default 30) and SCHEMATHESIS_SEED (default 1), the cases per operation and phase and
# their seed; SCAN_RUST_LOG and SCAN_KEEP_LOG=FILE, the server's log filter and a copy of
# its log, to investigate a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source .ci/lib.sh
bin=$(ci_authd_bin "${1:-}")
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-30}
seed=${SCHEMATHESIS_SEED:-1}

# --- schemathesis, at the pinned version ----------------------------------------
ci_use_venv
pin=$(grep -iE '^schemathesis==' .ci/requirements.txt | head -1 | cut -d= -f3)
schemathesis --version | grep -qxF "schemathesis, version $pin" ||
    { echo "schemathesis is not the version .ci/requirements.txt pins ($pin)" >&2; exit 1; }

# --- authd on SQLite in a temporary directory, a free port --------------------------
# A clean environment, started in the temporary directory (so no .env is read): only
# what the scan sets. The scan sends thousands of wrong passwords for its two usernames:
# throttling them would make every later login a 429 that tests nothing else (the
# throttle has tests of its own), so their free failures are many.
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# The scan checks what the document says of each answer, not the throttles: without these
# the login throttle and the per-address registration limit would turn most of its
# requests into (documented) 429s that test nothing else.
settings=(PATH="$PATH" HOME="$work" DATA_DIR="$work/data" BIND_ADDR="127.0.0.1:$port"
    JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    LOG_FORMAT=json RUST_LOG="${SCAN_RUST_LOG:-warn}" LOGIN_FREE_FAILURES=1000000
    REGISTER_RATE_PER_ADDRESS=off)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    [ -z "${SCAN_KEEP_LOG:-}" ] || cp "$work/server.log" "$SCAN_KEEP_LOG"
    rm -rf "$work"
}
trap cleanup EXIT

# Two accounts to scan as; their ids are for the hooks' guard (.ci/schemathesis_hooks.py).
password="scan-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
id_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
declare -A ids other=([st-user]=st-admin [st-admin]=st-user)
create() { printf '%s\n' "$password" | (cd "$work" && exec env -i "${settings[@]}" "$bin" user create "$@") | id_of; }
ids[st-user]=$(create st-user)
ids[st-admin]=$(create st-admin --role admin)

(cd "$work" && exec env -i "${settings[@]}" "$bin") >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    curl -fs -o /dev/null "$base/healthz" && break
    sleep 0.2
done
curl -fs -o /dev/null "$base/healthz" || { echo "authd did not start" >&2; cat "$work/server.log" >&2; exit 1; }

# --- the scans: at most 150 s each ----------------------------------------------------
export ST_PASSWORD="$password"
status=0
for who in st-user st-admin; do
    export ST_USERNAME=$who ST_USER_ID=${ids[$who]} ST_OTHER_USER_ID=${ids[${other[$who]}]}
    echo "schemathesis $pin as $who, at most $max_examples examples per operation"
    start=$SECONDS
    timeout --kill-after=10 150 schemathesis \
        --config-file .ci/schemathesis.toml run "$base/openapi.json" \
        --checks all --phases examples,coverage,fuzzing,stateful \
        --max-examples "$max_examples" --seed "$seed" --workers 2 --request-timeout 10 \
        --generation-database none --no-color || status=$?
    echo "schemathesis as $who: exit $status after $((SECONDS - start)) s"
    [ "$status" -eq 0 ] || break
done
if [ "$status" -ne 0 ]; then
    echo "server log (warnings and errors):" >&2
    grep -v '"level":"INFO"' "$work/server.log" | tail -50 >&2
fi
exit "$status"

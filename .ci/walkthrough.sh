#!/usr/bin/env bash
# Runs the README's walk-through exactly as written against the built binary, started
# with no configuration in an empty directory, and checks what it printed.
#
# Usage: .ci/walkthrough.sh [PATH_TO_AUTHD_BINARY]   (or AUTHD_BIN; default: the release
# build, see ci_authd_bin in .ci/lib.sh). Builds nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source .ci/lib.sh
bin=$(ci_authd_bin "${1:-}")
work=$(mktemp -d)
script="$work/walkthrough.sh"
# The first ```sh block after the walk-through's heading.
awk '/^## A session, step by step/{f=1} f&&/^```sh$/{c=1;next} c&&/^```$/{exit} c{print}' README.md >"$script"
[ -s "$script" ] || { echo "no walk-through found in README.md" >&2; exit 1; }

if curl -s -o /dev/null http://127.0.0.1:8080/healthz; then
    echo "something already listens on 127.0.0.1:8080; the walk-through needs that port" >&2
    exit 1
fi
(cd "$work" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" LOG_FORMAT=json "$bin" >"$work/server.log" 2>&1) &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
    curl -s -o /dev/null http://127.0.0.1:8080/healthz && break
    sleep 0.2
done

out=$(bash -euo pipefail "$script")
printf '%s\n' "$out"
fail() { echo "walk-through check failed: $*" >&2; cat "$work/server.log" >&2; exit 1; }
grep -q '"username":"alice"' <<<"$out" || fail "registration or /api/me did not show alice"
grep -qx '204' <<<"$out" || fail "logout did not answer 204"
grep -q 'the session has been revoked' <<<"$out" || fail "the access token still worked after logout"
[ "$(grep -c '"username":"alice"' <<<"$out")" -ge 2 ] || fail "expected the user object twice (register, /api/me)"
grep -q 'generated a signing secret' "$work/server.log" || fail "first start did not log the generated secret"
[ "$(stat -c %a "$work/data/jwt_secret")" = 600 ] || fail "jwt_secret is not mode 0600"
echo "walk-through: ok"

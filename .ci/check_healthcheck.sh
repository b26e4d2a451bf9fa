#!/usr/bin/env bash
# The Dockerfile's HEALTHCHECK command, extracted and run on this host against the built
# binary (there is no Docker engine here): it must pass while authd serves and fail once
# it has stopped. The binary runs as the image runs it: BIND_ADDR on all addresses.
#
# Usage: .ci/check_healthcheck.sh [PATH_TO_AUTHD_BINARY]   (or AUTHD_BIN; default: the
# release build, see ci_authd_bin in .ci/lib.sh). Builds nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source .ci/lib.sh
bin=$(ci_authd_bin "${1:-}")

check="$(python3 - <<'PY'
import json, re
text = open("Dockerfile", encoding="utf-8").read().replace("\\\n", " ")
m = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.M)
cmd = json.loads(m.group(1))
assert cmd[:2] == ["/bin/bash", "-c"], cmd
print(cmd[2])
PY
)"

dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export BIND_ADDR="0.0.0.0:$port"
DATA_DIR="$dir" LOG_FORMAT=json "$bin" 2>"$dir/log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

for _ in $(seq 1 100); do
    if /bin/bash -c "$check" 2>/dev/null; then break; fi
    sleep 0.1
done
/bin/bash -c "$check" || { echo "HEALTHCHECK fails against a serving authd" >&2; cat "$dir/log" >&2; exit 1; }
echo "HEALTHCHECK passes while authd serves on $BIND_ADDR"

kill -TERM "$pid"
wait "$pid" || { echo "authd did not exit cleanly on SIGTERM" >&2; exit 1; }
if /bin/bash -c "$check" 2>/dev/null; then
    echo "HEALTHCHECK passes with authd stopped" >&2
    exit 1
fi
echo "HEALTHCHECK fails once authd has stopped (and SIGTERM exits 0)"

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

for alg in RS256 ES256 EdDSA; do
    ci_start_authd "verify_with_pyjwt: $alg" "$bin" JWT_ALGORITHM="$alg"
    python3 "$root/.ci/verify_with_pyjwt.py" "$CI_AUTHD_BASE" "$alg" ||
        ci_fail "the PyJWT check failed (above)"
    ci_stop_authd
done
echo "verify_with_pyjwt: ok"

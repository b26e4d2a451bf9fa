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

ci_start_authd check_totp_with_pyotp "$bin" MFA_ISSUER="authd CI"
python3 "$root/.ci/check_totp_with_pyotp.py" "$CI_AUTHD_BASE" || ci_fail "the pyotp check failed (above)"
echo "check_totp_with_pyotp: ok"

"""Checks authd's TOTP against a second implementation, Python's pyotp: enrols over
HTTP, builds the authenticator from the otpauth:// URI alone (as an app scanning the QR
code would), confirms with pyotp's code and logs in with the next one.

Usage: check_totp_with_pyotp.py BASE_URL
"""

import json
import sys
import time
import urllib.error
import urllib.request

import pyotp

BASE = sys.argv[1].rstrip("/")
USERNAME = "pyotp user"
PASSWORD = "correct horse battery staple"


def call(method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def expect(status, wanted, body, what):
    if status != wanted:
        sys.exit(f"{what}: expected {wanted}, got {status}: {body}")


status, body = call("POST", "/auth/register", {"username": USERNAME, "password": PASSWORD})
expect(status, 201, body, "register")
status, body = call("POST", "/auth/login", {"username": USERNAME, "password": PASSWORD})
expect(status, 200, body, "login")
access = body["access_token"]

status, enrolment = call("POST", "/api/me/mfa/totp", token=access)
expect(status, 200, enrolment, "enrol")
authenticator = pyotp.parse_uri(enrolment["otpauth_uri"])
if not isinstance(authenticator, pyotp.TOTP):
    sys.exit(f"pyotp did not read a TOTP URI: {enrolment['otpauth_uri']}")
if authenticator.secret != enrolment["secret"]:
    sys.exit("the URI's secret is not the secret shown")
if authenticator.name != USERNAME or authenticator.digits != 6 or authenticator.interval != 30:
    sys.exit(f"pyotp read name={authenticator.name!r} digits={authenticator.digits} "
             f"interval={authenticator.interval}")
print(f"pyotp read the URI: issuer {authenticator.issuer!r}, account {authenticator.name!r}")

now = time.time()
status, body = call("POST", "/api/me/mfa/totp/confirm",
                    {"code": authenticator.at(now), "password": PASSWORD}, token=access)
expect(status, 200, body, "confirm with pyotp's current code")
if len(body["recovery_codes"]) != 10:
    sys.exit(f"expected ten recovery codes: {body}")

status, body = call("POST", "/auth/login", {"username": USERNAME, "password": PASSWORD})
expect(status, 200, body, "login with a factor")
if body.get("mfa_required") is not True:
    sys.exit(f"expected mfa_required: {body}")
mfa_token = body["mfa_token"]

# Two steps away is outside the window: refused.
status, body = call("POST", "/auth/login/mfa",
                    {"mfa_token": mfa_token, "code": authenticator.at(now + 60)})
expect(status, 401, body, "pyotp's code two steps ahead")
# The confirming step is spent; the next step's code completes the login.
status, body = call("POST", "/auth/login/mfa",
                    {"mfa_token": mfa_token, "code": authenticator.at(now + 30)})
expect(status, 200, body, "login with pyotp's next code")
status, session = call("GET", "/api/session", token=body["access_token"])
expect(status, 200, session, "session")
if session.get("amr") != ["pwd", "otp"]:
    sys.exit(f"expected amr [pwd, otp]: {session}")
print("check_totp_with_pyotp: authd accepts pyotp's codes; amr", session["amr"])

#!/usr/bin/env python3
"""Verify an authd access token with PyJWT, using nothing but the published JWKS.

Usage: verify_with_pyjwt.py BASE_URL ALG   (e.g. http://127.0.0.1:8081 EdDSA)

Against a running authd configured with JWT_ALGORITHM=ALG: registers a user, logs in,
fetches /.well-known/jwks.json and checks the access token with PyJWT (key picked by the
token's `kid`, only ALG allowed, `aud`/`iss` checked, exp/iat/nbf/iss/aud/sub required).
Then checks that PyJWT itself rejects the token with an altered payload and the token
signed by another key. Exits non-zero with one message on the first failure.

HTTP with the standard library only (urllib); PyJWT and cryptography for the JOSE side.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

PASSWORD = "correct horse battery staple"
USERNAME = "pyjwt-check"
AUDIENCE = "api"
ISSUER = "authd"
REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub"]
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class CheckFailed(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def http(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except urllib.error.URLError as e:
        raise CheckFailed(f"{method} {url}: {e.reason}") from e
    try:
        return status, json.loads(raw) if raw else {}
    except json.JSONDecodeError as e:
        raise CheckFailed(f"{method} {url}: answer {status} is not JSON: {raw[:200]!r}") from e


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def other_private_key(alg: str):
    """A fresh key of the same type as authd's, which the JWKS does not know."""
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise CheckFailed(f"no JWKS verification for {alg}: expected RS256, ES256 or EdDSA")


def decode(token: str, key, alg: str) -> dict:
    return jwt.decode(
        token,
        key=key,
        algorithms=[alg],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": REQUIRED},
    )


def expect_rejected(token: str, key, alg: str, what: str) -> None:
    try:
        decode(token, key, alg)
    except jwt.InvalidSignatureError:
        return
    except jwt.PyJWTError as e:
        raise CheckFailed(
            f"{alg}: PyJWT rejected {what}, but not for its signature: {type(e).__name__}: {e}"
        ) from e
    raise CheckFailed(f"{alg}: PyJWT ACCEPTED {what}")


def run(base: str, alg: str) -> str:
    base = base.rstrip("/")

    status, user = http("POST", f"{base}/auth/register", {"username": USERNAME, "password": PASSWORD})
    check(status == 201, f"register answered {status}: {user}")
    status, pair = http("POST", f"{base}/auth/login", {"username": USERNAME, "password": PASSWORD})
    check(status == 200, f"login answered {status}: {pair}")
    token = pair.get("access_token")
    check(isinstance(token, str) and token.count(".") == 2, f"login gave no compact JWT: {pair}")

    status, jwks = http("GET", f"{base}/.well-known/jwks.json")
    check(status == 200, f"JWKS answered {status}: {jwks}")
    keys = jwks.get("keys")
    check(isinstance(keys, list) and keys, f"the JWKS has no keys: {jwks}")
    for k in keys:
        leaked = PRIVATE_JWK_MEMBERS & set(k)
        check(not leaked, f"the JWKS publishes private members {sorted(leaked)}: {k}")

    header = jwt.get_unverified_header(token)
    check(header.get("alg") == alg, f"token header alg is {header.get('alg')!r}, expected {alg!r}")
    check(header.get("typ") == "at+jwt", f"token header typ is {header.get('typ')!r}, expected 'at+jwt'")
    kid = header.get("kid")
    check(isinstance(kid, str) and kid, f"token header has no kid: {header}")

    # The only key material used from here on: the JWKS, looked up by the token's kid.
    try:
        jwk_set = jwt.PyJWKSet.from_dict(jwks)
    except jwt.PyJWTError as e:
        raise CheckFailed(f"PyJWT cannot load the JWKS: {type(e).__name__}: {e}: {jwks}") from e
    try:
        signing_key = jwk_set[kid]
    except KeyError:
        raise CheckFailed(f"the token's kid {kid!r} is not in the JWKS: {jwks}") from None

    try:
        claims = decode(token, signing_key.key, alg)
    except jwt.PyJWTError as e:
        raise CheckFailed(f"{alg}: PyJWT rejected authd's token: {type(e).__name__}: {e}") from e
    check(claims.get("username") == USERNAME, f"username claim is {claims.get('username')!r}, expected {USERNAME!r}")
    check(claims.get("sub") == user.get("id"), f"sub {claims.get('sub')!r} is not the user id {user.get('id')!r}")
    for claim in ("sid", "jti"):
        check(isinstance(claims.get(claim), str) and claims[claim], f"claim {claim!r} missing: {claims}")

    head_b64, payload_b64, sig_b64 = token.split(".")

    # 1. The payload altered (admin role), the original signature kept.
    altered = json.loads(b64url_decode(payload_b64))
    altered["roles"] = ["admin"]
    tampered = ".".join([head_b64, b64url(json.dumps(altered, separators=(",", ":")).encode()), sig_b64])
    check(tampered != token, "the altered token equals the original")
    expect_rejected(tampered, signing_key.key, alg, "the token with its payload altered (roles=['admin'])")

    # 2. The same header and payload, signed by another key of the same type.
    other = other_private_key(alg)
    signing_input = f"{head_b64}.{payload_b64}".encode()
    other_sig = get_default_algorithms()[alg].sign(signing_input, other)
    foreign = f"{head_b64}.{payload_b64}.{b64url(other_sig)}"
    # Guard: the forged signature is well-formed (the other key's own public key accepts
    # it), so the rejection below is about the key and nothing else.
    try:
        decode(foreign, other.public_key(), alg)
    except jwt.PyJWTError as e:
        raise CheckFailed(f"{alg}: the test's own foreign signature is broken: {type(e).__name__}: {e}") from e
    expect_rejected(foreign, signing_key.key, alg, "the token signed by another key")

    return kid


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    base, alg = sys.argv[1], sys.argv[2]
    try:
        kid = run(base, alg)
    except CheckFailed as e:
        print(f"FAILED: PyJWT verification of authd's {alg} token: {e}", file=sys.stderr)
        return 1
    print(f"verified {alg} token with PyJWT {jwt.__version__} via JWKS (kid {kid})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

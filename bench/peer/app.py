"""The benchmark's peer: the same login work as authd, the way a Flask app usually does it.

Flask + PyJWT + argon2-cffi, users and sessions in SQLite, run under gunicorn (one
worker process per core). It is not a product: it exists so bench/run.sh can measure
authd against a common Python stack doing the same work on the same machine, in the
same run.

Routes (same shapes as authd's):
  POST /auth/register {"username", "password"}  -> 201 user
  POST /auth/login    {"username", "password"}  -> 200 token pair (argon2id verify,
                                                  new session row with a hashed refresh token,
                                                  HS256 access token)
  GET  /api/session   Authorization: Bearer ... -> 200 claims, or 401
  GET  /healthz                                  -> 200

Configuration from the environment: PEER_DB (SQLite file), PEER_JWT_SECRET (>= 32 bytes),
PEER_ISSUER (default authd), PEER_AUDIENCE (default api), PEER_ACCESS_TTL (seconds,
default 900).
"""

import base64
import hashlib
import os
import secrets
import sqlite3
import time
import uuid

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, g, jsonify, request

DB_PATH = os.environ.get("PEER_DB", "peer.db")
SECRET = os.environ.get("PEER_JWT_SECRET", "")
ISSUER = os.environ.get("PEER_ISSUER", "authd")
AUDIENCE = os.environ.get("PEER_AUDIENCE", "api")
ACCESS_TTL = int(os.environ.get("PEER_ACCESS_TTL", "900"))
REFRESH_TTL = 30 * 24 * 3600
LEEWAY = 30

if len(SECRET.encode()) < 32:
    raise SystemExit("PEER_JWT_SECRET must be at least 32 bytes")

# The same parameters as authd: OWASP's minimum for argon2id.
HASHER = PasswordHasher(
    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)
# A dummy hash so an unknown user costs the same as a wrong password (as authd does).
DUMMY_HASH = HASHER.hash("dummy password for unknown users")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    refresh_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
"""

app = Flask(__name__)


def db():
    conn = g.get("db")
    if conn is None:
        conn = sqlite3.connect(DB_PATH, timeout=5, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        g.db = conn
    return conn


@app.teardown_appcontext
def close_db(_exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def init_db():
    conn = sqlite3.connect(DB_PATH, timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    conn.close()


init_db()


def error(status, code, description, headers=None):
    resp = jsonify(error=code, error_description=description)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def normalise(username):
    return username.strip().lower()


def credentials():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, None
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return None, None
    return normalise(username), password


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


@app.post("/auth/register")
def register():
    username, password = credentials()
    if username is None:
        return error(400, "invalid_request", "send a JSON body with username and password")
    if not (8 <= len(password) <= 128):
        return error(400, "weak_password", "a password must be 8 to 128 characters long")
    user_id = str(uuid.uuid4())
    now = int(time.time())
    try:
        db().execute(
            "INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)",
            (user_id, username, HASHER.hash(password), now),
        )
    except sqlite3.IntegrityError:
        return error(409, "username_taken", "this username is taken")
    resp = jsonify(id=user_id, username=username, roles=[], created_at=now)
    resp.status_code = 201
    return resp


@app.post("/auth/login")
def login():
    username, password = credentials()
    if username is None:
        return error(400, "invalid_request", "send a JSON body with username and password")
    row = db().execute(
        "SELECT id, password_hash, roles FROM users WHERE username = ?", (username,)
    ).fetchone()
    stored = row[1] if row else DUMMY_HASH
    try:
        verified = HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        verified = False
    if not (row and verified):
        return error(401, "invalid_credentials", "the username or password is wrong")
    user_id, roles = row[0], [r for r in row[2].split(",") if r]
    now = int(time.time())
    session_id = str(uuid.uuid4())
    selector = secrets.token_bytes(16)
    secret = secrets.token_bytes(32)
    conn = db()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO sessions (id, user_id, refresh_hash, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (session_id, user_id, hashlib.sha256(secret).digest(), now, now + REFRESH_TTL),
    )
    conn.execute("COMMIT")
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id,
        "sid": session_id,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + ACCESS_TTL,
        "roles": roles,
        "username": username,
    }
    access = jwt.encode(claims, SECRET, algorithm="HS256", headers={"typ": "at+jwt"})
    refresh = base64.urlsafe_b64encode(selector + secret).rstrip(b"=").decode()
    resp = jsonify(
        access_token=access,
        token_type="Bearer",
        expires_in=ACCESS_TTL,
        refresh_token=refresh,
        refresh_expires_in=REFRESH_TTL,
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def unauthorized(description, token_sent=True):
    challenge = 'Bearer realm="api"'
    if token_sent:
        challenge += ', error="invalid_token"'
    return error(401, "invalid_token", description, {"WWW-Authenticate": challenge})


@app.get("/api/session")
def session():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return unauthorized("a bearer token is required", token_sent=False)
    token = token.strip()
    try:
        if jwt.get_unverified_header(token).get("typ") != "at+jwt":
            return unauthorized("the token is not an access token")
        claims = jwt.decode(
            token,
            SECRET,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "sid", "jti"]},
        )
    except jwt.PyJWTError:
        return unauthorized("the token is invalid or expired")
    return jsonify(
        sub=claims["sub"],
        sid=claims["sid"],
        username=claims.get("username"),
        roles=claims.get("roles", []),
        exp=claims["exp"],
        iat=claims["iat"],
        jti=claims["jti"],
    )

-- authd schema, SQLite flavour. Keep in step with ../postgres/0001_init.sql: the same
-- tables, columns and constraint names, so one set of queries serves both databases.
--
-- Types: ids are UUIDs stored as 16-byte BLOBs; timestamps are fixed-width RFC 3339
-- UTC text ("2026-01-02T03:04:05.123456Z", written by user-store's Timestamp), so that
-- comparing them as text compares them in time.

-- A user. `username` is the name as entered after trimming and NFKC normalisation;
-- `username_key` is its case-folded form and the only thing compared, so "Alice" and
-- "alice" are one user. Uniqueness is the database's job (the constraint), not only code's.
CREATE TABLE users (
    id            BLOB    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,              -- PHC string, argon2id
    roles         TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username_key)
);

-- A login session: what the `sid` claim names and what revocation acts on.
-- `expires_at` slides forward with each refresh (the newest refresh token's expiry).
CREATE TABLE sessions (
    id             BLOB NOT NULL PRIMARY KEY,
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TEXT NOT NULL,
    refreshed_at   TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT,          -- set once, never cleared
    revoked_reason TEXT           -- logout, password_change, refresh_token_reuse, admin, ...
);
CREATE INDEX sessions_user_id ON sessions (user_id);
-- Every replica polls "revoked since T" to keep its in-memory revoked set current.
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- A refresh token. The token the client holds is `id` (a random selector) plus a
-- 256-bit secret; only the secret's SHA-256 is stored. Rotation sets `spent_at` with a
-- conditional update (only where it is still NULL), so exactly one request wins a race.
CREATE TABLE refresh_tokens (
    id          BLOB NOT NULL PRIMARY KEY,
    session_id  BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    secret_hash BLOB NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    spent_at    TEXT
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

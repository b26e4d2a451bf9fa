-- authd schema, PostgreSQL flavour. Keep in step with ../sqlite/0001_init.sql: the same
-- tables, columns and constraint names, so one set of queries serves both databases.

-- A user. `username` is the name as entered after trimming and NFKC normalisation;
-- `username_key` is its case-folded form and the only thing compared, so "Alice" and
-- "alice" are one user. Uniqueness is the database's job (the constraint), not only code's:
-- the API maps a violation of users_username_key to 409 username_taken.
CREATE TABLE users (
    id            UUID        NOT NULL PRIMARY KEY,
    username      TEXT        NOT NULL,
    username_key  TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,              -- PHC string, argon2id
    roles         JSONB       NOT NULL DEFAULT '[]', -- array of strings
    disabled      BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username_key)
);

-- A login session: what the `sid` claim names and what revocation acts on.
-- `expires_at` slides forward with each refresh (the newest refresh token's expiry).
CREATE TABLE sessions (
    id             UUID        NOT NULL PRIMARY KEY,
    user_id        UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TIMESTAMPTZ NOT NULL,
    refreshed_at   TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ,   -- set once, never cleared
    revoked_reason TEXT           -- logout, password_change, refresh_token_reuse, admin, ...
);
CREATE INDEX sessions_user_id ON sessions (user_id);
-- Every replica polls "revoked since T" to keep its in-memory revoked set current.
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- A refresh token. The token the client holds is `id` (a random selector) plus a
-- 256-bit secret; only the secret's SHA-256 is stored. Rotation sets `spent_at` with a
-- conditional update (only where it is still NULL): under READ COMMITTED a concurrent
-- second update waits for the first, re-checks the condition and updates nothing.
CREATE TABLE refresh_tokens (
    id          UUID        NOT NULL PRIMARY KEY,
    session_id  UUID        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    secret_hash BYTEA       NOT NULL,
    issued_at   TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    spent_at    TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- Account recovery by email (API.md, "Account recovery: email"). PostgreSQL flavour; keep
-- in step with ../sqlite/0009_email.sql: the same tables, columns and constraint names.

-- A user's addresses. `email` is the verified one (NULL until an address is verified);
-- `email_key` is its lower-cased form, the only thing compared, and unique among verified
-- addresses alone: a pending address is never refused as taken (no answer may say that an
-- address is in use), so it is held apart in `pending_email` until its owner proves it.
-- A UNIQUE index lets any number of NULLs through (users with no verified address).
ALTER TABLE users ADD COLUMN email         TEXT;
ALTER TABLE users ADD COLUMN email_key     TEXT;
ALTER TABLE users ADD COLUMN pending_email TEXT;
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- One-time tokens sent by email: `verify` (proves an address) and `reset` (sets a new
-- password). The token the user holds is 256 random bits; only its SHA-256 is stored, so
-- a copy of the database buys no token. Each token is bound to the state it was issued
-- for: `email` is the address it went to (a verify token works only while that address is
-- still pending, a reset token only while it is still the verified one), and
-- `password_stamp` is the SHA-256 of the password hash at issue (every token dies when the
-- password changes). `spent_at` is set once by a conditional update (`spent_at IS NULL`),
-- so of concurrent uses exactly one wins.
CREATE TABLE email_tokens (
    token_hash     BYTEA       NOT NULL PRIMARY KEY,
    user_id        UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose        TEXT        NOT NULL,
    email          TEXT        NOT NULL,
    password_stamp BYTEA       NOT NULL,
    issued_at      TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    spent_at       TIMESTAMPTZ,
    CONSTRAINT email_tokens_purpose CHECK (purpose IN ('verify', 'reset'))
);
CREATE INDEX email_tokens_user_id ON email_tokens (user_id);
-- The purge deletes expired tokens, and spent ones, in small batches (purge.rs).
CREATE INDEX email_tokens_expires_at ON email_tokens (expires_at);
CREATE INDEX email_tokens_spent_at ON email_tokens (spent_at) WHERE spent_at IS NOT NULL;

-- Password-reset requests, throttled like logins (the same statements, user-store's
-- throttle.rs) per client address and per target (email or username), in a table of
-- their own so that a reset request never spends a login's budget. `request_key` is
-- `address:<ip or /64>` or `target:<lower-cased email or username key>`.
CREATE TABLE recovery_requests (
    request_key     TEXT        NOT NULL PRIMARY KEY,
    failures        INTEGER     NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    blocked_until   TIMESTAMPTZ
);
CREATE INDEX recovery_requests_last_failure_at ON recovery_requests (last_failure_at);

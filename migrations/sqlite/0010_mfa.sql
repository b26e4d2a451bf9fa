-- Second factor: TOTP factors, recovery codes, and the challenges behind `mfa_token`
-- (API.md, "Second factor: TOTP and recovery codes"). SQLite flavour; keep in step with
-- ../postgres/0010_mfa.sql: the same tables, columns and constraint names.

-- A user's TOTP factor (RFC 6238). One per user and kind (the constraint): enrolling
-- again replaces a pending factor in one statement (`ON CONFLICT ... WHERE confirmed_at
-- IS NULL`) and leaves an active one alone (409 mfa_already_enabled).
--
-- `secret` is the 160-bit shared key itself, not a hash: verifying a code needs it
-- (RFC 6238 §4: both sides compute HMAC-SHA-1 over the time step). Encrypting it under a
-- key kept in this same database would add nothing against whoever can read the
-- database; a key held outside it would (a follow-up, see the README). Until then it is
-- kept out of every answer but the enrolment's, out of every log line (user-store never
-- derives Debug or Serialize on it), and from `sessions` and `events` alike.
--
-- `confirmed_at` NULL: pending (enrolled, not yet confirmed with a code and the password);
-- set: active. `last_step` is the RFC 6238 time step (T) of the last code accepted:
-- a code is accepted only for a later step, by a conditional update, so a code (or an
-- older one) is never accepted twice, even by two requests at once (RFC 6238 §5.2).
CREATE TABLE mfa_factors (
    id           BLOB    NOT NULL PRIMARY KEY,
    user_id      BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('totp')),
    secret       BLOB    NOT NULL,
    created_at   TEXT    NOT NULL,
    confirmed_at TEXT,
    last_step    INTEGER,
    CONSTRAINT mfa_factors_user_kind_key UNIQUE (user_id, kind)
);

-- Single-use recovery codes, ten per confirmed factor. Only SHA-256(user id || the
-- normalised code) is stored: 50 random bits are too many to guess online, and the user id
-- in the hash stops one table of precomputed hashes serving every user. `used_at` is set by
-- a conditional update (only where still NULL), so of two requests with one code exactly
-- one wins. A new confirmation replaces the user's codes.
CREATE TABLE recovery_codes (
    id        BLOB NOT NULL PRIMARY KEY,
    user_id   BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    created_at TEXT NOT NULL,
    used_at   TEXT,
    CONSTRAINT recovery_codes_user_code_key UNIQUE (user_id, code_hash)
);

-- The first step of a login with a second factor: the right password was given, the code
-- is still to come. The client holds a 256-bit random `mfa_token`; only its SHA-256 is
-- stored (the key, looked up directly: the token's entropy makes guessing pointless).
-- `password_hash` is the hash the password was verified against, so that completing the
-- login opens a session only if the password has not changed meanwhile (as a login does);
-- it never leaves the database. Five wrong codes, or one right one, set `spent_at`; the
-- purge deletes spent and expired rows.
CREATE TABLE mfa_challenges (
    token_hash    BLOB    NOT NULL PRIMARY KEY,
    user_id       BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    spent_at      TEXT
);
CREATE INDEX mfa_challenges_user_id ON mfa_challenges (user_id);
CREATE INDEX mfa_challenges_expires_at ON mfa_challenges (expires_at);

-- How each session was authenticated (RFC 8176 `amr` values, a JSON array): every access
-- token of the session carries it, refreshes included. Sessions opened before this
-- migration were opened with a password alone.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '["pwd"]';

-- OAuth clients (service accounts, RFC 6749 §2), registered by an admin. Keep in step
-- with ../postgres/0011_clients.sql, which explains each column: the secret's SHA-256
-- (256 random bits need no slow hash), and the current token generation (every token's
-- `sid`, revoked like a session).
CREATE TABLE clients (
    id          BLOB NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    roles       TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    secret_hash BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    generation  BLOB NOT NULL
);

-- A client's token generations; read by the revocation poll like sessions.revoked_at.
-- No foreign key: a deleted client's generations outlive it until its tokens expire.
CREATE TABLE client_generations (
    id             BLOB NOT NULL PRIMARY KEY,
    client_id      BLOB NOT NULL,
    created_at     TEXT NOT NULL,
    revoked_at     TEXT,
    revoked_reason TEXT           -- token_revoked, client_deleted
);
CREATE INDEX client_generations_client_id ON client_generations (client_id);
CREATE INDEX client_generations_revoked_at ON client_generations (revoked_at)
    WHERE revoked_at IS NOT NULL;

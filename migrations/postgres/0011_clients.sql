-- OAuth clients (service accounts, RFC 6749 §2), registered by an admin. Keep in step
-- with ../sqlite/0011_clients.sql.
--
-- `secret_hash` is the SHA-256 of the secret, a 256-bit random string shown once: no slow
-- hash, since nobody can guess 256 random bits and SHA-256 cannot be inverted; it keeps
-- the client credentials grant cheap. Compared in constant time by auth-core.
-- `generation` names the client's current token generation: the `sid` of every token the
-- client obtains, so that revoking one of its tokens (RFC 7009) revokes them all, exactly
-- as a session's revocation does for a user. Names are not unique (API.md).
CREATE TABLE clients (
    id          UUID        NOT NULL PRIMARY KEY,
    name        TEXT        NOT NULL,
    roles       JSONB       NOT NULL DEFAULT '[]', -- array of strings
    secret_hash BYTEA       NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    generation  UUID        NOT NULL
);

-- A client's token generations, old and current. A generation is revoked like a session
-- (`revoked_at` set once, never cleared): when one of its tokens is revoked (a new
-- generation then becomes current) or the client is deleted. Every replica's revocation
-- feed reads these rows as it reads sessions.revoked_at, and the trigger below announces
-- them on the same channel, so a deleted client's tokens are refused everywhere within the
-- same 2 s as a revoked session's. No foreign key to clients on purpose: a deleted
-- client's generations must outlive it until its last token has expired (then purged).
CREATE TABLE client_generations (
    id             UUID        NOT NULL PRIMARY KEY,
    client_id      UUID        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ,
    revoked_reason TEXT           -- token_revoked, client_deleted
);
CREATE INDEX client_generations_client_id ON client_generations (client_id);
CREATE INDEX client_generations_revoked_at ON client_generations (revoked_at)
    WHERE revoked_at IS NOT NULL;

-- The same announcement as sessions' (migration 0005): the payload is the revoked id,
-- which the listeners add to their revoked set whatever it names.
CREATE TRIGGER client_generations_revoked
    AFTER UPDATE OF revoked_at ON client_generations
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION authd_notify_revocation();

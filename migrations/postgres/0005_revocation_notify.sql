-- Every replica keeps the revoked sessions in memory. To learn of a revocation made by
-- another replica (or by `authd` commands) at once rather than at its next poll, each
-- listens on the channel `authd_revocations`; this trigger announces every session whose
-- revoked_at goes from NULL to a time, whichever statement did it. NOTIFY is delivered
-- at commit, so listeners never hear of a revocation that rolled back. The payload is the
-- session id. The poll of sessions.revoked_at stays, as the catch-up after a lost
-- connection and for SQLite, which has no NOTIFY.
CREATE FUNCTION authd_notify_revocation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authd_revocations', NEW.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_revoked
    AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION authd_notify_revocation();

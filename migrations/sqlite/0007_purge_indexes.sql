-- Housekeeping (the purge, user-store's purge.rs) deletes rows that can no longer matter,
-- a small batch at a time: `DELETE ... WHERE <key> IN (SELECT <key> ... WHERE <column> <
-- cutoff LIMIT n)`. These indexes make each batch's selection a range scan over what is
-- to go, instead of a scan of the whole table every batch.
-- (Deleting revoked sessions uses sessions_revoked_at, from 0001.)

-- Expired refresh tokens, spent or not.
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
-- Sessions that expired long enough ago.
CREATE INDEX sessions_expires_at ON sessions (expires_at);
-- Throttle rows whose last failure (and block) are older than the window.
CREATE INDEX login_failures_last_failure_at ON login_failures (last_failure_at);
CREATE INDEX address_login_failures_last_failure_at ON address_login_failures (last_failure_at);

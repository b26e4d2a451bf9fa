-- Keys that every replica must share and that no configuration provides, created once by
-- the first server to start (INSERT ... ON CONFLICT DO NOTHING, then read back), so that
-- replicas on one database agree without an operator distributing them.
--
-- `refresh_chain`: the HMAC-SHA-256 key that derives a refresh token's successor from
-- the token itself. A replay of a spent token within the reuse grace must be answered
-- with the very string the first rotation returned (one live token per session, never a
-- sibling chain); only hashes are stored, so any replica recomputes that string instead.
CREATE TABLE server_secrets (
    name       TEXT        NOT NULL PRIMARY KEY,
    value      BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

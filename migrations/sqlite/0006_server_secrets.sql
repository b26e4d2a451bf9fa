-- Keys that every replica must share and that no configuration provides, created once by
-- the first server to start (INSERT ... ON CONFLICT DO NOTHING, then read back).
-- Keep in step with ../postgres/0006_server_secrets.sql, which explains each key.
CREATE TABLE server_secrets (
    name       TEXT NOT NULL PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at TEXT NOT NULL
);

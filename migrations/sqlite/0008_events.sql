-- Security events (API.md, "Security events"), SQLite flavour. Keep in step with
-- ../postgres/0008_events.sql: the same table, columns and index names.
--
-- Append-only: a row is inserted in the same transaction as the change it records (so an
-- event exists exactly when its change committed) and never updated; only the purge
-- deletes it, once it is older than EVENT_RETENTION (the `events_at` index).
--
-- `id` is a UUID v7: time-ordered, so "newest first" is `ORDER BY id DESC` on the primary
-- key, and a page's cursor (`after`, the last id of the previous page) is `id < $after`,
-- as the admin users list pages by id.
--
-- `user_id` has no foreign key on purpose: the record of what happened to an account
-- must outlive the account for the retention (a cascade would erase the evidence with
-- the user), and a failed login for an unknown name has no user at all (NULL).
--
-- `type` is the contract's name (login_succeeded, roles_changed, ...), checked by the
-- code's enum rather than a CHECK constraint: a new type then needs no migration, and a
-- replica of an older version can still list what a newer one wrote.
--
-- `ip` is the client address as TRUSTED_PROXIES resolves it (text: IPv4 or IPv6), NULL
-- for the CLI; `user_agent` is bounded by the code; `detail` is a small JSON object (for
-- example the roles before and after) and never holds a password, token, hash or secret.
CREATE TABLE events (
    id         BLOB NOT NULL PRIMARY KEY,
    at         TEXT NOT NULL,
    type       TEXT NOT NULL,
    user_id    BLOB,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT NOT NULL DEFAULT '{}' -- JSON object
);
-- One user's events, newest first, a page at a time: `user_id = $u AND id < $after`.
CREATE INDEX events_user_id_id ON events (user_id, id);
-- One type's events, newest first, a page at a time: `type = $t AND id < $after`.
CREATE INDEX events_type_id ON events (type, id);
-- The purge: events older than the retention.
CREATE INDEX events_at ON events (at);

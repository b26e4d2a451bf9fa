-- Failed logins per username, for brute-force throttling. Keyed by the normalised,
-- case-folded name whether or not such a user exists (so the throttle does not tell who
-- exists), and held here rather than in memory so every replica agrees.
CREATE TABLE login_failures (
    username_key    TEXT    NOT NULL PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at TEXT    NOT NULL,
    blocked_until   TEXT              -- no login for this name before then, right password or not
);

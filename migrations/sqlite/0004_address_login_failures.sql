-- Failed logins per client address, for the optional per-address limit
-- (LOGIN_IP_FREE_FAILURES). The same shape as login_failures, in a table of its own so
-- that no username can ever name an address's counter. `address` is an IPv4 address, or
-- an IPv6 /64 prefix (one subscriber usually holds a whole /64).
CREATE TABLE address_login_failures (
    address         TEXT    NOT NULL PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at TEXT    NOT NULL,
    blocked_until   TEXT
);

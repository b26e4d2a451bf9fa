-- Asymmetric signing keys (RS256, ES256, EdDSA), shared by every replica: each reloads
-- this table every few seconds, so a rotation needs no restart anywhere.
--
-- A key signs from `activates_at` until a later key activates; `authd keys rotate`
-- sets it in the future so every replica (and JWKS caches) know the key before it signs.
-- A key stops verifying once the last token it signed has expired (computed from the
-- next key's activation and the access-token lifetime) or when it is retired by hand.
--
-- The private key is stored as PKCS#8 PEM: whoever reads this table can sign tokens, so
-- grant it like the signing key file it replaces.
CREATE TABLE signing_keys (
    kid          TEXT        NOT NULL PRIMARY KEY, -- RFC 7638 thumbprint of the public key
    alg          TEXT        NOT NULL,
    private_key  TEXT        NOT NULL,
    created_at   TEXT        NOT NULL,
    activates_at TEXT        NOT NULL,
    retired_at   TEXT
);

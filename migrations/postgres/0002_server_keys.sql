-- Federation signing keys: our own public keys (current and expired, for /_matrix/key/v2/server's
-- old_verify_keys) and the keys of remote servers we fetched (for verifying their signatures).
-- The private half of our key lives in the data directory, never in the database.

CREATE TABLE server_signing_keys (
    key_id         TEXT   NOT NULL PRIMARY KEY,
    public_key     BYTEA  NOT NULL,
    valid_until_ts BIGINT NOT NULL,
    expired_ts     BIGINT
);

-- source: the server that told us the key (the origin itself or a notary).
-- key_json: the signed /_matrix/key/v2/server response as received, for notary re-serving.
CREATE TABLE remote_server_keys (
    server_name    TEXT   NOT NULL,
    key_id         TEXT   NOT NULL,
    public_key     BYTEA  NOT NULL,
    valid_until_ts BIGINT NOT NULL,
    expired_ts     BIGINT,
    fetched_ts     BIGINT NOT NULL,
    source         TEXT   NOT NULL,
    key_json       TEXT,
    PRIMARY KEY (server_name, key_id)
);

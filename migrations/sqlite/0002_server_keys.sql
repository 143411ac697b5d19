-- Federation signing keys: our own public keys (current and expired, for /_matrix/key/v2/server's
-- old_verify_keys) and the keys of remote servers we fetched (for verifying their signatures).
-- The private half of our key lives in the data directory, never in the database.

CREATE TABLE server_signing_keys (
    key_id         TEXT    NOT NULL PRIMARY KEY,
    public_key     BLOB    NOT NULL,
    valid_until_ts INTEGER NOT NULL,
    expired_ts     INTEGER
) STRICT, WITHOUT ROWID;

-- source: the server that told us the key (the origin itself or a notary).
-- key_json: the signed /_matrix/key/v2/server response as received, for notary re-serving.
CREATE TABLE remote_server_keys (
    server_name    TEXT    NOT NULL,
    key_id         TEXT    NOT NULL,
    public_key     BLOB    NOT NULL,
    valid_until_ts INTEGER NOT NULL,
    expired_ts     INTEGER,
    fetched_ts     INTEGER NOT NULL,
    source         TEXT    NOT NULL,
    key_json       TEXT,
    PRIMARY KEY (server_name, key_id)
) STRICT, WITHOUT ROWID;

-- End-to-end encryption: the keys clients publish (device keys, one-time keys, fallback keys, cross-signing
-- keys and the signatures users make over each other's keys), the to-device inbox, the device-list change
-- stream that /sync and /keys/changes read, the cache of remote users' devices, and server-side key backups.
--
-- Key objects are stored as the JSON text the client signed (never re-serialised and re-signed). Rows of a
-- local device go when the device goes (foreign keys with ON DELETE CASCADE).

INSERT INTO stream_positions (stream, position) VALUES ('to_device', 0), ('device_lists', 0);

-- The identity keys of a local device, as uploaded and signed by the device (signatures by others are kept
-- apart in e2e_cross_signing_signatures and merged when the keys are queried).
CREATE TABLE e2e_device_keys (
    user_id   TEXT    NOT NULL,
    device_id TEXT    NOT NULL,
    key_json  TEXT    NOT NULL,
    PRIMARY KEY (user_id, device_id),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Unclaimed one-time keys; claiming deletes the row, so each key is handed out once.
CREATE TABLE e2e_one_time_keys (
    user_id   TEXT    NOT NULL,
    device_id TEXT    NOT NULL,
    algorithm TEXT    NOT NULL,
    key_id    TEXT    NOT NULL,
    key_json  TEXT    NOT NULL,
    PRIMARY KEY (user_id, device_id, algorithm, key_id),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- At most one fallback key per device and algorithm; `used` once it was handed out by a claim.
CREATE TABLE e2e_fallback_keys (
    user_id   TEXT    NOT NULL,
    device_id TEXT    NOT NULL,
    algorithm TEXT    NOT NULL,
    key_id    TEXT    NOT NULL,
    key_json  TEXT    NOT NULL,
    used      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, device_id, algorithm),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- The current cross-signing keys of local and remote users (key_type: master, self_signing, user_signing);
-- public_key is the unpadded base64 ed25519 key, which signatures name as their key ID.
CREATE TABLE e2e_cross_signing_keys (
    user_id    TEXT    NOT NULL,
    key_type   TEXT    NOT NULL CHECK (key_type IN ('master', 'self_signing', 'user_signing')),
    public_key TEXT    NOT NULL,
    key_json   TEXT    NOT NULL,
    PRIMARY KEY (user_id, key_type)
) STRICT, WITHOUT ROWID;

-- Signatures uploaded through /keys/signatures/upload: signer's key (a device ID or a cross-signing public
-- key) over the target's key (a device ID or a cross-signing public key).
CREATE TABLE e2e_cross_signing_signatures (
    signer_user_id TEXT NOT NULL,
    signer_key_id  TEXT NOT NULL,
    target_user_id TEXT NOT NULL,
    target_key_id  TEXT NOT NULL,
    signature      TEXT NOT NULL,
    PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
) STRICT, WITHOUT ROWID;

-- One row per change of a user's devices or keys (local or remote user), at a position of the device_lists
-- stream. device_id is '' for a change of the user's cross-signing keys.
CREATE TABLE device_list_changes (
    stream_id INTEGER NOT NULL PRIMARY KEY,
    user_id   TEXT    NOT NULL,
    device_id TEXT    NOT NULL
) STRICT;

CREATE INDEX device_list_changes_user ON device_list_changes (user_id, stream_id);

-- To-device messages waiting for a local device, one stream position each; deleted once the device syncs
-- with a token past them.
CREATE TABLE to_device_inbox (
    stream_id  INTEGER NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    device_id  TEXT    NOT NULL,
    sender     TEXT    NOT NULL,
    event_type TEXT    NOT NULL,
    content    TEXT    NOT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX to_device_inbox_device ON to_device_inbox (user_id, device_id, stream_id);

-- Transaction IDs of /sendToDevice already handled, per sending device (idempotence), and of inbound
-- m.direct_to_device EDUs per origin (message_id), so a retried send is delivered once.
CREATE TABLE to_device_txns (
    sender    TEXT    NOT NULL,
    device_id TEXT    NOT NULL,
    txn_id    TEXT    NOT NULL,
    ts        INTEGER NOT NULL,
    PRIMARY KEY (sender, device_id, txn_id)
) STRICT, WITHOUT ROWID;

-- What this server knows of a remote user's device list: the origin's stream ID of the last update applied,
-- and whether the cache must be refreshed with /user/devices before it is trusted.
CREATE TABLE remote_device_lists (
    user_id    TEXT    NOT NULL PRIMARY KEY,
    stream_id  INTEGER NOT NULL,
    stale      INTEGER NOT NULL DEFAULT 0,
    updated_ts INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE remote_devices (
    user_id      TEXT NOT NULL REFERENCES remote_device_lists (user_id) ON DELETE CASCADE,
    device_id    TEXT NOT NULL,
    display_name TEXT,
    key_json     TEXT,
    PRIMARY KEY (user_id, device_id)
) STRICT, WITHOUT ROWID;

-- Server-side key backups: versions count from 1 per user and are never reused (deleted ones stay, flagged);
-- etag changes whenever the keys of the version change.
CREATE TABLE e2e_room_keys_versions (
    user_id   TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    version   INTEGER NOT NULL,
    algorithm TEXT    NOT NULL,
    auth_data TEXT    NOT NULL,
    etag      INTEGER NOT NULL DEFAULT 0,
    deleted   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE e2e_room_keys (
    user_id             TEXT    NOT NULL,
    version             INTEGER NOT NULL,
    room_id             TEXT    NOT NULL,
    session_id          TEXT    NOT NULL,
    first_message_index INTEGER NOT NULL,
    forwarded_count     INTEGER NOT NULL,
    is_verified         INTEGER NOT NULL,
    session_data        TEXT    NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id),
    FOREIGN KEY (user_id, version) REFERENCES e2e_room_keys_versions (user_id, version) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

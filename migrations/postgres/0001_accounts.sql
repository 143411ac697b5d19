-- Accounts: users, their devices, access tokens (stored as SHA-256 hashes) and registration tokens.
-- Timestamps are milliseconds since the Unix epoch.

CREATE TABLE users (
    user_id       TEXT    NOT NULL PRIMARY KEY,
    password_hash TEXT,
    created_ts    BIGINT  NOT NULL,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    is_guest      BOOLEAN NOT NULL DEFAULT FALSE,
    deactivated   BOOLEAN NOT NULL DEFAULT FALSE,
    displayname   TEXT,
    avatar_url    TEXT
);

CREATE TABLE devices (
    user_id      TEXT   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id    TEXT   NOT NULL,
    display_name TEXT,
    created_ts   BIGINT NOT NULL,
    last_seen_ts BIGINT,
    last_seen_ip TEXT,
    PRIMARY KEY (user_id, device_id)
);

-- device_id is NULL for tokens not bound to a device (e.g. admin or appservice tokens); a NULL
-- column disables the composite foreign key for that row (MATCH SIMPLE).
CREATE TABLE access_tokens (
    token_hash BYTEA  NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    TEXT   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id  TEXT,
    created_ts BIGINT NOT NULL,
    expires_ts BIGINT,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

CREATE INDEX access_tokens_by_device ON access_tokens (user_id, device_id);

-- A token is usable while pending + completed < uses_allowed (NULL: unlimited) and before
-- expiry_ts (NULL: never). pending counts registrations in flight that reserved a use.
CREATE TABLE registration_tokens (
    token        TEXT   NOT NULL PRIMARY KEY,
    uses_allowed BIGINT CHECK (uses_allowed IS NULL OR uses_allowed >= 0),
    pending      BIGINT NOT NULL DEFAULT 0 CHECK (pending >= 0),
    completed    BIGINT NOT NULL DEFAULT 0 CHECK (completed >= 0),
    expiry_ts    BIGINT,
    created_ts   BIGINT NOT NULL
);

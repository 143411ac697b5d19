-- Accounts: users, their devices, access tokens (stored as SHA-256 hashes) and registration tokens.
-- Timestamps are milliseconds since the Unix epoch. Booleans are 0/1 integers (STRICT tables).

CREATE TABLE users (
    user_id       TEXT    NOT NULL PRIMARY KEY,
    password_hash TEXT,
    created_ts    INTEGER NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    is_guest      INTEGER NOT NULL DEFAULT 0 CHECK (is_guest IN (0, 1)),
    deactivated   INTEGER NOT NULL DEFAULT 0 CHECK (deactivated IN (0, 1)),
    displayname   TEXT,
    avatar_url    TEXT
) STRICT, WITHOUT ROWID;

CREATE TABLE devices (
    user_id      TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id    TEXT    NOT NULL,
    display_name TEXT,
    created_ts   INTEGER NOT NULL,
    last_seen_ts INTEGER,
    last_seen_ip TEXT,
    PRIMARY KEY (user_id, device_id)
) STRICT, WITHOUT ROWID;

-- device_id is NULL for tokens not bound to a device (e.g. admin or appservice tokens); a NULL
-- column disables the composite foreign key for that row, as in PostgreSQL (MATCH SIMPLE).
CREATE TABLE access_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id  TEXT,
    created_ts INTEGER NOT NULL,
    expires_ts INTEGER,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX access_tokens_by_device ON access_tokens (user_id, device_id);

-- A token is usable while pending + completed < uses_allowed (NULL: unlimited) and before
-- expiry_ts (NULL: never). pending counts registrations in flight that reserved a use.
CREATE TABLE registration_tokens (
    token        TEXT    NOT NULL PRIMARY KEY,
    uses_allowed INTEGER CHECK (uses_allowed IS NULL OR uses_allowed >= 0),
    pending      INTEGER NOT NULL DEFAULT 0 CHECK (pending >= 0),
    completed    INTEGER NOT NULL DEFAULT 0 CHECK (completed >= 0),
    expiry_ts    INTEGER,
    created_ts   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

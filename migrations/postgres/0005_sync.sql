-- Per-user sync data beside the room timeline: account data (global and per room), filters, read receipts and
-- presence, plus the stream counters that give each of those streams its /sync position.
--
-- stream_positions holds one monotonically increasing counter per stream. A writer bumps the counter and writes
-- its row in ONE transaction; because the counter row is locked until commit, positions become visible in order,
-- so a reader that saw position N has seen every change up to N. Positions are part of /sync tokens and must
-- survive restarts, hence a table and not an in-memory counter.

CREATE TABLE stream_positions (
    stream   TEXT    NOT NULL PRIMARY KEY,
    position BIGINT  NOT NULL CHECK (position >= 0)
);

INSERT INTO stream_positions (stream, position) VALUES ('account_data', 0), ('receipts', 0), ('presence', 0);

-- room_id is '' for global account data. content is the JSON object as the client sent it (text).
CREATE TABLE account_data (
    user_id    TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    room_id    TEXT    NOT NULL,
    data_type  TEXT    NOT NULL,
    content    TEXT    NOT NULL,
    stream_id  BIGINT  NOT NULL,
    PRIMARY KEY (user_id, room_id, data_type)
);

CREATE INDEX account_data_by_stream ON account_data (user_id, stream_id);

-- filter_id counts per user from 0; definition is the filter JSON as uploaded (text).
CREATE TABLE filters (
    user_id    TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    filter_id  BIGINT  NOT NULL CHECK (filter_id >= 0),
    definition TEXT    NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);

-- One receipt per (room, type, user, thread); thread_id is '' for unthreaded receipts. No foreign key to
-- events: receipts from other servers may name events this server has not seen yet.
CREATE TABLE receipts (
    room_id      TEXT    NOT NULL,
    receipt_type TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    thread_id    TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    ts           BIGINT  NOT NULL,
    stream_id    BIGINT  NOT NULL,
    PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);

CREATE INDEX receipts_by_room_stream ON receipts (room_id, stream_id);

-- The last presence each user set; last_active_ts is the last time they were seen active.
CREATE TABLE presence (
    user_id          TEXT    NOT NULL PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    state            TEXT    NOT NULL CHECK (state IN ('online', 'offline', 'unavailable')),
    status_msg       TEXT,
    last_active_ts   BIGINT  NOT NULL,
    stream_id        BIGINT  NOT NULL
);

CREATE INDEX presence_by_stream ON presence (stream_id);

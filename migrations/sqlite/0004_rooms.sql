-- The event store: rooms, events (the PDUs exactly as signed), the DAG's forward extremities, the
-- current state, memberships, state snapshots stored as deltas (state groups), client transaction
-- IDs, relations, aliases. Timestamps are milliseconds since the Unix epoch.

-- current_state_group: the state after the room's newest event (NULL before the create event).
CREATE TABLE rooms (
    room_id             TEXT    NOT NULL PRIMARY KEY,
    room_version        TEXT    NOT NULL,
    creator             TEXT    NOT NULL,
    created_ts          INTEGER NOT NULL,
    is_public           INTEGER NOT NULL DEFAULT 0,
    current_state_group INTEGER
) STRICT;

-- A state snapshot: its own entries (state_group_entries) over those of parent_group.
-- chain_length bounds how many deltas a read walks (a full snapshot starts a new chain).
CREATE TABLE state_groups (
    state_group  INTEGER NOT NULL PRIMARY KEY,
    room_id      TEXT    NOT NULL REFERENCES rooms (room_id),
    parent_group INTEGER REFERENCES state_groups (state_group),
    chain_length INTEGER NOT NULL
) STRICT;

CREATE TABLE state_group_entries (
    state_group INTEGER NOT NULL REFERENCES state_groups (state_group),
    type        TEXT    NOT NULL,
    state_key   TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    PRIMARY KEY (state_group, type, state_key)
) STRICT, WITHOUT ROWID;

-- stream_ordering: global, increasing position (the /sync and /messages position).
-- json: the PDU exactly as signed (canonical JSON, no `unsigned`).
-- state_group: the state after this event (for a state event, its parent group is the state before).
CREATE TABLE events (
    stream_ordering  INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT    NOT NULL UNIQUE,
    room_id          TEXT    NOT NULL REFERENCES rooms (room_id),
    type             TEXT    NOT NULL,
    state_key        TEXT,
    sender           TEXT    NOT NULL,
    depth            INTEGER NOT NULL,
    origin_server_ts INTEGER NOT NULL,
    json             TEXT    NOT NULL,
    state_group      INTEGER REFERENCES state_groups (state_group),
    outlier          INTEGER NOT NULL DEFAULT 0,
    rejected         INTEGER NOT NULL DEFAULT 0,
    soft_failed      INTEGER NOT NULL DEFAULT 0,
    redacted_by      TEXT
) STRICT;

CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE INDEX events_room_depth ON events (room_id, depth, stream_ordering);

-- The DAG edges, for federation's get_missing_events and backfill.
CREATE TABLE event_edges (
    event_id      TEXT NOT NULL,
    prev_event_id TEXT NOT NULL,
    PRIMARY KEY (event_id, prev_event_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX event_edges_prev ON event_edges (prev_event_id);

CREATE TABLE room_forward_extremities (
    room_id  TEXT NOT NULL REFERENCES rooms (room_id),
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE current_state (
    room_id   TEXT NOT NULL REFERENCES rooms (room_id),
    type      TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    PRIMARY KEY (room_id, type, state_key)
) STRICT, WITHOUT ROWID;

-- The latest membership of each user in each room; forgotten rooms are hidden from the user.
CREATE TABLE room_memberships (
    room_id         TEXT    NOT NULL REFERENCES rooms (room_id),
    user_id         TEXT    NOT NULL,
    membership      TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    sender          TEXT    NOT NULL,
    stream_ordering INTEGER NOT NULL,
    forgotten       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX room_memberships_user ON room_memberships (user_id, membership);

-- Client transaction IDs: a retried PUT /send with the same (user, device, txn) returns the same event.
CREATE TABLE event_txn_ids (
    user_id    TEXT    NOT NULL,
    device_id  TEXT    NOT NULL,
    txn_id     TEXT    NOT NULL,
    event_id   TEXT    NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX event_txn_ids_event ON event_txn_ids (event_id);

-- m.relates_to of every event that has one, for /relations and bundled aggregations.
CREATE TABLE event_relations (
    event_id        TEXT NOT NULL PRIMARY KEY,
    room_id         TEXT NOT NULL,
    relates_to      TEXT NOT NULL,
    rel_type        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    sender          TEXT NOT NULL,
    aggregation_key TEXT
) STRICT, WITHOUT ROWID;

CREATE INDEX event_relations_target ON event_relations (relates_to, rel_type);

CREATE TABLE room_aliases (
    alias      TEXT    NOT NULL PRIMARY KEY,
    room_id    TEXT    NOT NULL REFERENCES rooms (room_id),
    creator    TEXT    NOT NULL,
    created_ts INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX room_aliases_room ON room_aliases (room_id);

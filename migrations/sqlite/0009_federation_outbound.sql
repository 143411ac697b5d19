-- The outbound federation queues: what this server still has to send to each other server, and each
-- destination's retry state. Timestamps are milliseconds since the Unix epoch.

-- The PDU fan-out follows the event stream: every local event after `stream_ordering` still has to be put into
-- the queues of the servers in its room. Moving this position and queueing the events happen in ONE transaction,
-- so an event persisted just before a crash is queued after the restart. Starts at the newest event, so a server
-- upgraded to this schema does not resend its whole history.
CREATE TABLE federation_fanout_position (
    id              INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    stream_ordering INTEGER NOT NULL
) STRICT;

INSERT INTO federation_fanout_position (id, stream_ordering)
    SELECT 1, COALESCE(MAX(stream_ordering), 0) FROM events;

-- One row per PDU (event_id) or EDU (edu, the JSON object) still to be sent to a destination, in queue_id
-- order. A row is deleted once a transaction carrying it was answered. expires_ts: an EDU not worth sending
-- any more after this time (typing notifications), NULL for never.
CREATE TABLE federation_outbound_queue (
    queue_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT    NOT NULL,
    event_id    TEXT,
    edu         TEXT,
    expires_ts  INTEGER,
    created_ts  INTEGER NOT NULL,
    CHECK ((event_id IS NULL) <> (edu IS NULL))
) STRICT;

CREATE INDEX federation_outbound_queue_destination ON federation_outbound_queue (destination, queue_id);

-- Retry state per destination: consecutive failures and when the next attempt may start (0: now).
CREATE TABLE federation_destinations (
    destination     TEXT    NOT NULL PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    retry_at_ts     INTEGER NOT NULL DEFAULT 0,
    last_success_ts INTEGER,
    last_error      TEXT
) STRICT, WITHOUT ROWID;

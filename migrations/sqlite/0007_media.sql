-- The media repository's metadata. The bytes live on disk under <data_dir>/media/, content-addressed by SHA-256
-- (docs/media.md); these tables say which media IDs and thumbnails point at which content.
--
-- media_blobs has one row per stored file. Writers that add or remove a reference to a blob lock its row (upsert
-- or delete) in the same transaction that adds or removes the reference, so a file is never unlinked while a
-- concurrent upload of the same bytes is pointing a new media ID at it.

CREATE TABLE media_blobs (
    sha256     TEXT    NOT NULL PRIMARY KEY CHECK (length(sha256) = 64),
    size       INTEGER NOT NULL CHECK (size >= 0),
    created_ts INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- One row per mxc://origin/media_id, local (origin = this server) or a cached copy of remote media.
-- sha256 and size are NULL while an asynchronous upload (POST /media/v1/create) is pending; such a row expires
-- at unused_expires_ts. authenticated: created while [media] enable_authenticated_media was on, so the legacy
-- unauthenticated endpoints do not serve it (Synapse's semantics of the spec's "freeze").
CREATE TABLE media (
    origin            TEXT    NOT NULL,
    media_id          TEXT    NOT NULL,
    is_remote         INTEGER NOT NULL CHECK (is_remote IN (0, 1)),
    uploader          TEXT,
    content_type      TEXT    NOT NULL,
    upload_name       TEXT,
    size              INTEGER CHECK (size >= 0),
    sha256            TEXT    REFERENCES media_blobs (sha256),
    created_ts        INTEGER NOT NULL,
    uploaded_ts       INTEGER,
    unused_expires_ts INTEGER,
    quarantined       INTEGER NOT NULL DEFAULT 0 CHECK (quarantined IN (0, 1)),
    authenticated     INTEGER NOT NULL CHECK (authenticated IN (0, 1)),
    last_access_ts    INTEGER NOT NULL,
    PRIMARY KEY (origin, media_id)
) STRICT;

CREATE INDEX media_by_uploader ON media (uploader, created_ts);
CREATE INDEX media_by_sha256 ON media (sha256);
CREATE INDEX media_remote_by_access ON media (is_remote, last_access_ts);

-- Generated thumbnails of a media item, one per (width, height, method) asked for; their bytes are blobs too.
CREATE TABLE media_thumbnails (
    origin       TEXT    NOT NULL,
    media_id     TEXT    NOT NULL,
    width        INTEGER NOT NULL CHECK (width > 0),
    height       INTEGER NOT NULL CHECK (height > 0),
    method       TEXT    NOT NULL CHECK (method IN ('crop', 'scale')),
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 0),
    sha256       TEXT    NOT NULL REFERENCES media_blobs (sha256),
    created_ts   INTEGER NOT NULL,
    PRIMARY KEY (origin, media_id, width, height, method),
    FOREIGN KEY (origin, media_id) REFERENCES media (origin, media_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX media_thumbnails_by_sha256 ON media_thumbnails (sha256);

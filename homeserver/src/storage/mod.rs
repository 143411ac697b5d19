//! Storage: the one API over Hearth's database (SQLite or PostgreSQL). Being built.

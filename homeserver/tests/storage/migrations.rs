//! Schema migrations: applied once, idempotent, and a newer or altered schema is refused untouched.

use hearth::storage::{LATEST_SCHEMA_VERSION, Storage, StorageError};

use super::harness::{TestDb, user};

pub async fn connect_applies_all_migrations(db: &TestDb) {
    let storage = db.connect().await;
    assert_eq!(
        storage.schema_version().await.unwrap(),
        LATEST_SCHEMA_VERSION
    );
    let (tables, versions) = db.schema_fingerprint().await;
    for table in ["users", "devices", "access_tokens", "registration_tokens"] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing from {tables:?}"
        );
    }
    for table in [
        "server_signing_keys",
        "remote_server_keys",
        "schema_version",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing from {tables:?}"
        );
    }
    let recorded: Vec<i64> = versions.iter().map(|(v, _)| *v).collect();
    assert_eq!(recorded, (1..=LATEST_SCHEMA_VERSION).collect::<Vec<_>>());
    storage.close().await;
}

pub async fn migrations_are_idempotent_across_reconnects(db: &TestDb) {
    let storage = db.connect().await;
    storage
        .create_user(&user("@alice:hearth.test"))
        .await
        .unwrap();
    storage.close().await;
    let before = db.schema_fingerprint().await;

    let storage = db.connect().await;
    assert_eq!(
        storage.schema_version().await.unwrap(),
        LATEST_SCHEMA_VERSION
    );
    assert!(
        storage
            .get_user("@alice:hearth.test")
            .await
            .unwrap()
            .is_some()
    );
    storage.close().await;
    assert_eq!(
        db.schema_fingerprint().await,
        before,
        "reconnect changed the schema"
    );
}

pub async fn refuses_newer_schema_and_leaves_database_untouched(db: &TestDb) {
    db.connect().await.close().await;
    let newer = LATEST_SCHEMA_VERSION + 1;
    db.raw_execute(&format!(
        "INSERT INTO schema_version (version, name, checksum, applied_ts) \
         VALUES ({newer}, 'from_the_future', 'x', 0)"
    ))
    .await;
    let fingerprint = db.schema_fingerprint().await;
    let file = db.sqlite_file_bytes();

    let err = Storage::connect(&db.url)
        .await
        .expect_err("newer schema must be refused");
    match &err {
        StorageError::SchemaTooNew { db: found, binary } => {
            assert_eq!((*found, *binary), (newer, LATEST_SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "database schema version {newer} is newer than this Hearth binary supports \
             ({LATEST_SCHEMA_VERSION}); upgrade Hearth"
        )
    );
    assert_eq!(db.schema_fingerprint().await, fingerprint);
    assert_eq!(db.sqlite_file_bytes(), file, "SQLite file changed");
}

pub async fn refuses_newer_schema_before_creating_any_table(db: &TestDb) {
    db.raw_execute(
        "CREATE TABLE schema_version (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, \
         checksum TEXT NOT NULL, applied_ts BIGINT NOT NULL); \
         INSERT INTO schema_version VALUES (999, 'far_future', 'x', 0)",
    )
    .await;
    let err = Storage::connect(&db.url).await.expect_err("must refuse");
    assert!(
        matches!(err, StorageError::SchemaTooNew { db: 999, .. }),
        "{err:?}"
    );
    let (tables, _) = db.schema_fingerprint().await;
    assert!(
        !tables.iter().any(|t| t == "users"),
        "migrations ran on a refused database: {tables:?}"
    );
}

pub async fn refuses_database_whose_applied_migration_changed(db: &TestDb) {
    db.connect().await.close().await;
    db.raw_execute("UPDATE schema_version SET checksum = 'edited' WHERE version = 1")
        .await;
    let err = Storage::connect(&db.url).await.expect_err("must refuse");
    assert!(
        matches!(err, StorageError::MigrationChanged { version: 1, .. }),
        "{err:?}"
    );
}

//! Black-box tests of `hearth::storage`, every one run against BOTH backends: each test body is
//! written once as `async fn name(db: &TestDb)` in a file under `tests/storage/`, and
//! `on_both_backends!` generates the `sqlite::name` and `postgres::name` test functions from it.
//!
//! SQLite databases live in a temporary directory. PostgreSQL databases are created fresh per
//! test (`hearth_test_<pid>_<n>_<random>`) on the server at `HEARTH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432`) and dropped afterwards. An unreachable PostgreSQL fails
//! the tests loudly: `scripts/check` makes sure one is running.

#[path = "storage/accounts.rs"]
mod accounts;
#[path = "storage/harness.rs"]
mod harness;
#[path = "storage/keys.rs"]
mod keys;
#[path = "storage/migrations.rs"]
mod migrations;
#[path = "storage/registration_tokens.rs"]
mod registration_tokens;
#[path = "storage/sync_data.rs"]
mod sync_data;

/// Generates `sqlite::<name>` and `postgres::<name>` tests that call `<module>::<name>(&TestDb)`.
macro_rules! on_both_backends {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = crate::harness::TestDb::sqlite();
                    crate::$module::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = crate::harness::TestDb::postgres().await;
                    crate::$module::$name(&db).await;
                }
            )*
        }
    };
}

on_both_backends!(
    migrations::connect_applies_all_migrations,
    migrations::migrations_are_idempotent_across_reconnects,
    migrations::refuses_newer_schema_and_leaves_database_untouched,
    migrations::refuses_newer_schema_before_creating_any_table,
    migrations::refuses_database_whose_applied_migration_changed,
    accounts::creates_and_reads_user,
    accounts::rejects_duplicate_user_with_conflict,
    accounts::lists_users_in_pages,
    accounts::updates_password_admin_flag_and_profile,
    accounts::updates_of_unknown_user_report_not_found,
    accounts::deactivation_logs_user_out_everywhere,
    accounts::creates_lists_renames_and_deletes_devices,
    accounts::rejects_duplicate_device_and_device_of_unknown_user,
    accounts::looks_up_access_token_by_hash_with_owner_flags,
    accounts::deletes_access_tokens_by_token_user_and_device,
    accounts::deleting_device_deletes_its_tokens,
    accounts::concurrent_writes_all_succeed,
    registration_tokens::manages_registration_tokens,
    registration_tokens::registration_token_allows_exactly_its_uses_under_concurrency,
    registration_tokens::expired_or_unknown_registration_token_is_not_consumed,
    registration_tokens::registration_token_reservations_count_against_uses,
    keys::stores_own_signing_keys_including_expired,
    keys::stores_remote_keys_without_shortening_validity,
    sync_data::account_data_round_trips_and_advances_its_stream,
    sync_data::filters_get_increasing_ids_per_user,
    sync_data::receipts_replace_per_user_type_and_thread,
    sync_data::presence_is_replaced_and_streamed,
);

mod sqlite_only {
    use hearth::storage::Storage;
    use sqlx::{Connection, SqliteConnection};

    use crate::harness::{TestDb, user};

    #[tokio::test]
    async fn sqlite_database_uses_wal_and_creates_parent_directories() {
        let db = TestDb::sqlite();
        let storage = db.connect().await;
        let path = db.url.strip_prefix("sqlite://").unwrap();
        assert!(std::path::Path::new(path).exists(), "database file created");
        let mut conn = SqliteConnection::connect(&db.url).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        conn.close().await.unwrap();
        storage.close().await;
    }

    #[tokio::test]
    async fn in_memory_sqlite_database_works() {
        let storage = Storage::connect("sqlite::memory:").await.unwrap();
        storage
            .create_user(&user("@alice:hearth.test"))
            .await
            .unwrap();
        assert!(
            storage
                .get_user("@alice:hearth.test")
                .await
                .unwrap()
                .is_some()
        );
        storage.close().await;
    }
}

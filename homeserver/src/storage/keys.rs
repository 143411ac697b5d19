//! Federation signing keys: the public halves of our own keys (current and retired, which
//! `/_matrix/key/v2/server` publishes as `verify_keys` / `old_verify_keys`) and the cached
//! verify keys of remote servers. Public keys are raw 32-byte ed25519 keys, not base64.

use super::users::expect_one_row;
use super::{Result, Storage, in_write_tx, on_reader, on_writer};

/// One of our own signing keys.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServerSigningKey {
    /// Key ID, e.g. `ed25519:a_AbCd`; primary key.
    pub key_id: String,
    /// Raw ed25519 public key.
    pub public_key: Vec<u8>,
    /// Until when other servers may cache this key (ms since the epoch), as we publish it.
    pub valid_until_ts: i64,
    /// When the key was retired (ms since the epoch); `None` while it is in use. Retired keys
    /// stay so that old events remain verifiable.
    pub expired_ts: Option<i64>,
}

/// A remote server's verify key, as fetched from the server itself or a notary.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RemoteServerKey {
    /// The server that owns the key.
    pub server_name: String,
    /// Key ID, e.g. `ed25519:abc`.
    pub key_id: String,
    /// Raw ed25519 public key.
    pub public_key: Vec<u8>,
    /// The response's `valid_until_ts`: signatures made after it are not trusted with this key.
    pub valid_until_ts: i64,
    /// For keys listed in `old_verify_keys`: when the server retired them.
    pub expired_ts: Option<i64>,
    /// When we fetched it (ms since the epoch).
    pub fetched_ts: i64,
    /// Who told us: the origin server itself or the notary's server name.
    pub source: String,
    /// The signed key response exactly as received, to re-serve as a notary; `None` if not kept.
    pub key_json: Option<String>,
}

const SIGNING_KEY_COLUMNS: &str = "key_id, public_key, valid_until_ts, expired_ts";
const REMOTE_KEY_COLUMNS: &str = "server_name, key_id, public_key, valid_until_ts, expired_ts, \
                                  fetched_ts, source, key_json";

impl Storage {
    /// Inserts our signing key, or replaces the stored row with the same key ID (e.g. to extend
    /// `valid_until_ts` when republishing).
    pub async fn store_server_signing_key(&self, key: &ServerSigningKey) -> Result<()> {
        on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO server_signing_keys (key_id, public_key, valid_until_ts, expired_ts) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key, \
                 valid_until_ts = excluded.valid_until_ts, expired_ts = excluded.expired_ts",
            )
            .bind(&key.key_id)
            .bind(&key.public_key)
            .bind(key.valid_until_ts)
            .bind(key.expired_ts)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// All our signing keys, current and retired, ordered by key ID.
    pub async fn list_server_signing_keys(&self) -> Result<Vec<ServerSigningKey>> {
        let sql = format!("SELECT {SIGNING_KEY_COLUMNS} FROM server_signing_keys ORDER BY key_id");
        on_reader!(self, |pool| Ok(sqlx::query_as(&sql)
            .fetch_all(pool)
            .await?))
    }

    /// Marks one of our keys as retired at `expired_ts`. `NotFound("server signing key")` if
    /// absent.
    pub async fn expire_server_signing_key(&self, key_id: &str, expired_ts: i64) -> Result<()> {
        let affected = on_writer!(self, |pool| {
            sqlx::query("UPDATE server_signing_keys SET expired_ts = $2 WHERE key_id = $1")
                .bind(key_id)
                .bind(expired_ts)
                .execute(pool)
                .await?
                .rows_affected()
        });
        expect_one_row(affected, "server signing key")
    }

    /// Caches remote keys, all in one transaction. For a key already stored, the incoming row
    /// replaces it only if its `valid_until_ts` is not older, so a stale notary answer cannot
    /// shorten a validity period learned earlier.
    pub async fn store_remote_server_keys(&self, keys: &[RemoteServerKey]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO remote_server_keys ({REMOTE_KEY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (server_name, key_id) DO UPDATE SET public_key = excluded.public_key, \
             valid_until_ts = excluded.valid_until_ts, expired_ts = excluded.expired_ts, \
             fetched_ts = excluded.fetched_ts, source = excluded.source, \
             key_json = excluded.key_json \
             WHERE excluded.valid_until_ts >= remote_server_keys.valid_until_ts"
        );
        in_write_tx!(self, |tx| {
            for key in keys {
                sqlx::query(&sql)
                    .bind(&key.server_name)
                    .bind(&key.key_id)
                    .bind(&key.public_key)
                    .bind(key.valid_until_ts)
                    .bind(key.expired_ts)
                    .bind(key.fetched_ts)
                    .bind(&key.source)
                    .bind(&key.key_json)
                    .execute(&mut *tx)
                    .await?;
            }
        });
        Ok(())
    }

    /// One cached key of a remote server.
    pub async fn get_remote_server_key(
        &self,
        server_name: &str,
        key_id: &str,
    ) -> Result<Option<RemoteServerKey>> {
        let sql = format!(
            "SELECT {REMOTE_KEY_COLUMNS} FROM remote_server_keys \
             WHERE server_name = $1 AND key_id = $2"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(server_name)
                .bind(key_id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Every cached key of a remote server, ordered by key ID.
    pub async fn list_remote_server_keys(&self, server_name: &str) -> Result<Vec<RemoteServerKey>> {
        let sql = format!(
            "SELECT {REMOTE_KEY_COLUMNS} FROM remote_server_keys WHERE server_name = $1 \
             ORDER BY key_id"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(server_name)
                .fetch_all(pool)
                .await?)
        })
    }
}

//! Account data of local users: global (`room_id` stored as `''`) and per room, each entry a JSON
//! object under a type, replaced as a whole on every write. Every write takes a new position on
//! the account-data stream so /sync can send what changed since a token.

use super::streams::{ACCOUNT_DATA, NEXT_POSITION};
use super::{Result, Storage, StorageError, in_write_tx, on_reader};

/// One account-data entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountData {
    /// The room it belongs to; `None` for global account data.
    pub room_id: Option<String>,
    /// The event type (`m.direct`, `m.tag`, …).
    pub data_type: String,
    /// The content: a JSON object, as text.
    pub content: String,
    /// Position on the account-data stream of the last write.
    pub stream_id: i64,
}

/// Row shape of `account_data`, before `''` is turned back into `None`.
#[derive(sqlx::FromRow)]
struct AccountDataRow {
    room_id: String,
    data_type: String,
    content: String,
    stream_id: i64,
}

impl From<AccountDataRow> for AccountData {
    fn from(row: AccountDataRow) -> Self {
        AccountData {
            room_id: Some(row.room_id).filter(|room| !room.is_empty()),
            data_type: row.data_type,
            content: row.content,
            stream_id: row.stream_id,
        }
    }
}

impl Storage {
    /// Stores (or replaces) an account-data entry and returns its stream position.
    /// `room_id` `None` means global. `NotFound("user")` if the user does not exist.
    pub async fn set_account_data(
        &self,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
        content: &str,
    ) -> Result<i64> {
        let room = room_id.unwrap_or("");
        let position = in_write_tx!(self, |tx| {
            let position: i64 = sqlx::query_scalar(NEXT_POSITION)
                .bind(ACCOUNT_DATA)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO account_data (user_id, room_id, data_type, content, stream_id) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, room_id, data_type) \
                 DO UPDATE SET content = excluded.content, stream_id = excluded.stream_id",
            )
            .bind(user_id)
            .bind(room)
            .bind(data_type)
            .bind(content)
            .bind(position)
            .execute(&mut *tx)
            .await
            .map_err(|e| StorageError::from_write(e, "account data", "user"))?;
            position
        });
        Ok(position)
    }

    /// One account-data entry's content (JSON text), if set.
    pub async fn get_account_data(
        &self,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
    ) -> Result<Option<String>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT content FROM account_data \
                 WHERE user_id = $1 AND room_id = $2 AND data_type = $3",
            )
            .bind(user_id)
            .bind(room_id.unwrap_or(""))
            .bind(data_type)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Every entry of the user (global and per room) written after position `since` and at or
    /// before `upto`, in stream order. `since = 0` returns everything up to `upto`.
    pub async fn account_data_between(
        &self,
        user_id: &str,
        since: i64,
        upto: i64,
    ) -> Result<Vec<AccountData>> {
        let rows: Vec<AccountDataRow> = on_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT room_id, data_type, content, stream_id FROM account_data \
                 WHERE user_id = $1 AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id",
            )
            .bind(user_id)
            .bind(since)
            .bind(upto)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(AccountData::from).collect())
    }
}

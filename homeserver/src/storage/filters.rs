//! Sync filters uploaded by clients (`POST /user/{userId}/filter`): stored per user under a
//! small integer ID, as the JSON text the client sent (after validation by the caller).

use super::{Result, Storage, StorageError, in_write_tx, on_reader};

impl Storage {
    /// Stores a filter and returns its new ID (0, 1, 2, … per user).
    /// `NotFound("user")` if the user does not exist.
    pub async fn create_filter(&self, user_id: &str, definition: &str) -> Result<i64> {
        let filter_id = in_write_tx!(self, |tx| {
            let filter_id: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(filter_id) + 1, 0) FROM filters WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO filters (user_id, filter_id, definition) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(filter_id)
                .bind(definition)
                .execute(&mut *tx)
                .await
                .map_err(|e| StorageError::from_write(e, "filter", "user"))?;
            filter_id
        });
        Ok(filter_id)
    }

    /// A stored filter's JSON text, if the user has one with this ID.
    pub async fn get_filter(&self, user_id: &str, filter_id: i64) -> Result<Option<String>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT definition FROM filters WHERE user_id = $1 AND filter_id = $2",
            )
            .bind(user_id)
            .bind(filter_id)
            .fetch_optional(pool)
            .await?)
        })
    }
}

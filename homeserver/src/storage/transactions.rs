//! Transactions received over federation, remembered so a retried `PUT /send/{txnId}` is answered with the
//! first answer instead of being processed twice.

use super::{Result, Storage, on_reader, on_writer};

impl Storage {
    /// The answer given to `origin`'s transaction `txn_id`, if it was processed before.
    pub async fn received_transaction(&self, origin: &str, txn_id: &str) -> Result<Option<String>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT response_json FROM received_transactions WHERE origin = $1 AND txn_id = $2",
            )
            .bind(origin)
            .bind(txn_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Records the answer to `origin`'s transaction `txn_id` (a second record of the same transaction is
    /// ignored) and forgets transactions older than `forget_before_ts`.
    pub async fn record_received_transaction(
        &self,
        origin: &str,
        txn_id: &str,
        response_json: &str,
        now_ms: i64,
        forget_before_ts: i64,
    ) -> Result<()> {
        on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO received_transactions (origin, txn_id, response_json, received_ts) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (origin, txn_id) DO NOTHING",
            )
            .bind(origin)
            .bind(txn_id)
            .bind(response_json)
            .bind(now_ms)
            .execute(pool)
            .await?;
            sqlx::query("DELETE FROM received_transactions WHERE received_ts < $1")
                .bind(forget_before_ts)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

//! One destination's sender task: its queue as transactions, one at a time, with backoff after failures.

use std::sync::Arc;
use std::time::Duration;

use hearth_federation::Error as FederationError;
use hearth_federation::transactions::{MAX_EDUS, MAX_PDUS, Transaction};
use hearth_types::ServerName;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::{Inner, now_ms};
use crate::storage::{OutboundBatch, StorageError};

/// Pause after a storage error before the task tries again.
const STORAGE_RETRY: Duration = Duration::from_secs(5);

/// What the task does after a step.
enum Next {
    /// A transaction went out: look for more at once.
    Continue,
    /// The queue is empty: wait for a wake-up.
    Idle,
    /// The destination is backing off until this time (ms).
    RetryAt(i64),
}

/// The task of `destination`: forever, send the queue, then wait for more.
///
/// While backing off, the task is listed in `Inner::backing_off` and also wakes on `wake`, so
/// [`FederationSender::peer_is_up`](super::FederationSender::peer_is_up) can cut the wait short.
pub(super) async fn run(inner: Arc<Inner>, destination: ServerName, wake: Arc<Notify>) {
    loop {
        let next = step(&inner, &destination).await;
        inner.set_backing_off(&destination, matches!(next, Ok(Next::RetryAt(_))));
        match next {
            Ok(Next::Continue) => {}
            Ok(Next::Idle) => wake.notified().await,
            Ok(Next::RetryAt(at)) => {
                let wait = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    () = wake.notified() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%destination, %error, "federation queue storage failed; retrying");
                tokio::time::sleep(STORAGE_RETRY).await;
            }
        }
    }
}

/// Sends the next transaction of `destination`, if it is not backing off and has something queued.
async fn step(inner: &Inner, destination: &ServerName) -> Result<Next, StorageError> {
    let now = now_ms();
    let retry = inner
        .storage
        .destination_retry(destination.as_str())
        .await?;
    if retry.retry_at_ts > now {
        return Ok(Next::RetryAt(retry.retry_at_ts));
    }
    let batch = inner
        .storage
        .outbound_batch(destination.as_str(), MAX_PDUS as i64, MAX_EDUS as i64, now)
        .await?;
    if batch.is_empty() {
        return Ok(Next::Idle);
    }
    let transaction = Transaction {
        origin: inner.server_name.clone(),
        origin_server_ts: u64::try_from(now).unwrap_or(0),
        pdus: load_pdus(inner, &batch).await?,
        edus: batch
            .edus
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(&e.edu).ok())
            .collect(),
    };
    let txn_id = transaction_id(&batch);
    let sent = tokio::time::timeout(
        inner.settings.request_timeout,
        inner
            .transport
            .send_transaction(destination, &txn_id, &transaction),
    )
    .await;
    let ids = batch.queue_ids();
    let failure = match sent {
        Ok(Ok(response)) => {
            for (event_id, result) in &response.pdus {
                if let Some(error) = &result.error {
                    tracing::info!(%destination, %event_id, %error, "peer did not accept a PDU");
                }
            }
            tracing::debug!(%destination, %txn_id, pdus = transaction.pdus.len(),
                edus = transaction.edus.len(), "transaction sent");
            inner
                .storage
                .finish_outbound(destination.as_str(), &ids, None, now_ms())
                .await?;
            return Ok(Next::Continue);
        }
        Ok(Err(error)) if is_refused_for_good(&error) => {
            // Retrying an answer the peer will always give would block its queue forever.
            tracing::warn!(%destination, %txn_id, %error, "peer refused a transaction; dropped");
            let reason = error.to_string();
            inner
                .storage
                .finish_outbound(destination.as_str(), &ids, Some(&reason), now_ms())
                .await?;
            return Ok(Next::Continue);
        }
        Ok(Err(FederationError::PeerJson { reason, .. })) => {
            // Answered 200: the peer has the transaction, only its answer was unreadable.
            tracing::info!(%destination, %txn_id, %reason, "unreadable answer to a delivered transaction");
            inner
                .storage
                .finish_outbound(destination.as_str(), &ids, None, now_ms())
                .await?;
            return Ok(Next::Continue);
        }
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!(
            "no answer within {} s",
            inner.settings.request_timeout.as_secs()
        ),
    };
    let failures = retry.failures.saturating_add(1);
    let delay = inner
        .settings
        .backoff
        .next_retry(u32::try_from(failures).unwrap_or(u32::MAX));
    let retry_at = now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
    tracing::info!(%destination, %txn_id, failures, retry_in_ms = delay.as_millis() as u64,
        error = %failure, "transaction failed; backing off");
    inner
        .storage
        .record_outbound_failure(destination.as_str(), failures, retry_at, &failure)
        .await?;
    Ok(Next::RetryAt(retry_at))
}

/// The PDUs of `batch` as stored (canonical JSON exactly as signed). An event missing from the store is
/// skipped (it cannot be sent) and its row goes with the transaction.
async fn load_pdus(inner: &Inner, batch: &OutboundBatch) -> Result<Vec<Value>, StorageError> {
    let mut pdus = Vec::with_capacity(batch.pdus.len());
    for queued in &batch.pdus {
        let Some(event) = inner.storage.get_event(&queued.event_id).await? else {
            tracing::warn!(event_id = %queued.event_id, "queued event is not stored; skipped");
            continue;
        };
        match serde_json::from_str::<Value>(&event.json) {
            Ok(pdu) => pdus.push(pdu),
            Err(error) => {
                tracing::warn!(event_id = %queued.event_id, %error, "stored PDU unreadable")
            }
        }
    }
    Ok(pdus)
}

/// A transaction ID that depends only on which queue rows the transaction carries: a retry of the same
/// rows has the same ID (the receiver answers it from its cache instead of processing it twice), and rows
/// are never reused, so different content never shares an ID.
fn transaction_id(batch: &OutboundBatch) -> String {
    let mut hasher = Sha256::new();
    for id in batch.queue_ids() {
        hasher.update(id.to_be_bytes());
    }
    let digest = hasher.finalize();
    let first = batch.queue_ids().into_iter().min().unwrap_or(0);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{first}-{hex}")
}

/// Answers a peer gives to any retry of the same transaction: malformed (400), forbidden (403, e.g. a server
/// ACL), no such endpoint (404, 405), too large (413). Timeouts, rate limits (429), unknown keys (401) and
/// server errors (5xx) are worth retrying.
fn is_refused_for_good(error: &FederationError) -> bool {
    matches!(
        error,
        FederationError::PeerStatus {
            status: 400 | 403 | 404 | 405 | 413,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{QueuedEdu, QueuedPdu};

    fn batch(pdus: &[i64], edus: &[i64]) -> OutboundBatch {
        OutboundBatch {
            pdus: pdus
                .iter()
                .map(|&queue_id| QueuedPdu {
                    queue_id,
                    event_id: "$e".into(),
                })
                .collect(),
            edus: edus
                .iter()
                .map(|&queue_id| QueuedEdu {
                    queue_id,
                    edu: "{}".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn transaction_ids_depend_only_on_the_rows_carried() {
        assert_eq!(
            transaction_id(&batch(&[1, 2], &[3])),
            transaction_id(&batch(&[1, 2], &[3]))
        );
        assert_ne!(
            transaction_id(&batch(&[1, 2], &[3])),
            transaction_id(&batch(&[1, 2], &[3, 4]))
        );
        assert!(transaction_id(&batch(&[7], &[])).starts_with("7-"));
    }

    #[test]
    fn only_answers_that_cannot_change_drop_a_transaction() {
        let status = |status| FederationError::PeerStatus {
            destination: "a".into(),
            status,
            body: String::new(),
        };
        for permanent in [400, 403, 404, 405, 413] {
            assert!(is_refused_for_good(&status(permanent)), "{permanent}");
        }
        for transient in [401, 408, 429, 500, 502, 503] {
            assert!(!is_refused_for_good(&status(transient)), "{transient}");
        }
        assert!(!is_refused_for_good(&FederationError::Request {
            destination: "a".into(),
            reason: "connection refused".into()
        }));
    }
}

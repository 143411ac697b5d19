//! `PUT /_matrix/federation/v1/send/{txnId}`: a transaction of PDUs and EDUs from one origin.
//!
//! Transactions of one origin are processed one at a time; the answer is recorded per (origin, txnId), so a
//! retry (the origin did not see our answer) gets the same answer without the PDUs being processed again.
//! Each PDU gets its own result; one bad PDU never fails the transaction. EDUs are best effort: a malformed
//! or unauthorised EDU is logged and skipped.

use std::collections::BTreeMap;

use hearth_federation::transactions::edu::{Edu, PresenceUpdate, ReceiptContent, TypingContent};
use hearth_federation::transactions::send::{PduResult, SendTransactionResponse, Transaction};
use hearth_types::{EventId, ServerName, UserId};
use serde_json::Value;

use super::{FederationError, FederationService};
use crate::services::rooms::RemoteOutcome;

/// How long received transaction IDs are remembered.
const REMEMBER_TRANSACTIONS_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// The longest typing timeout a remote typing notification sets (the spec's EDU has none; Synapse: 30 s).
const REMOTE_TYPING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl FederationService {
    /// Handles a transaction from `origin` (the verified X-Matrix origin).
    pub async fn receive_transaction(
        &self,
        origin: &ServerName,
        txn_id: &str,
        transaction: Transaction,
    ) -> Result<SendTransactionResponse, FederationError> {
        if &transaction.origin != origin {
            return Err(FederationError::Forbidden(
                "the transaction's origin is not the requesting server".into(),
            ));
        }
        transaction
            .check_limits()
            .map_err(|e| FederationError::BadJson(e.to_string()))?;
        let lock = self.origin_lock(origin);
        let _guard = lock.lock().await;
        if let Some(previous) = self
            .storage
            .received_transaction(origin.as_str(), txn_id)
            .await?
        {
            return serde_json::from_str(&previous)
                .map_err(|e| FederationError::Internal(e.to_string()));
        }

        let mut results = BTreeMap::new();
        for pdu in transaction.pdus {
            let (event_id, outcome) = self.receive_pdu(origin, pdu).await;
            let error = match outcome {
                Ok(RemoteOutcome::Accepted | RemoteOutcome::AlreadyKnown) => None,
                // Soft-failed events were accepted as far as the sender is concerned.
                Ok(RemoteOutcome::SoftFailed(reason)) => {
                    tracing::info!(%origin, ?event_id, %reason, "PDU soft-failed");
                    None
                }
                Ok(RemoteOutcome::Rejected(reason)) => {
                    tracing::info!(%origin, ?event_id, %reason, "PDU rejected");
                    Some(format!("rejected: {reason}"))
                }
                Err(reason) => {
                    tracing::info!(%origin, ?event_id, %reason, "PDU dropped");
                    Some(reason)
                }
            };
            if let Some(event_id) = event_id {
                results.insert(event_id, PduResult { error });
            }
        }
        for edu in transaction.edus {
            self.receive_edu(origin, &edu).await;
        }
        let response = SendTransactionResponse { pdus: results };
        let text = serde_json::to_string(&response)
            .map_err(|e| FederationError::Internal(e.to_string()))?;
        let now = now_ms();
        self.storage
            .record_received_transaction(
                origin.as_str(),
                txn_id,
                &text,
                now,
                now.saturating_sub(REMEMBER_TRANSACTIONS_MS),
            )
            .await?;
        Ok(response)
    }

    /// Dispatches one EDU. Typing, receipts and presence go to their services here; device lists,
    /// signing-key updates and to-device messages belong to end-to-end encryption and are handed to
    /// [`FederationService::receive_e2ee_edu`].
    async fn receive_edu(&self, origin: &ServerName, raw: &Value) {
        let edu = match Edu::parse(raw) {
            Ok(Some(edu)) => edu,
            Ok(None) => return,
            Err(error) => {
                tracing::info!(%origin, %error, "malformed EDU skipped");
                return;
            }
        };
        match edu {
            Edu::Typing(typing) => self.receive_typing(origin, typing).await,
            Edu::Receipt(receipts) => self.receive_receipts(origin, receipts).await,
            Edu::Presence(presence) => {
                for update in presence.push.into_iter().take(1_000) {
                    self.receive_presence(origin, update).await;
                }
            }
            other => self.receive_e2ee_edu(origin, other).await,
        }
    }

    /// The dispatch point for the EDUs of end-to-end encryption (`m.device_list_update`,
    /// `m.signing_key_update`, `m.direct_to_device`): handed to the e2ee service; a failure is logged and the
    /// EDU skipped, never a reason to fail the transaction.
    async fn receive_e2ee_edu(&self, origin: &ServerName, edu: Edu) {
        if let Err(error) = self.e2ee.receive_edu(origin, edu).await {
            tracing::warn!(%origin, error = %error.0, "E2EE EDU not applied");
        }
    }

    async fn receive_typing(&self, origin: &ServerName, typing: TypingContent) {
        if !self.user_of(origin, &typing.user_id) {
            return;
        }
        let room_id = typing.room_id.as_str();
        if !self.is_joined(room_id, typing.user_id.as_str()).await {
            return;
        }
        if self.check_server_acl(room_id, origin).await.is_err() {
            return;
        }
        let timeout = typing.typing.then_some(REMOTE_TYPING_TIMEOUT);
        self.typing
            .set_typing(room_id, typing.user_id.as_str(), timeout);
    }

    async fn receive_receipts(&self, origin: &ServerName, receipts: ReceiptContent) {
        for (room_id, by_type) in receipts.into_iter().take(100) {
            if self
                .check_server_acl(room_id.as_str(), origin)
                .await
                .is_err()
            {
                continue;
            }
            let Some(by_user) = by_type.get("m.read") else {
                continue;
            };
            for (user_id, receipt) in by_user.iter().take(1_000) {
                if !self.user_of(origin, user_id) {
                    continue;
                }
                let thread_id = receipt.data.get("thread_id").and_then(Value::as_str);
                for event_id in receipt.event_ids.iter().take(1) {
                    if let Err(error) = self
                        .receipts
                        .set_receipt(
                            user_id.as_str(),
                            room_id.as_str(),
                            "m.read",
                            event_id.as_str(),
                            thread_id,
                            receipt
                                .data
                                .get("ts")
                                .and_then(Value::as_i64)
                                .unwrap_or_else(now_ms),
                        )
                        .await
                    {
                        tracing::debug!(%origin, %error, "remote receipt skipped");
                    }
                }
            }
        }
    }

    async fn receive_presence(&self, origin: &ServerName, update: PresenceUpdate) {
        if !self.user_of(origin, &update.user_id) {
            return;
        }
        let last_active =
            now_ms().saturating_sub(i64::try_from(update.last_active_ago).unwrap_or(0));
        if let Err(error) = self
            .presence
            .set_presence(
                update.user_id.as_str(),
                &update.presence,
                update.status_msg.as_deref(),
                last_active,
            )
            .await
        {
            tracing::debug!(%origin, %error, "remote presence skipped");
        }
    }

    /// Whether `user` belongs to `origin` (servers speak only for their own users).
    fn user_of(&self, origin: &ServerName, user: &UserId) -> bool {
        user.server_name() == origin
    }

    async fn is_joined(&self, room_id: &str, user_id: &str) -> bool {
        matches!(
            self.storage.membership(room_id, user_id).await,
            Ok(Some(membership)) if membership.membership == "join"
        )
    }
}

/// An event ID for results of PDUs that could be parsed.
pub type PduId = EventId;

fn now_ms() -> i64 {
    i64::try_from(crate::signing_key::now_millis()).unwrap_or(i64::MAX)
}

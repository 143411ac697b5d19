//! Read receipts and read markers: `POST /rooms/{id}/receipt/{type}/{eventId}` and `POST /rooms/{id}/read_markers`.
//!
//! `m.read` is shared with the room (sent in every member's /sync `ephemeral`), `m.read.private` only with the
//! user's own clients; `m.fully_read` is not a receipt but the user's per-room account data. A receipt names an
//! event the user can see in a room they are joined to.

use serde_json::{Map, Value, json};

use crate::notifier::Notifier;
use crate::services::account_data::{AccountDataService, UserDataError};
use crate::storage::{NewReceipt, Receipt, Storage};

/// The public read receipt type.
pub const READ: &str = "m.read";
/// The private read receipt type, visible only to its owner.
pub const READ_PRIVATE: &str = "m.read.private";
/// The read marker, kept as per-room account data.
pub const FULLY_READ: &str = "m.fully_read";

/// The receipts service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ReceiptService {
    storage: Storage,
    notifier: Notifier,
    account_data: AccountDataService,
}

impl ReceiptService {
    /// A service storing receipts through `storage`, markers through `account_data`.
    pub fn new(storage: Storage, notifier: Notifier, account_data: AccountDataService) -> Self {
        Self {
            storage,
            notifier,
            account_data,
        }
    }

    /// Records a receipt (or, for `m.fully_read`, the read marker) of `user_id` at `event_id`.
    pub async fn set_receipt(
        &self,
        user_id: &str,
        room_id: &str,
        receipt_type: &str,
        event_id: &str,
        thread_id: Option<&str>,
        now_ms: i64,
    ) -> Result<(), UserDataError> {
        if ![READ, READ_PRIVATE, FULLY_READ].contains(&receipt_type) {
            return Err(UserDataError::InvalidParam(format!(
                "Unknown receipt type {receipt_type}"
            )));
        }
        self.check_readable(user_id, room_id, event_id).await?;
        if receipt_type == FULLY_READ {
            if thread_id.is_some() {
                return Err(UserDataError::BadJson(
                    "m.fully_read cannot be threaded".to_owned(),
                ));
            }
            return self.set_fully_read(user_id, room_id, event_id).await;
        }
        if let Some(thread) = thread_id
            && (thread.is_empty() || (thread != "main" && !thread.starts_with('$')))
        {
            return Err(UserDataError::InvalidParam(
                "thread_id must be `main` or an event ID".to_owned(),
            ));
        }
        self.storage
            .set_receipt(&NewReceipt {
                room_id,
                receipt_type,
                user_id,
                thread_id,
                event_id,
                ts: now_ms,
            })
            .await?;
        self.notifier.notify_room(room_id);
        Ok(())
    }

    /// `POST /read_markers`: the read marker and the two receipt kinds, each optional.
    pub async fn set_read_markers(
        &self,
        user_id: &str,
        room_id: &str,
        fully_read: Option<&str>,
        read: Option<&str>,
        read_private: Option<&str>,
        now_ms: i64,
    ) -> Result<(), UserDataError> {
        if let Some(event_id) = fully_read {
            self.set_receipt(user_id, room_id, FULLY_READ, event_id, None, now_ms)
                .await?;
        }
        if let Some(event_id) = read {
            self.set_receipt(user_id, room_id, READ, event_id, None, now_ms)
                .await?;
        }
        if let Some(event_id) = read_private {
            self.set_receipt(user_id, room_id, READ_PRIVATE, event_id, None, now_ms)
                .await?;
        }
        Ok(())
    }

    async fn set_fully_read(
        &self,
        user_id: &str,
        room_id: &str,
        event_id: &str,
    ) -> Result<(), UserDataError> {
        let mut content = Map::new();
        content.insert("event_id".to_owned(), json!(event_id));
        self.account_data
            .set(user_id, Some(room_id), FULLY_READ, &content)
            .await
    }

    /// The user must be joined and the event must be in the room.
    async fn check_readable(
        &self,
        user_id: &str,
        room_id: &str,
        event_id: &str,
    ) -> Result<(), UserDataError> {
        let joined = self
            .storage
            .membership(room_id, user_id)
            .await?
            .is_some_and(|membership| membership.membership == "join");
        if !joined {
            return Err(UserDataError::Forbidden(
                "You are not joined to this room".to_owned(),
            ));
        }
        let in_room = self
            .storage
            .get_event(event_id)
            .await?
            .is_some_and(|event| event.room_id == room_id);
        if !in_room {
            return Err(UserDataError::NotFound(format!(
                "Unknown event {event_id} in this room"
            )));
        }
        Ok(())
    }
}

/// The `m.receipt` ephemeral event for `receipts` as `viewer` may see them (private receipts only their own);
/// `None` when nothing is left.
pub fn receipt_event(receipts: &[Receipt], viewer: &str) -> Option<Value> {
    let mut content = Map::new();
    for receipt in receipts {
        if receipt.receipt_type == READ_PRIVATE && receipt.user_id != viewer {
            continue;
        }
        let mut entry = Map::new();
        entry.insert("ts".to_owned(), json!(receipt.ts));
        if !receipt.thread_id.is_empty() {
            entry.insert("thread_id".to_owned(), json!(receipt.thread_id));
        }
        let by_type = content
            .entry(receipt.event_id.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(by_type) = by_type.as_object_mut() {
            let by_user = by_type
                .entry(receipt.receipt_type.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(by_user) = by_user.as_object_mut() {
                by_user.insert(receipt.user_id.clone(), Value::Object(entry));
            }
        }
    }
    if content.is_empty() {
        None
    } else {
        Some(json!({ "type": "m.receipt", "content": content }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(user: &str, kind: &str, event: &str, thread: &str) -> Receipt {
        Receipt {
            room_id: "!r:x".into(),
            receipt_type: kind.into(),
            user_id: user.into(),
            thread_id: thread.into(),
            event_id: event.into(),
            ts: 7,
            stream_id: 1,
        }
    }

    #[test]
    fn private_receipts_are_only_shown_to_their_owner() {
        let receipts = [
            receipt("@a:x", READ, "$1", ""),
            receipt("@b:x", READ_PRIVATE, "$2", ""),
        ];
        let for_a = receipt_event(&receipts, "@a:x").unwrap();
        assert!(for_a["content"]["$2"].is_null());
        assert_eq!(for_a["content"]["$1"]["m.read"]["@a:x"]["ts"], 7);
        let for_b = receipt_event(&receipts, "@b:x").unwrap();
        assert_eq!(for_b["content"]["$2"]["m.read.private"]["@b:x"]["ts"], 7);
        assert!(receipt_event(&receipts[1..], "@a:x").is_none());
    }

    #[test]
    fn threaded_receipts_carry_their_thread() {
        let event = receipt_event(&[receipt("@a:x", READ, "$1", "main")], "@a:x").unwrap();
        assert_eq!(
            event["content"]["$1"]["m.read"]["@a:x"]["thread_id"],
            "main"
        );
    }
}

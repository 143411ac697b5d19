//! The account-data service: global and per-room account data of local users, room tags (`m.tag`), the ignored
//! users list, stored sync filters, and the push rules (kept as the `m.push_rules` account data, so they reach
//! clients through /sync like any other account data).
//!
//! Dependencies: storage and the notifier; no other service. Every write wakes the user's waiting /sync
//! requests after it committed.

mod error;
pub mod push_rules;

use std::collections::HashSet;
use std::sync::Arc;

use hearth_client_api::sync::filter::Filter;
use serde_json::{Map, Value};

use crate::notifier::Notifier;
use crate::storage::Storage;

pub use error::UserDataError;

/// Account data types that only the server writes; clients setting them get 405 `M_BAD_JSON`.
const SERVER_MANAGED_TYPES: &[&str] = &["m.fully_read", "m.push_rules"];

/// Largest accepted length of an account data type or tag name, in bytes (keeps keys indexable).
const MAX_NAME_BYTES: usize = 255;

/// The account-data service. Shared as `Arc<AccountDataService>` in the HTTP state.
#[derive(Debug, Clone)]
pub struct AccountDataService {
    storage: Storage,
    notifier: Notifier,
    /// Serialises a user's read-modify-write edits (tags, push rules), striped by user ID.
    edit_locks: Arc<[tokio::sync::Mutex<()>; EDIT_LOCK_STRIPES]>,
}

/// How many locks the users' edits are spread over.
const EDIT_LOCK_STRIPES: usize = 64;

impl AccountDataService {
    /// A service over `storage` that wakes `notifier` after each write.
    pub fn new(storage: Storage, notifier: Notifier) -> Self {
        Self {
            storage,
            notifier,
            edit_locks: Arc::new(std::array::from_fn(|_| tokio::sync::Mutex::new(()))),
        }
    }

    /// The edit lock of `user_id`'s stripe: held across a read-modify-write of one of their entries (within
    /// this process; several processes on one database would need a database lock).
    async fn edit_lock(&self, user_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(user_id, &mut hasher);
        let stripe = (std::hash::Hasher::finish(&hasher) % EDIT_LOCK_STRIPES as u64) as usize;
        self.edit_locks[stripe].lock().await
    }

    /// The content of one account data entry; `NotFound` if never set.
    pub async fn get(
        &self,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
    ) -> Result<Map<String, Value>, UserDataError> {
        let Some(text) = self
            .storage
            .get_account_data(user_id, room_id, data_type)
            .await?
        else {
            return Err(UserDataError::NotFound(format!(
                "no account data of type {data_type}"
            )));
        };
        parse_object(&text)
    }

    /// Sets an account data entry on behalf of the client: refuses the server-managed types.
    pub async fn set_by_client(
        &self,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
        content: Map<String, Value>,
    ) -> Result<(), UserDataError> {
        check_name(data_type, "account data type")?;
        if SERVER_MANAGED_TYPES.contains(&data_type) {
            return Err(UserDataError::ServerManaged(format!(
                "Cannot set {data_type} through this API"
            )));
        }
        self.set(user_id, room_id, data_type, &content).await
    }

    /// Sets an account data entry (any type) and wakes the user's /sync.
    pub async fn set(
        &self,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
        content: &Map<String, Value>,
    ) -> Result<(), UserDataError> {
        let text = serde_json::to_string(content).map_err(UserDataError::internal)?;
        self.storage
            .set_account_data(user_id, room_id, data_type, &text)
            .await?;
        self.notifier.notify_user(user_id);
        Ok(())
    }

    /// The room's tags as `GET /tags` answers them: `{"tags": {…}}`.
    pub async fn tags(&self, user_id: &str, room_id: &str) -> Result<Value, UserDataError> {
        let tags = self.current_tags(user_id, room_id).await?;
        Ok(serde_json::json!({ "tags": tags }))
    }

    /// Adds or replaces one tag of a room (`content` may carry `order`, a number in 0..=1).
    pub async fn put_tag(
        &self,
        user_id: &str,
        room_id: &str,
        tag: &str,
        content: Map<String, Value>,
    ) -> Result<(), UserDataError> {
        check_name(tag, "tag")?;
        if let Some(order) = content.get("order")
            && !order.is_number()
        {
            return Err(UserDataError::BadJson("order must be a number".to_owned()));
        }
        let _edit = self.edit_lock(user_id).await;
        let mut tags = self.current_tags(user_id, room_id).await?;
        tags.insert(tag.to_owned(), Value::Object(content));
        self.store_tags(user_id, room_id, tags).await
    }

    /// Removes one tag of a room; removing an absent tag succeeds (idempotent, as Synapse does).
    pub async fn delete_tag(
        &self,
        user_id: &str,
        room_id: &str,
        tag: &str,
    ) -> Result<(), UserDataError> {
        let _edit = self.edit_lock(user_id).await;
        let mut tags = self.current_tags(user_id, room_id).await?;
        if tags.remove(tag).is_none() {
            return Ok(());
        }
        self.store_tags(user_id, room_id, tags).await
    }

    /// The users in the user's `m.ignored_user_list` (their events are hidden from the user's /sync).
    pub async fn ignored_users(&self, user_id: &str) -> Result<HashSet<String>, UserDataError> {
        let Some(text) = self
            .storage
            .get_account_data(user_id, None, "m.ignored_user_list")
            .await?
        else {
            return Ok(HashSet::new());
        };
        Ok(ignored_users_in(&parse_object(&text)?))
    }

    /// Stores a sync filter after validating it; returns its ID.
    pub async fn create_filter(
        &self,
        user_id: &str,
        filter: &Value,
    ) -> Result<String, UserDataError> {
        serde_json::from_value::<Filter>(filter.clone())
            .map_err(|error| UserDataError::BadJson(format!("invalid filter: {error}")))?;
        let text = serde_json::to_string(filter).map_err(UserDataError::internal)?;
        let id = self.storage.create_filter(user_id, &text).await?;
        Ok(id.to_string())
    }

    /// A stored filter as uploaded; `NotFound` for unknown or malformed IDs.
    pub async fn filter(&self, user_id: &str, filter_id: &str) -> Result<Value, UserDataError> {
        let not_found = || UserDataError::NotFound("no such filter".to_owned());
        let id: i64 = filter_id.parse().map_err(|_| not_found())?;
        let text = self
            .storage
            .get_filter(user_id, id)
            .await?
            .ok_or_else(not_found)?;
        serde_json::from_str(&text).map_err(UserDataError::internal)
    }

    async fn current_tags(
        &self,
        user_id: &str,
        room_id: &str,
    ) -> Result<Map<String, Value>, UserDataError> {
        let stored = match self.get(user_id, Some(room_id), "m.tag").await {
            Ok(content) => content,
            Err(UserDataError::NotFound(_)) => return Ok(Map::new()),
            Err(error) => return Err(error),
        };
        Ok(match stored.get("tags") {
            Some(Value::Object(tags)) => tags.clone(),
            _ => Map::new(),
        })
    }

    async fn store_tags(
        &self,
        user_id: &str,
        room_id: &str,
        tags: Map<String, Value>,
    ) -> Result<(), UserDataError> {
        let mut content = Map::new();
        content.insert("tags".to_owned(), Value::Object(tags));
        self.set(user_id, Some(room_id), "m.tag", &content).await
    }
}

/// The user IDs of an `m.ignored_user_list` content (`{"ignored_users": {"@u:x": {}}}`); malformed content
/// ignores nobody.
pub fn ignored_users_in(content: &Map<String, Value>) -> HashSet<String> {
    match content.get("ignored_users") {
        Some(Value::Object(users)) => users.keys().cloned().collect(),
        _ => HashSet::new(),
    }
}

/// Parses stored content, which is always a JSON object written by this service.
fn parse_object(text: &str) -> Result<Map<String, Value>, UserDataError> {
    serde_json::from_str(text).map_err(UserDataError::internal)
}

/// Refuses empty or over-long names (types, tags).
fn check_name(name: &str, what: &str) -> Result<(), UserDataError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(UserDataError::InvalidParam(format!(
            "{what} must be 1 to {MAX_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}

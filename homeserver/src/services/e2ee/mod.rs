//! The end-to-end encryption service: what the server does for clients that encrypt. It stores and hands out
//! the keys devices publish (device, one-time, fallback and cross-signing keys and signatures), relays
//! to-device messages, tracks whose device lists changed for whom, and keeps server-side key backups. It never
//! sees plaintext: every key and message it carries was encrypted or signed by a client.
//!
//! Dependencies: storage, the notifier and, when federation is on, the federation sender (EDUs) and client
//! (remote key queries and claims). `/sync` depends on this service for the
//! to-device and device-list sections; the accounts service is used by the HTTP layer for the user-interactive
//! auth of `/keys/device_signing/upload`.

mod backup;
mod cross_signing;
mod device_lists;
mod error;
mod federation;
mod keys;
mod remote_devices;
mod to_device;

/// Keys the unit tests of this service sign like a client would.
#[cfg(test)]
mod test_keys {
    use hearth_crypto::keys::SigningKey;
    use hearth_crypto::signing::sign_json;
    use serde_json::{Value, json};

    /// Device keys of `user`'s `device`, self-signed with an ed25519 key made from `seed`.
    pub fn signed_device(user: &str, device: &str, seed: u8) -> Value {
        let key = SigningKey::from_seed(device, &[seed; 32]).unwrap();
        let mut keys = json!({
            "user_id": user, "device_id": device, "algorithms": [],
            "keys": { format!("ed25519:{device}"): key.public_key_base64() },
        });
        sign_json(&mut keys, user, &key).unwrap();
        keys
    }
}

use std::sync::OnceLock;

use hearth_types::{ServerName, UserId};

pub use backup::{BackupInfo, RoomKeysSelection};
pub use device_lists::{DeviceListDelta, Window};
pub use error::{E2eeError, Result};
pub use federation::E2eeFederation;
pub use keys::{ClaimRequest, QueryRequest, UploadRequest};
pub use to_device::SendToDevice;

use crate::notifier::Notifier;
use crate::services::accounts::now_ms;
use crate::storage::Storage;

/// End-to-end encryption support. Build one per server and share it as `Arc<E2eeService>`.
#[derive(Debug)]
pub struct E2eeService {
    storage: Storage,
    notifier: Notifier,
    server_name: ServerName,
    /// Set once at start-up when federation is enabled ([`E2eeService::set_federation`]).
    federation: OnceLock<E2eeFederation>,
}

impl E2eeService {
    /// A service for the users of `server_name` (local only until [`E2eeService::set_federation`]).
    pub fn new(storage: Storage, notifier: Notifier, server_name: ServerName) -> Self {
        Self {
            storage,
            notifier,
            server_name,
            federation: OnceLock::new(),
        }
    }

    /// Whether `user_id` belongs to this server (its keys are here, not on another server).
    fn is_local(&self, user_id: &str) -> bool {
        UserId::parse(user_id).is_ok_and(|user| user.server_name() == &self.server_name)
    }

    /// Wakes the `/sync` requests that should see a change of `user_id`'s device list: the user's own and
    /// those of everyone sharing a room with them (they listen on their rooms).
    pub async fn notify_device_list_change(&self, user_id: &str) -> Result<()> {
        self.notifier.notify_user(user_id);
        for membership in self.storage.memberships_of_user(user_id).await? {
            if membership.membership == "join" {
                self.notifier.notify_room(&membership.room_id);
            }
        }
        Ok(())
    }
}

impl E2eeService {
    /// Devices of a local user were deleted (their keys and inbox went with them in storage): wakes the syncs
    /// that must see the change and tells the other servers sharing a room with the user.
    pub async fn devices_deleted(&self, user: &UserId, device_ids: &[String]) -> Result<()> {
        if device_ids.is_empty() {
            return Ok(());
        }
        self.notify_device_list_change(user.as_str()).await?;
        for device_id in device_ids {
            self.publish_device_change(user, device_id).await?;
        }
        Ok(())
    }
}

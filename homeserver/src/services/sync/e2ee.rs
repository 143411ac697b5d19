//! The end-to-end encryption parts of a `/sync` response: `to_device`, `device_lists`,
//! `device_one_time_keys_count` and `device_unused_fallback_key_types`, read through the e2ee service.

use hearth_types::{DeviceId, UserId};
use serde_json::{Value, json};

use super::token::SyncToken;
use crate::services::account_data::UserDataError;
use crate::services::e2ee::{E2eeService, Window};

/// Most to-device messages one sync delivers (Synapse's figure); the rest follow in the next sync.
const MAX_TO_DEVICE_PER_SYNC: i64 = 100;

/// The sections, and the to-device position the response's `next_batch` must carry.
#[derive(Debug)]
pub(super) struct E2eeSections {
    pub to_device: Vec<Value>,
    /// Where the device's to-device stream stands after this response (below `upto` when the batch was cut).
    pub to_device_upto: i64,
    pub changed: Vec<String>,
    pub left: Vec<String>,
    pub one_time_keys_count: Value,
    pub unused_fallback_key_types: Vec<String>,
}

impl E2eeSections {
    /// Whether anything here is news worth answering a long-poll for (the key counts are not).
    pub fn has_news(&self) -> bool {
        !self.to_device.is_empty() || !self.changed.is_empty() || !self.left.is_empty()
    }
}

/// Builds the sections for `user`'s `device` between `since` and `upto`.
pub(super) async fn e2ee_sections(
    e2ee: &E2eeService,
    user: &UserId,
    device: Option<&DeviceId>,
    since: Option<SyncToken>,
    upto: SyncToken,
) -> Result<E2eeSections, UserDataError> {
    let mut sections = E2eeSections {
        to_device: Vec::new(),
        to_device_upto: upto.to_device,
        changed: Vec::new(),
        left: Vec::new(),
        one_time_keys_count: json!({}),
        unused_fallback_key_types: Vec::new(),
    };
    if let Some(device) = device {
        let (events, last) = e2ee
            .pending_to_device(
                user,
                device,
                since.map_or(0, |s| s.to_device),
                upto.to_device,
                MAX_TO_DEVICE_PER_SYNC,
            )
            .await?;
        if events.len() as i64 == MAX_TO_DEVICE_PER_SYNC
            && let Some(last) = last
        {
            sections.to_device_upto = last;
        }
        sections.to_device = events;
        sections.one_time_keys_count = json!(e2ee.one_time_key_counts(user, device).await?);
        sections.unused_fallback_key_types = e2ee.unused_fallback_key_types(user, device).await?;
    }
    if let Some(since) = since {
        let delta = e2ee
            .device_list_delta(
                user,
                Window {
                    since_events: since.events,
                    upto_events: upto.events,
                    since_lists: since.device_lists,
                    upto_lists: upto.device_lists,
                },
            )
            .await?;
        sections.changed = delta.changed;
        sections.left = delta.left;
    }
    Ok(sections)
}

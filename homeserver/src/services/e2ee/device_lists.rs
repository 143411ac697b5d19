//! Whose device lists a user must re-fetch: `device_lists` of `/sync` and `GET /keys/changes`.
//!
//! Between two positions, a user's clients care about (spec, "Tracking the device list for a user"):
//! - **changed**: users sharing a room with them whose devices or keys changed, users who joined a room they
//!   share (or everyone in a room they joined), and they themselves when their own devices changed;
//! - **left**: users with whom they no longer share any room, because either side left.

use std::collections::BTreeSet;
use std::collections::HashSet;

use hearth_types::UserId;

use super::{E2eeService, Result};

/// The two lists, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceListDelta {
    /// Users whose device lists the client should re-fetch.
    pub changed: Vec<String>,
    /// Users the client no longer shares a room with.
    pub left: Vec<String>,
}

/// A window of the streams: room events `(since_events, upto_events]` and device-list changes
/// `(since_lists, upto_lists]`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Room-event position the window starts after.
    pub since_events: i64,
    /// Room-event position the window ends at.
    pub upto_events: i64,
    /// Device-list position the window starts after.
    pub since_lists: i64,
    /// Device-list position the window ends at.
    pub upto_lists: i64,
}

impl E2eeService {
    /// The device-list changes `user` must hear about in `window`.
    pub async fn device_list_delta(
        &self,
        user: &UserId,
        window: Window,
    ) -> Result<DeviceListDelta> {
        let in_window =
            |position: i64| position > window.since_events && position <= window.upto_events;
        let mut shared: HashSet<String> = HashSet::new();
        let mut changed: BTreeSet<String> = BTreeSet::new();
        let mut maybe_left: BTreeSet<String> = BTreeSet::new();
        for own in self.storage.memberships_of_user(user.as_str()).await? {
            let joined = own.membership == "join";
            let parted_in_window = matches!(own.membership.as_str(), "leave" | "ban")
                && in_window(own.stream_ordering);
            if !(joined || parted_in_window) {
                continue;
            }
            let newly_joined = joined && in_window(own.stream_ordering);
            for member in self.storage.room_memberships(&own.room_id).await? {
                let member_joined = member.membership == "join";
                if joined {
                    if member_joined {
                        if newly_joined || in_window(member.stream_ordering) {
                            changed.insert(member.user_id.clone());
                        }
                        shared.insert(member.user_id);
                    } else if in_window(member.stream_ordering)
                        && matches!(member.membership.as_str(), "leave" | "ban")
                    {
                        maybe_left.insert(member.user_id);
                    }
                } else if member_joined {
                    // The user left this room: its members may no longer share any room with them.
                    maybe_left.insert(member.user_id);
                }
            }
        }
        changed.remove(user.as_str());
        for changed_user in self
            .storage
            .device_list_changes_between(window.since_lists, window.upto_lists)
            .await?
        {
            if changed_user == user.as_str() || shared.contains(&changed_user) {
                changed.insert(changed_user);
            }
        }
        let left = maybe_left
            .into_iter()
            .filter(|other| other != user.as_str() && !shared.contains(other))
            .collect();
        Ok(DeviceListDelta {
            changed: changed.into_iter().collect(),
            left,
        })
    }
}

//! Typing notifications: who is typing in which room, in memory only (they expire within seconds and are not
//! worth a write). Each change takes a new serial; /sync tokens carry the serial they saw, so a request learns
//! whether a room's typing set changed since. Serials restart at 0 with the process: a token from before a
//! restart whose serial is ahead of the current one is treated as "send the current set".
//!
//! A timed-out typing entry is removed by a timer task that also wakes the room's waiting /sync requests, so
//! clients see "stopped typing" without anyone polling.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::notifier::Notifier;

/// Longest typing timeout honoured; longer client values are shortened to this.
pub const MAX_TYPING_TIMEOUT: Duration = Duration::from_secs(120);

/// The typing service. Cheap to clone (shared state behind `Arc`).
#[derive(Clone, Debug, Default)]
pub struct TypingService {
    notifier: Notifier,
    inner: Arc<Mutex<TypingState>>,
}

#[derive(Debug, Default)]
struct TypingState {
    /// The last serial handed out; 0 before any change.
    serial: u64,
    /// Per room: typing users with their expiry, and the serial of the room's last change.
    rooms: HashMap<String, RoomTyping>,
}

#[derive(Debug, Default)]
struct RoomTyping {
    users: HashMap<String, Instant>,
    changed_at: u64,
}

impl TypingService {
    /// A service that wakes `notifier`'s room listeners on every change.
    pub fn new(notifier: Notifier) -> Self {
        Self {
            notifier,
            inner: Arc::default(),
        }
    }

    /// Marks `user_id` as typing in `room_id` for `timeout` (capped at [`MAX_TYPING_TIMEOUT`]), or as no longer
    /// typing when `timeout` is `None`.
    pub fn set_typing(&self, room_id: &str, user_id: &str, timeout: Option<Duration>) {
        let changed = {
            let mut state = self.lock();
            let next = state.serial + 1;
            let room = state.rooms.entry(room_id.to_owned()).or_default();
            let changed = match timeout {
                Some(timeout) => {
                    let expiry = Instant::now() + timeout.min(MAX_TYPING_TIMEOUT);
                    room.users.insert(user_id.to_owned(), expiry).is_none()
                }
                None => room.users.remove(user_id).is_some(),
            };
            if changed {
                room.changed_at = next;
                state.serial = next;
            }
            changed
        };
        if let Some(timeout) = timeout {
            let service = self.clone();
            let room_id = room_id.to_owned();
            let wait = timeout.min(MAX_TYPING_TIMEOUT);
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                service.expire(&room_id);
            });
        }
        if changed {
            self.notifier.notify_room(room_id);
        }
    }

    /// The users typing in `room_id` now (sorted), and the serial of the room's last change.
    pub fn typing_in(&self, room_id: &str) -> (Vec<String>, u64) {
        let state = self.lock();
        let Some(room) = state.rooms.get(room_id) else {
            return (Vec::new(), 0);
        };
        let now = Instant::now();
        let mut users: Vec<String> = room
            .users
            .iter()
            .filter(|(_, expiry)| **expiry > now)
            .map(|(user, _)| user.clone())
            .collect();
        users.sort();
        (users, room.changed_at)
    }

    /// The newest serial: the typing part of a /sync token.
    pub fn current_serial(&self) -> u64 {
        self.lock().serial
    }

    /// Removes the room's expired entries; wakes the room if any were removed.
    fn expire(&self, room_id: &str) {
        let changed = {
            let mut state = self.lock();
            let next = state.serial + 1;
            let now = Instant::now();
            let Some(room) = state.rooms.get_mut(room_id) else {
                return;
            };
            let before = room.users.len();
            room.users.retain(|_, expiry| *expiry > now);
            let changed = room.users.len() != before;
            if changed {
                room.changed_at = next;
            }
            if room.users.is_empty() && !changed {
                state.rooms.remove(room_id);
            } else if changed {
                state.serial = next;
            }
            changed
        };
        if changed {
            self.notifier.notify_room(room_id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TypingState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use crate::notifier::WakeKey;

    use super::*;

    #[tokio::test]
    async fn typing_is_visible_then_stops_and_wakes_the_room() {
        let notifier = Notifier::new();
        let typing = TypingService::new(notifier.clone());
        let mut listener = notifier.listener([WakeKey::Room("!r:x".into())]);
        typing.set_typing("!r:x", "@a:x", Some(Duration::from_secs(30)));
        tokio::time::timeout(Duration::from_secs(1), listener.wait())
            .await
            .expect("typing wakes the room");
        let (users, serial) = typing.typing_in("!r:x");
        assert_eq!(users, vec!["@a:x".to_owned()]);
        assert_eq!(serial, typing.current_serial());
        typing.set_typing("!r:x", "@a:x", None);
        assert!(typing.typing_in("!r:x").0.is_empty());
        assert!(typing.typing_in("!r:x").1 > serial);
    }

    #[tokio::test]
    async fn typing_expires_after_its_timeout_and_wakes_the_room() {
        let notifier = Notifier::new();
        let typing = TypingService::new(notifier.clone());
        typing.set_typing("!r:x", "@a:x", Some(Duration::from_millis(100)));
        let mut listener = notifier.listener([WakeKey::Room("!r:x".into())]);
        tokio::time::timeout(Duration::from_secs(2), listener.wait())
            .await
            .expect("expiry wakes the room");
        assert!(typing.typing_in("!r:x").0.is_empty());
    }
}

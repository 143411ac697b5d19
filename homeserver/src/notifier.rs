//! The notifier: wakes waiting `/sync` (and legacy `/events`) requests when something they care about changed.
//!
//! Writers call [`Notifier::notify_room`] / [`Notifier::notify_user`] *after* their transaction committed.
//! A waiting request first calls [`Notifier::listener`] with the keys it cares about (its user and its rooms),
//! *then* checks storage for news, and only then awaits the listener — so a change committed between the
//! check and the wait is never missed. Nothing polls the database in a loop.
//!
//! This is an in-process interface on purpose: several Hearth processes on one PostgreSQL would feed the same
//! calls from `LISTEN/NOTIFY` (DESIGN §7) without changing callers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

/// What a listener can wait for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WakeKey {
    /// Something happened in a room (a new event, a receipt, typing).
    Room(String),
    /// Something happened for a user outside a room's timeline (invite, account data, to-device, presence).
    User(String),
}

/// Wakes listeners by key. Cheap to share (`Arc` inside).
#[derive(Clone, Debug, Default)]
pub struct Notifier {
    channels: Arc<Mutex<HashMap<WakeKey, watch::Sender<u64>>>>,
}

/// A registration for a set of keys; [`Listener::wait`] resolves when any of them is notified after the
/// listener was created.
#[derive(Debug)]
pub struct Listener {
    receivers: Vec<watch::Receiver<u64>>,
}

impl Notifier {
    /// A notifier with no listeners.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes everyone listening on the room.
    pub fn notify_room(&self, room_id: &str) {
        self.notify(&WakeKey::Room(room_id.to_owned()));
    }

    /// Wakes everyone listening on the user.
    pub fn notify_user(&self, user_id: &str) {
        self.notify(&WakeKey::User(user_id.to_owned()));
    }

    /// Wakes everyone listening on `key`; a key nobody listens on costs one map lookup.
    pub fn notify(&self, key: &WakeKey) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = channels.get(key) {
            if sender.receiver_count() == 0 {
                channels.remove(key);
            } else {
                sender.send_modify(|generation| *generation = generation.wrapping_add(1));
            }
        }
    }

    /// Registers interest in `keys`. Create the listener *before* checking storage for news.
    pub fn listener<I>(&self, keys: I) -> Listener
    where
        I: IntoIterator<Item = WakeKey>,
    {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let receivers = keys
            .into_iter()
            .map(|key| {
                let sender = channels.entry(key).or_insert_with(|| watch::channel(0).0);
                let mut receiver = sender.subscribe();
                receiver.mark_unchanged();
                receiver
            })
            .collect();
        Listener { receivers }
    }
}

impl Listener {
    /// Adds `other`'s keys to this listener: for a waiter that learns some of its keys only by reading storage
    /// (a user's rooms), which must listen on the keys it already knows *before* that read.
    pub fn merge(&mut self, other: Listener) {
        self.receivers.extend(other.receivers);
    }

    /// Resolves when any key was notified since the listener was created (or since the last `wait`).
    /// A listener with no keys never resolves; callers bound the wait with a timeout.
    pub async fn wait(&mut self) {
        if self.receivers.is_empty() {
            std::future::pending::<()>().await;
        }
        let waits = self
            .receivers
            .iter_mut()
            .map(|receiver| Box::pin(receiver.changed()));
        // An error means the sender was dropped, which only happens when nobody else listened; treat as a wake.
        let _ = futures_select_all(waits).await;
    }
}

/// Awaits the first of several futures (a tiny `select_all`, to avoid a dependency for one call).
async fn futures_select_all<F, T>(futures: impl Iterator<Item = F>) -> T
where
    F: std::future::Future<Output = T> + Unpin,
{
    let mut futures: Vec<F> = futures.collect();
    std::future::poll_fn(move |cx| {
        for future in futures.iter_mut() {
            if let std::task::Poll::Ready(output) = std::pin::Pin::new(future).poll(cx) {
                return std::task::Poll::Ready(output);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn wakes_a_listener_on_its_room() {
        let notifier = Notifier::new();
        let mut listener =
            notifier.listener([WakeKey::Room("!a:x".into()), WakeKey::User("@u:x".into())]);
        notifier.notify_room("!a:x");
        tokio::time::timeout(Duration::from_secs(1), listener.wait())
            .await
            .expect("listener should wake for its room");
    }

    #[tokio::test]
    async fn does_not_wake_for_other_rooms() {
        let notifier = Notifier::new();
        let mut listener = notifier.listener([WakeKey::Room("!a:x".into())]);
        notifier.notify_room("!b:x");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), listener.wait())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_notification_before_wait_is_not_lost() {
        let notifier = Notifier::new();
        let mut listener = notifier.listener([WakeKey::User("@u:x".into())]);
        // The change lands between the storage check and the wait: the wait must still return.
        notifier.notify_user("@u:x");
        tokio::time::timeout(Duration::from_secs(1), listener.wait())
            .await
            .expect("a notification sent before wait() must not be lost");
    }

    #[tokio::test]
    async fn a_merged_listener_wakes_on_a_notification_of_either_part_sent_before_the_merge() {
        let notifier = Notifier::new();
        let mut listener = notifier.listener([WakeKey::User("@u:x".into())]);
        // The user's join commits while their rooms are being read: the wake-up lands before the merge.
        notifier.notify_user("@u:x");
        listener.merge(notifier.listener([WakeKey::Room("!a:x".into())]));
        tokio::time::timeout(Duration::from_secs(1), listener.wait())
            .await
            .expect("the user's notification must wake the merged listener");
        notifier.notify_room("!a:x");
        tokio::time::timeout(Duration::from_secs(1), listener.wait())
            .await
            .expect("the merged room's notification must wake it too");
    }

    #[tokio::test]
    async fn notifications_before_the_listener_existed_do_not_wake_it() {
        let notifier = Notifier::new();
        let _early = notifier.listener([WakeKey::Room("!a:x".into())]);
        notifier.notify_room("!a:x");
        let mut listener = notifier.listener([WakeKey::Room("!a:x".into())]);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), listener.wait())
                .await
                .is_err()
        );
    }
}

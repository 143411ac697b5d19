//! The [`Event`] trait: the abstract PDU the auth rules and state resolution read.
//!
//! The homeserver implements it for its stored events (borrowing from the JSON it keeps as received),
//! so this crate never copies or re-serialises events. Only the fields the algorithms read are
//! exposed; everything is borrowed.

use std::borrow::Borrow;
use std::fmt::Debug;
use std::hash::Hash;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::Value;

/// A persistent data unit (PDU) as the authorization rules and state resolution see it.
///
/// Implementations must return the fields exactly as the event carries them; the checks here decide
/// what is valid. `rejected` is the one piece of local knowledge: whether this server rejected the
/// event on receipt (auth events or state before the event). State resolution never uses a rejected
/// event as an auth event, as the spec requires.
pub trait Event {
    /// The event ID type: `String`, `Arc<str>` or `hearth_types::EventId` all fit. Ordering and
    /// tie-breaks always use the string form, so the type's own `Ord` does not matter.
    type Id: Clone + Eq + Hash + Borrow<str> + Debug;

    /// The event ID (`$…`).
    fn event_id(&self) -> &Self::Id;
    /// The room ID; `None` only for v12 create events, which have none.
    fn room_id(&self) -> Option<&str>;
    /// The sender's user ID.
    fn sender(&self) -> &str;
    /// The event type (`type`).
    fn event_type(&self) -> &str;
    /// The state key; `None` for message events.
    fn state_key(&self) -> Option<&str>;
    /// The event content (possibly redacted).
    fn content(&self) -> &Value;
    /// The `prev_events` IDs, in the order the event lists them.
    fn prev_events(&self) -> impl Iterator<Item = &Self::Id>;
    /// The `auth_events` IDs, in the order the event lists them.
    fn auth_events(&self) -> impl Iterator<Item = &Self::Id>;
    /// `origin_server_ts` in milliseconds.
    fn origin_server_ts(&self) -> i64;
    /// `depth` (used only by state resolution v1).
    fn depth(&self) -> i64;
    /// The event this redaction redacts, wherever the room version puts it (top-level `redacts` before
    /// v11, `content.redacts` from v11); `None` for other events.
    fn redacts(&self) -> Option<&str>;
    /// Whether this server rejected the event when it received it.
    fn rejected(&self) -> bool;
}

macro_rules! forward_event_impl {
    ($($wrapper:ty),*) => {$(
        impl<T: Event + ?Sized> Event for $wrapper {
            type Id = T::Id;

            fn event_id(&self) -> &Self::Id {
                (**self).event_id()
            }
            fn room_id(&self) -> Option<&str> {
                (**self).room_id()
            }
            fn sender(&self) -> &str {
                (**self).sender()
            }
            fn event_type(&self) -> &str {
                (**self).event_type()
            }
            fn state_key(&self) -> Option<&str> {
                (**self).state_key()
            }
            fn content(&self) -> &Value {
                (**self).content()
            }
            fn prev_events(&self) -> impl Iterator<Item = &Self::Id> {
                (**self).prev_events()
            }
            fn auth_events(&self) -> impl Iterator<Item = &Self::Id> {
                (**self).auth_events()
            }
            fn origin_server_ts(&self) -> i64 {
                (**self).origin_server_ts()
            }
            fn depth(&self) -> i64 {
                (**self).depth()
            }
            fn redacts(&self) -> Option<&str> {
                (**self).redacts()
            }
            fn rejected(&self) -> bool {
                (**self).rejected()
            }
        }
    )*};
}

forward_event_impl!(&T, Box<T>, Arc<T>, Rc<T>);

/// The server name part of a user, room or event ID (everything after the first `:`), or `""` for IDs
/// without one. IDs reaching this crate were parsed at the edge; this only splits them.
pub(crate) fn server_of(id: &str) -> &str {
    id.split_once(':').map_or("", |(_, server)| server)
}

/// Event types the auth rules treat specially.
pub mod types {
    /// `m.room.create`
    pub const CREATE: &str = "m.room.create";
    /// `m.room.member`
    pub const MEMBER: &str = "m.room.member";
    /// `m.room.power_levels`
    pub const POWER_LEVELS: &str = "m.room.power_levels";
    /// `m.room.join_rules`
    pub const JOIN_RULES: &str = "m.room.join_rules";
    /// `m.room.third_party_invite`
    pub const THIRD_PARTY_INVITE: &str = "m.room.third_party_invite";
    /// `m.room.aliases`
    pub const ALIASES: &str = "m.room.aliases";
    /// `m.room.redaction`
    pub const REDACTION: &str = "m.room.redaction";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_of_splits_at_the_first_colon() {
        assert_eq!(server_of("@alice:example.org"), "example.org");
        assert_eq!(server_of("@alice:example.org:8448"), "example.org:8448");
        assert_eq!(server_of("$hashwithoutserver"), "");
    }
}

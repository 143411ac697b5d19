//! The sync side of the per-user data: typing, receipts and read markers, presence, and `/sync` itself, which
//! gathers every stream (room events, account data, receipts, typing, presence) since a token.
//!
//! Dependencies: storage, the notifier, the e2ee service (to-device messages, device lists, key counts), the account-data service (for receipts' read markers and /sync's
//! account data and ignored users), and the rooms service (memberships, timelines, state, visibility and the client-event format).

mod e2ee;
mod engine;
pub mod presence;
pub mod receipts;
mod room_initial_sync;
mod state_delta;
pub mod token;
pub mod typing;
mod unread;

pub use engine::{SyncRequest, SyncService};
pub use presence::PresenceService;
pub use receipts::ReceiptService;
pub use typing::TypingService;

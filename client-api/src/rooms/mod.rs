//! Rooms: creating rooms, membership, sending and reading events (request and response shapes).

pub mod create_room;
pub mod events;

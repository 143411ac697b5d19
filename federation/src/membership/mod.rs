//! Joining rooms over federation (spec: "Joining Rooms").

pub mod make_join;
pub mod send_join;

//! Per-user data over real HTTP on both backends: account data, tags, filters, push rules, presence,
//! capabilities and the other start-up endpoints, and `/sync`.

#[allow(dead_code)]
#[path = "../accounts/common.rs"]
mod common;

mod account_data;
mod push_rules;
mod room_initial_sync;
mod seed;
mod sync;
mod sync_state;

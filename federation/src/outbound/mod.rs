//! Policies of the outbound federation queue that need no storage.

pub mod backoff;

pub use backoff::Backoff;

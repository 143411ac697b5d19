//! The server-server (federation) API surface of Hearth.
//!
//! This crate owns what goes over the wire between homeservers and how it gets there: request and
//! response shapes (one module per endpoint, grouped by the spec's sections), `X-Matrix` request
//! authentication ([`auth`]), server discovery ([`discovery`]), the outbound IP policy ([`ip_policy`]),
//! the outbound HTTPS client ([`client`]) and the storage-free policies of the outbound queue
//! ([`outbound`]). It serves no HTTP and touches no storage; the homeserver joins it to its services.
//! Unlike the pure crates below it, it does network I/O (DNS, HTTPS) — on purpose, as its job.

pub mod auth;
pub mod client;
pub mod discovery;
mod error;
pub mod ip_policy;
pub mod keys;
pub mod media;
pub mod membership;
pub mod outbound;
pub mod server_acl;
pub mod transactions;

pub use error::Error;

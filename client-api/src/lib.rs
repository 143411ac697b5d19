//! The client-server API surface of Hearth: request and response shapes, and the standard error type.
//!
//! This crate owns *what goes over the wire* for the client-server API — one module per endpoint, grouped by the
//! spec's sections — and nothing about how requests are served: no HTTP framework, no I/O. The homeserver crate
//! joins these types to its services at the HTTP edge.

pub mod account;
pub mod discovery;
pub mod error;
pub mod keys;
pub mod media;
pub mod push;
pub mod rooms;
pub mod sync;

pub use error::{ErrorCode, MatrixError};

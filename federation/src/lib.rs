//! The server-server (federation) API surface of Hearth: request and response shapes.
//!
//! This crate owns what goes over the wire between homeservers — one module per endpoint, grouped by the spec's
//! sections. It does no HTTP serving; the homeserver crate joins these types to its services.

pub mod discovery;

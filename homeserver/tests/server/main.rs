//! Black-box tests of the `hearth` server: each test starts a real server in-process on random loopback ports
//! with a temporary data directory and SQLite, and talks to it over HTTP(S) like a client or a peer would.
//! The `cli` module runs the built `hearth` binary itself.

mod cli;
mod client_api_doc;
mod client_endpoints;
mod common;
mod federation_listener;
mod lifecycle;
mod python_signedjson;
mod server_keys;

//! Hearth homeserver library: storage, services and HTTP handlers behind the `hearth` binary.

pub mod admin;
pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod logging;
pub mod notifier;
pub mod ratelimit;
pub mod server;
pub mod services;
pub mod signing_key;
pub mod storage;
pub mod tls;

pub use config::Config;
pub use error::Error;
pub use server::{RunningServer, start};

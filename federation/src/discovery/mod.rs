//! Server discovery, both sides: the endpoints other servers use to find this server, learn its software
//! version and fetch its signing keys, and resolving another server's name to addresses (spec: "Server
//! discovery", "Retrieving server keys", "GET /_matrix/federation/v1/version").

pub mod dns;
pub mod resolve;
pub mod server_keys;
pub mod version;
pub mod well_known;
pub mod well_known_cache;

pub use dns::{Dns, HickoryDns, SrvRecord};
pub use resolve::{Destination, ServerResolver, TlsHost, WellKnownFetcher};

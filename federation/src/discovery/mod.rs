//! Endpoints other servers use to find this server, learn its software version and fetch its signing keys
//! (spec: "Server discovery", "Retrieving server keys", "GET /_matrix/federation/v1/version").

pub mod server_keys;
pub mod version;
pub mod well_known;

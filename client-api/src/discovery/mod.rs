//! Endpoints a client calls before it logs in, to learn where the server is and what it speaks
//! (spec: "Server Discovery" and "API Standards / versions").

pub mod versions;
pub mod well_known;

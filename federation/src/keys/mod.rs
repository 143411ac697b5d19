//! Server keys through a notary (spec: "Querying Keys Through Another Server").

pub mod query;

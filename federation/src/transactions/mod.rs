//! Transactions: how PDUs and EDUs travel between two servers (spec: "Transactions", "EDUs").

pub mod edu;
pub mod send;

pub use edu::Edu;
pub use send::{MAX_EDUS, MAX_PDUS, PduResult, SendTransactionResponse, Transaction};

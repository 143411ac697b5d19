//! `PUT /_matrix/federation/v1/send/{txnId}` — a transaction of PDUs and EDUs, and the per-PDU answer.
//!
//! PDUs stay raw JSON: they are verified against exactly the bytes received (unknown fields included)
//! before any typed view is taken. EDUs are kept raw too ([`Edu`](super::Edu) is a typed view of one) so a single
//! malformed EDU cannot fail the whole transaction.

use std::collections::BTreeMap;

use hearth_types::{EventId, ServerName};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// HTTP method of the endpoint.
pub const METHOD: &str = "PUT";
/// Path of the endpoint, with the transaction ID appended (percent-encoded).
pub const PATH_PREFIX: &str = "/_matrix/federation/v1/send/";
/// Most PDUs a transaction may carry (spec).
pub const MAX_PDUS: usize = 50;
/// Most EDUs a transaction may carry (spec).
pub const MAX_EDUS: usize = 100;

/// A transaction, as sent and as received.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// The sending server; must equal the authenticated X-Matrix origin.
    pub origin: ServerName,
    /// When the origin created the transaction, milliseconds since the Unix epoch.
    pub origin_server_ts: u64,
    /// Persistent events, as received.
    pub pdus: Vec<Value>,
    /// Ephemeral events, as received (absent means none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edus: Vec<Value>,
}

impl Transaction {
    /// Checks the spec's limits; a transaction over them is rejected as a whole with 400.
    pub fn check_limits(&self) -> Result<(), Error> {
        if self.pdus.len() > MAX_PDUS {
            return Err(Error::TransactionTooLarge {
                kind: "PDUs",
                count: self.pdus.len(),
                limit: MAX_PDUS,
            });
        }
        if self.edus.len() > MAX_EDUS {
            return Err(Error::TransactionTooLarge {
                kind: "EDUs",
                count: self.edus.len(),
                limit: MAX_EDUS,
            });
        }
        Ok(())
    }
}

/// The outcome of one PDU: empty on success, or why it was not accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PduResult {
    /// Why processing failed; absent when the PDU was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `/send` answer: a result per PDU event ID. One bad PDU never fails the transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendTransactionResponse {
    /// Results by event ID.
    pub pdus: BTreeMap<EventId, PduResult>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn transaction(pdus: usize, edus: usize) -> Transaction {
        let parsed = serde_json::from_value(json!({
            "origin": "a.example",
            "origin_server_ts": 1,
            "pdus": vec![json!({}); pdus],
            "edus": vec![json!({"edu_type": "m.typing", "content": {}}); edus],
        }));
        match parsed {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn accepts_transactions_at_the_limits() {
        assert!(transaction(50, 100).check_limits().is_ok());
        assert!(transaction(0, 0).check_limits().is_ok());
    }

    #[test]
    fn rejects_51_pdus_or_101_edus() {
        let err = transaction(51, 0).check_limits();
        assert!(matches!(
            err,
            Err(Error::TransactionTooLarge {
                kind: "PDUs",
                count: 51,
                ..
            })
        ));
        assert_eq!(
            err.err().map(|e| (e.status(), e.errcode())),
            Some((400, "M_BAD_JSON"))
        );
        assert!(matches!(
            transaction(0, 101).check_limits(),
            Err(Error::TransactionTooLarge {
                kind: "EDUs",
                count: 101,
                ..
            })
        ));
    }

    #[test]
    fn edus_may_be_absent_and_origin_must_be_a_server_name() {
        let parsed: Result<Transaction, _> = serde_json::from_value(
            json!({"origin": "a.example", "origin_server_ts": 5, "pdus": []}),
        );
        assert_eq!(parsed.ok().map(|t| t.edus.len()), Some(0));
        let bad: Result<Transaction, _> = serde_json::from_value(
            json!({"origin": "not valid!", "origin_server_ts": 5, "pdus": []}),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn response_lists_errors_only_for_failed_pdus() {
        let mut response = SendTransactionResponse::default();
        let (Ok(good), Ok(bad)) = (
            EventId::parse("$good:a.example"),
            EventId::parse("$bad:a.example"),
        ) else {
            panic!("event IDs")
        };
        response.pdus.insert(good, PduResult::default());
        response.pdus.insert(
            bad,
            PduResult {
                error: Some("auth failed".into()),
            },
        );
        assert_eq!(
            serde_json::to_value(&response).ok(),
            Some(
                json!({"pdus": {"$good:a.example": {}, "$bad:a.example": {"error": "auth failed"}}})
            )
        );
    }
}

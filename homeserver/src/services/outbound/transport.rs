//! How a transaction reaches a destination: [`TransactionTransport`], implemented by the federation client
//! (signed `PUT /_matrix/federation/v1/send/{txnId}`) and, in tests, by fakes that fail or hang on purpose.

use std::future::Future;
use std::pin::Pin;

use hearth_federation::client::FederationClient;
use hearth_federation::transactions::send::PATH_PREFIX;
use hearth_federation::transactions::{SendTransactionResponse, Transaction};
use hearth_types::ServerName;

/// A boxed, sendable future (what trait objects can return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one transaction to one destination and returns the peer's answer.
pub trait TransactionTransport: Send + Sync + 'static {
    /// `PUT /_matrix/federation/v1/send/{txn_id}` with `transaction` to `destination`.
    fn send_transaction<'a>(
        &'a self,
        destination: &'a ServerName,
        txn_id: &'a str,
        transaction: &'a Transaction,
    ) -> BoxFuture<'a, Result<SendTransactionResponse, hearth_federation::Error>>;
}

impl TransactionTransport for FederationClient {
    fn send_transaction<'a>(
        &'a self,
        destination: &'a ServerName,
        txn_id: &'a str,
        transaction: &'a Transaction,
    ) -> BoxFuture<'a, Result<SendTransactionResponse, hearth_federation::Error>> {
        Box::pin(async move {
            let path = format!("{PATH_PREFIX}{}", encode_path_segment(txn_id));
            self.put_json(destination, &path, transaction).await
        })
    }
}

/// Percent-encodes one path segment (room IDs, event IDs, user IDs, transaction IDs) for a federation URL.
pub fn encode_path_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

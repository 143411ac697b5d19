//! Acting as a notary: `GET /_matrix/key/v2/query/{serverName}` and `POST /_matrix/key/v2/query` answer
//! other servers' key documents from the cache, fetching when the cache cannot satisfy the request, each
//! document countersigned by this server (as Synapse does).

use std::collections::{BTreeMap, BTreeSet};

use hearth_federation::keys::query::KeyCriteria;
use hearth_types::ServerName;
use serde_json::Value;

use super::{KeyService, MAX_NOTARY_SERVERS, now_ms};

/// Why a notary query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum NotaryError {
    /// The request asks about more servers than one request may.
    #[error("a key query may name at most {MAX_NOTARY_SERVERS} servers")]
    TooManyServers,
    /// The database failed.
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// Signing a document failed.
    #[error("signing: {0}")]
    Signing(#[from] hearth_crypto::Error),
}

impl KeyService {
    /// The key documents of every server in `query` (server name → key ID → criteria; no key IDs means
    /// all keys), countersigned by this server. Servers whose keys cannot be had are left out, as the spec
    /// allows. `own_document` is this server's own signed document, answered for our own name.
    pub async fn notary_query(
        &self,
        query: &BTreeMap<String, BTreeMap<String, KeyCriteria>>,
        own_document: impl Fn() -> Option<Value>,
    ) -> Result<Vec<Value>, NotaryError> {
        if query.len() > MAX_NOTARY_SERVERS {
            return Err(NotaryError::TooManyServers);
        }
        let mut answer = Vec::new();
        for (server, criteria) in query {
            let Ok(server) = ServerName::parse(server) else {
                continue;
            };
            if server == self.server_name {
                answer.extend(own_document());
                continue;
            }
            if !self.cache_satisfies(&server, criteria).await? {
                self.fetch_keys(&server).await;
            }
            for document in self.cached_documents(&server).await? {
                answer.push(self.countersign(document)?);
            }
        }
        Ok(answer)
    }

    /// Whether the cache holds every key `criteria` asks for (or, with no key IDs, some current key), valid
    /// until at least the asked time (default: now).
    async fn cache_satisfies(
        &self,
        server: &ServerName,
        criteria: &BTreeMap<String, KeyCriteria>,
    ) -> Result<bool, NotaryError> {
        let rows = self
            .storage
            .list_remote_server_keys(server.as_str())
            .await?;
        let now = now_ms();
        let minimum = |criteria: Option<&KeyCriteria>| {
            criteria
                .and_then(|c| c.minimum_valid_until_ts)
                .map_or(now, |ts| i64::try_from(ts).unwrap_or(i64::MAX))
        };
        if criteria.keys().all(String::is_empty) {
            // No key IDs (or the single-server form's "any key" entry): some current key must do.
            let wanted = minimum(criteria.get(""));
            return Ok(rows
                .iter()
                .any(|row| row.expired_ts.is_none() && row.valid_until_ts >= wanted));
        }
        Ok(criteria.iter().all(|(key_id, criteria)| {
            let wanted = minimum(Some(criteria));
            rows.iter()
                .any(|row| &row.key_id == key_id && row.valid_until_ts >= wanted)
        }))
    }

    /// The distinct key documents cached for `server`, as received.
    async fn cached_documents(&self, server: &ServerName) -> Result<Vec<Value>, NotaryError> {
        let rows = self
            .storage
            .list_remote_server_keys(server.as_str())
            .await?;
        let texts: BTreeSet<&str> = rows
            .iter()
            .filter_map(|row| row.key_json.as_deref())
            .collect();
        Ok(texts
            .into_iter()
            .filter_map(|text| serde_json::from_str(text).ok())
            .collect())
    }

    fn countersign(&self, mut document: Value) -> Result<Value, NotaryError> {
        hearth_crypto::sign_json(&mut document, self.server_name.as_str(), &self.signing_key)?;
        Ok(document)
    }
}

//! The remote key service: other servers' ed25519 verify keys, fetched, verified, cached and used to check
//! signed JSON (requests, PDUs, key documents).
//!
//! A key is looked up in `remote_server_keys` first. When the key a signature names is unknown, or is not
//! valid at the time that matters (the event's `origin_server_ts`, or now for request authentication), the
//! origin's `/_matrix/key/v2/server` is fetched and its self-signature checked; when that fails, each
//! configured notary (`[federation] trusted_key_servers`) is asked with `POST /_matrix/key/v2/query`, and its
//! answer must carry both the origin's self-signature and the notary's signature. Old keys stay cached so
//! old events remain verifiable. `valid_until_ts` is capped at seven days after the fetch, as the spec asks.
//!
//! Bounds: at most [`MAX_CONCURRENT_FETCHES`] fetches at once, each within [`FETCH_TIMEOUT`], one fetch per
//! server at a time (concurrent askers wait for it and then read the cache), and a server whose fetch failed
//! is not asked again for [`FAILURE_BACKOFF`], so a hostile peer naming unknown servers cannot make Hearth
//! hammer them.
//!
//! Dependencies: storage, the federation client; no other service.

mod fetch;
mod notary;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hearth_crypto::{SigningKey, VerifyKey};
use hearth_federation::client::FederationClient;
use hearth_types::pdu::{VerifiedEvent, required_signatures, verify_event};
use hearth_types::{RoomVersionRules, ServerName};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::signing_key::OldVerifyKeys;
use crate::storage::{RemoteServerKey, Storage};

pub use notary::NotaryError;

/// Most key fetches (direct or via a notary) running at once, server-wide.
pub const MAX_CONCURRENT_FETCHES: usize = 8;
/// Time for one key fetch from one server.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a server whose keys could not be fetched is not asked again.
pub const FAILURE_BACKOFF: Duration = Duration::from_secs(30);
/// The longest validity the spec lets a key document claim: seven days from when it was fetched.
pub const MAX_KEY_VALIDITY_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Most servers one notary request may ask about.
pub const MAX_NOTARY_SERVERS: usize = 100;

/// Why a signature or a key document could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The signed object is malformed, a required signature is missing or does not verify.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
}

/// The remote key service. Shared as `Arc<KeyService>`.
pub struct KeyService {
    storage: Storage,
    client: Option<Arc<FederationClient>>,
    server_name: ServerName,
    signing_key: Arc<SigningKey>,
    old_verify_keys: Arc<OldVerifyKeys>,
    trusted_key_servers: Vec<ServerName>,
    fetch_slots: Semaphore,
    /// One fetch per server at a time.
    per_server: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Servers whose last fetch failed, and when.
    failures: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService")
            .field("server_name", &self.server_name)
            .field("trusted_key_servers", &self.trusted_key_servers)
            .finish_non_exhaustive()
    }
}

/// Which keys of a server a lookup accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    /// Any key (current or retired) valid at this time, ms since the epoch: event signatures.
    ValidAt(i64),
    /// Any key we know, whatever its validity (room versions that do not enforce key validity).
    Any,
    /// A current key valid now: request authentication (`old_verify_keys` never authenticate requests).
    CurrentNow,
}

impl KeyService {
    /// A service caching in `storage`, fetching with `client` (`None`: federation disabled, cache only), and
    /// answering for our own server from `signing_key` and `old_verify_keys`.
    pub fn new(
        storage: Storage,
        client: Option<Arc<FederationClient>>,
        server_name: ServerName,
        signing_key: Arc<SigningKey>,
        old_verify_keys: Arc<OldVerifyKeys>,
        trusted_key_servers: Vec<ServerName>,
    ) -> Self {
        Self {
            storage,
            client,
            server_name,
            signing_key,
            old_verify_keys,
            trusted_key_servers,
            fetch_slots: Semaphore::new(MAX_CONCURRENT_FETCHES),
            per_server: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// This server's name.
    pub fn server_name(&self) -> &ServerName {
        &self.server_name
    }

    /// This server's signing key (notary answers are countersigned with it).
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The verify key `server` signs with under `key_id`, if it is usable for `usage`; fetches when the key
    /// is unknown or not valid long enough.
    pub async fn verify_key(
        &self,
        server: &ServerName,
        key_id: &str,
        usage: KeyUse,
    ) -> Result<Option<VerifyKey>, KeyError> {
        if server == &self.server_name {
            return Ok(self.own_key(key_id, usage));
        }
        if let Some(key) = self.cached_key(server, key_id, usage).await? {
            return Ok(Some(key));
        }
        self.fetch_keys(server).await;
        self.cached_key(server, key_id, usage).await
    }

    /// Verifies the signatures a received PDU needs (per room version, over its redacted form, with keys
    /// valid at its `origin_server_ts` where the version enforces it), then its content hash: `Valid`, or
    /// the redacted copy to keep when only the hash fails. Errors mean "drop the event".
    pub async fn verify_pdu(
        &self,
        event: &Value,
        rules: &RoomVersionRules,
    ) -> Result<VerifiedEvent, KeyError> {
        let servers = required_signatures(event, rules).map_err(invalid)?;
        let origin_server_ts = event
            .get("origin_server_ts")
            .and_then(Value::as_i64)
            .ok_or_else(|| KeyError::Invalid("origin_server_ts is not an integer".into()))?;
        let usage = if rules.enforce_key_validity {
            KeyUse::ValidAt(origin_server_ts)
        } else {
            KeyUse::Any
        };
        let keys = self
            .keys_for_signatures(
                event,
                servers.required.iter().chain(servers.optional.iter()),
                usage,
            )
            .await?;
        verify_event(event, rules, |server, key_id| {
            keys.get(&(server.as_str().to_owned(), key_id.to_owned()))
                .cloned()
        })
        .map_err(invalid)
    }

    /// Verifies that `server` validly signed `value` (not an event: no redaction) with at least one key it
    /// currently uses, every signature by a known key verifying. For signed JSON such as third-party invite
    /// tokens or device keys relayed over federation.
    pub async fn verify_signed_json(
        &self,
        value: &Value,
        server: &ServerName,
    ) -> Result<(), KeyError> {
        let keys = self
            .keys_for_signatures(value, std::iter::once(server), KeyUse::CurrentNow)
            .await?;
        hearth_types::pdu::verify_server_signature(value, server, |server, key_id| {
            keys.get(&(server.as_str().to_owned(), key_id.to_owned()))
                .cloned()
        })
        .map_err(invalid)
    }

    /// The keys named in `value.signatures` for each of `servers` that are usable for `usage`.
    async fn keys_for_signatures<'a>(
        &self,
        value: &Value,
        servers: impl Iterator<Item = &'a ServerName>,
        usage: KeyUse,
    ) -> Result<HashMap<(String, String), VerifyKey>, KeyError> {
        let mut keys = HashMap::new();
        for server in servers {
            let key_ids: Vec<String> = value
                .get("signatures")
                .and_then(|s| s.get(server.as_str()))
                .and_then(Value::as_object)
                .map(|by_key| {
                    by_key
                        .keys()
                        .filter(|id| id.starts_with("ed25519:"))
                        .take(8)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for key_id in key_ids {
                if let Some(key) = self.verify_key(server, &key_id, usage).await? {
                    keys.insert((server.as_str().to_owned(), key_id), key);
                }
            }
        }
        Ok(keys)
    }

    /// Our own key (current or retired) under `key_id`.
    fn own_key(&self, key_id: &str, usage: KeyUse) -> Option<VerifyKey> {
        if self.signing_key.key_id().as_str() == key_id {
            return Some(self.signing_key.verify_key());
        }
        if usage == KeyUse::CurrentNow {
            return None;
        }
        let old = self.old_verify_keys.get(key_id)?;
        if let KeyUse::ValidAt(ts) = usage
            && i64::try_from(old.expired_ts).unwrap_or(i64::MAX) < ts
        {
            return None;
        }
        VerifyKey::from_base64(&old.key).ok()
    }

    /// A cached key of a remote server, if usable for `usage`.
    async fn cached_key(
        &self,
        server: &ServerName,
        key_id: &str,
        usage: KeyUse,
    ) -> Result<Option<VerifyKey>, KeyError> {
        let Some(row) = self
            .storage
            .get_remote_server_key(server.as_str(), key_id)
            .await?
        else {
            return Ok(None);
        };
        let usable = match usage {
            KeyUse::Any => true,
            KeyUse::ValidAt(ts) => row.valid_until_ts >= ts,
            KeyUse::CurrentNow => row.expired_ts.is_none() && row.valid_until_ts >= now_ms(),
        };
        Ok(usable
            .then(|| VerifyKey::from_bytes(&row.public_key).ok())
            .flatten())
    }

    /// Fetches `server`'s keys (directly, then from the notaries) and caches what verifies. Failures are
    /// logged and remembered for [`FAILURE_BACKOFF`]; the caller reads the cache afterwards either way.
    async fn fetch_keys(&self, server: &ServerName) {
        let Some(client) = &self.client else {
            return;
        };
        if self.recently_failed(server) {
            return;
        }
        let server_lock = {
            let mut locks = self
                .per_server
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if locks.len() > 10_000 {
                locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            locks.entry(server.as_str().to_owned()).or_default().clone()
        };
        let _server_guard = server_lock.lock().await;
        // Someone else fetched while we waited (or just before): their answer is what the server says now.
        let recent = now_ms().saturating_sub(5_000);
        if self
            .storage
            .list_remote_server_keys(server.as_str())
            .await
            .is_ok_and(|rows| rows.iter().any(|row| row.fetched_ts >= recent))
        {
            return;
        }
        let Ok(_slot) = self.fetch_slots.acquire().await else {
            return;
        };
        let mut fetched =
            match tokio::time::timeout(FETCH_TIMEOUT, fetch::fetch_direct(client, server)).await {
                Ok(Ok(rows)) => rows,
                Ok(Err(reason)) => {
                    tracing::info!(%server, %reason, "fetching the server's keys directly failed");
                    Vec::new()
                }
                Err(_) => {
                    tracing::info!(%server, "fetching the server's keys directly timed out");
                    Vec::new()
                }
            };
        if fetched.is_empty() {
            for notary in &self.trusted_key_servers {
                if notary == server {
                    continue;
                }
                match tokio::time::timeout(
                    FETCH_TIMEOUT,
                    self.fetch_via_notary(client, notary, server),
                )
                .await
                {
                    Ok(Ok(rows)) if !rows.is_empty() => {
                        fetched = rows;
                        break;
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(reason)) => {
                        tracing::info!(%server, %notary, %reason, "notary key query failed");
                    }
                    Err(_) => tracing::info!(%server, %notary, "notary key query timed out"),
                }
            }
        }
        if fetched.is_empty() {
            self.failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(server.as_str().to_owned(), Instant::now());
            return;
        }
        if let Err(error) = self.storage.store_remote_server_keys(&fetched).await {
            tracing::warn!(%server, %error, "cannot cache fetched server keys");
        }
    }

    /// Asks `notary` for `server`'s keys; each document must be self-signed by `server` and signed by the
    /// notary (whose own keys are fetched directly).
    async fn fetch_via_notary(
        &self,
        client: &FederationClient,
        notary: &ServerName,
        server: &ServerName,
    ) -> Result<Vec<RemoteServerKey>, String> {
        let notary_keys = if notary == &self.server_name {
            return Ok(Vec::new());
        } else {
            let cached = self
                .storage
                .list_remote_server_keys(notary.as_str())
                .await
                .map_err(|e| e.to_string())?;
            let now = now_ms();
            if cached
                .iter()
                .any(|row| row.expired_ts.is_none() && row.valid_until_ts >= now)
            {
                cached
            } else {
                let rows = fetch::fetch_direct(client, notary).await?;
                self.storage
                    .store_remote_server_keys(&rows)
                    .await
                    .map_err(|e| e.to_string())?;
                rows
            }
        };
        fetch::fetch_from_notary(client, notary, &notary_keys, server).await
    }

    fn recently_failed(&self, server: &ServerName) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.retain(|_, at| at.elapsed() < FAILURE_BACKOFF);
        failures.contains_key(server.as_str())
    }
}

fn invalid(error: impl std::fmt::Display) -> KeyError {
    KeyError::Invalid(error.to_string())
}

/// Wall-clock milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    i64::try_from(crate::signing_key::now_millis()).unwrap_or(i64::MAX)
}

//! The crate's single error type, and its mapping to the spec's `errcode` and HTTP status.
//!
//! Request-authentication failures map to `401 M_UNAUTHORIZED`, which is what the spec and Synapse answer;
//! the other variants describe outbound failures (discovery, connection, peer answers) that the homeserver
//! logs and retries rather than returning to a peer.

use thiserror::Error;

/// Errors produced by `hearth_federation`.
#[derive(Debug, Error)]
pub enum Error {
    /// The `Authorization` header is absent or uses another scheme than `X-Matrix`.
    #[error("missing X-Matrix Authorization header")]
    MissingAuthorization,
    /// The `Authorization` header does not follow the RFC 9110 credentials grammar.
    #[error("malformed X-Matrix Authorization header: {0}")]
    MalformedAuthorization(String),
    /// A required X-Matrix parameter (`origin`, `key`, `sig`) is absent.
    #[error("X-Matrix Authorization header has no `{0}` parameter")]
    MissingAuthorizationParameter(&'static str),
    /// An X-Matrix parameter appears more than once (ambiguous: which one was signed?).
    #[error("X-Matrix Authorization header repeats the `{0}` parameter")]
    DuplicateAuthorizationParameter(String),
    /// The header's `destination` is not this server.
    #[error("destination mismatch in X-Matrix Authorization header")]
    DestinationMismatch,
    /// The origin's key named by the header is unknown (or could not be fetched).
    #[error("unknown signing key {key_id} for server {origin}")]
    UnknownKey {
        /// The claimed origin.
        origin: String,
        /// The key ID named by the header.
        key_id: String,
    },
    /// The X-Matrix signature does not verify: forged, another origin's, or the method, URI or body
    /// changed after signing.
    #[error("invalid X-Matrix signature for server {origin} with key {key_id}")]
    BadSignature {
        /// The claimed origin.
        origin: String,
        /// The key ID named by the header.
        key_id: String,
    },
    /// A transaction exceeds the spec's limits (50 PDUs, 100 EDUs).
    #[error("transaction has {count} {kind}, more than the limit of {limit}")]
    TransactionTooLarge {
        /// `PDUs` or `EDUs`.
        kind: &'static str,
        /// How many it has.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Server discovery could not produce an address to connect to.
    #[error("cannot resolve server {server}: {reason}")]
    Resolution {
        /// The server name being resolved.
        server: String,
        /// Why.
        reason: String,
    },
    /// Every address a destination resolved to is outside the allowed IP ranges (SSRF protection).
    #[error("server {server} resolves only to denied IP addresses")]
    DeniedAddress {
        /// The server name being resolved.
        server: String,
    },
    /// The outbound client could not be configured (bad CA file, TLS setup).
    #[error("federation client configuration: {0}")]
    ClientConfig(String),
    /// The request to a peer failed before a complete answer arrived (connect, TLS, timeout, size).
    #[error("request to {destination} failed: {reason}")]
    Request {
        /// The destination server.
        destination: String,
        /// Why.
        reason: String,
    },
    /// The peer answered with a non-success status.
    #[error("{destination} answered {status}: {body}")]
    PeerStatus {
        /// The destination server.
        destination: String,
        /// HTTP status.
        status: u16,
        /// The start of the answer's body (bounded), usually a Matrix error object.
        body: String,
    },
    /// The peer's answer is not the JSON we expected.
    #[error("{destination} answered with malformed JSON: {reason}")]
    PeerJson {
        /// The destination server.
        destination: String,
        /// Why.
        reason: String,
    },
    /// Signing or canonical JSON failed in the crypto layer.
    #[error(transparent)]
    Crypto(#[from] hearth_crypto::Error),
}

impl Error {
    /// The spec's `errcode` for answering a peer with this error.
    pub fn errcode(&self) -> &'static str {
        match self {
            Self::MissingAuthorization
            | Self::MalformedAuthorization(_)
            | Self::MissingAuthorizationParameter(_)
            | Self::DuplicateAuthorizationParameter(_)
            | Self::DestinationMismatch
            | Self::UnknownKey { .. }
            | Self::BadSignature { .. } => "M_UNAUTHORIZED",
            Self::TransactionTooLarge { .. } => "M_BAD_JSON",
            _ => "M_UNKNOWN",
        }
    }

    /// The HTTP status for answering a peer with this error.
    pub fn status(&self) -> u16 {
        match self.errcode() {
            "M_UNAUTHORIZED" => 401,
            "M_BAD_JSON" => 400,
            _ => 500,
        }
    }
}

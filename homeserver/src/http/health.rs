//! `GET /health`: a liveness probe for load balancers and service managers.

/// Answers `OK` while the server accepts requests.
pub async fn health() -> &'static str {
    "OK"
}

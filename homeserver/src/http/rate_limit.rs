//! The HTTP side of rate limiting: who is limited (not server admins) and by what key (the user, or the client's
//! IP address for unauthenticated endpoints). The buckets live in [`crate::ratelimit::RateLimiter`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use hearth_client_api::MatrixError;

use super::auth::Authenticated;
use super::state::AppState;
use crate::ratelimit::Action;

/// The address of the peer that sent the request (the TCP peer; a reverse proxy's own address when one is in
/// front). Requests built without a connection (in-process tests) count as `0.0.0.0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts)))
    }
}

/// The peer address of a request, `0.0.0.0` when unknown.
pub fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

/// Takes one `action` token for the authenticated user; server admins are exempt.
pub fn limit_user(
    state: &AppState,
    action: Action,
    auth: &Authenticated,
) -> Result<(), MatrixError> {
    if auth.is_admin {
        return Ok(());
    }
    state.rate_limiter.acquire(action, auth.user_id.as_str())
}

//! Access-token authentication of client requests: the [`Authenticated`] extractor.
//!
//! A client presents its token in `Authorization: Bearer <token>` or, as older clients and bots still do, in the
//! `?access_token=` query parameter (not both). The token is hashed ([`TokenHash`]) and looked up together with
//! its owner's account flags in one query; the raw token never reaches the database.
//!
//! Failures answer the spec's codes: no token → 401 `M_MISSING_TOKEN`; a token that is unknown, revoked,
//! belongs to a deactivated account or has expired → 401 `M_UNKNOWN_TOKEN` with `soft_logout` (true only for an
//! expired token, whose device may log in again and keep its keys).

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_types::{DeviceId, UserId};

use super::error::ApiError;
use super::state::AppState;
use crate::signing_key::now_millis;
use crate::storage::TokenHash;

/// The caller of a client endpoint, proven by a valid access token.
///
/// Handlers that need a logged-in user take this as an argument; `Option<Authenticated>` accepts anonymous
/// callers but still rejects a token that is present and invalid.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The token's owner (always a local user).
    pub user_id: UserId,
    /// The device the token belongs to; `None` for tokens not bound to a device.
    pub device_id: Option<DeviceId>,
    /// The owner is a guest (`kind=guest` registration): many endpoints refuse guests.
    pub is_guest: bool,
    /// The owner is a server administrator.
    pub is_admin: bool,
    /// Hash of the presented token, for `/logout` (which revokes exactly this token).
    pub token_hash: TokenHash,
}

/// Where the request carried its token, if anywhere; errors on a malformed or doubled token.
fn presented_token(parts: &Parts) -> Result<Option<String>, MatrixError> {
    let from_header = match parts.headers.get(AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().map_err(|_| malformed_header())?;
            let (scheme, token) = value.split_once(' ').ok_or_else(malformed_header)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(malformed_header());
            }
            let token = token.trim();
            if token.is_empty() {
                return Err(malformed_header());
            }
            Some(token.to_owned())
        }
    };
    let from_query = parts.uri.query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "access_token")
            .map(|(_, value)| value.into_owned())
    });
    match (from_header, from_query) {
        (Some(_), Some(_)) => Err(MatrixError::new(
            ErrorCode::MissingToken,
            "Mixing the Authorization header and the access_token query parameter is not allowed",
        )),
        (Some(token), None) | (None, Some(token)) => Ok(Some(token)),
        (None, None) => Ok(None),
    }
}

fn malformed_header() -> MatrixError {
    MatrixError::new(
        ErrorCode::MissingToken,
        "The Authorization header must be `Bearer <access token>`",
    )
}

fn missing_token() -> MatrixError {
    MatrixError::new(ErrorCode::MissingToken, "Missing access token")
}

/// 401 `M_UNKNOWN_TOKEN`; `soft_logout` tells the client whether it may log in again on the same device.
pub fn unknown_token(soft_logout: bool) -> MatrixError {
    MatrixError::new(ErrorCode::UnknownToken, "Unrecognised access token")
        .with_field("soft_logout", soft_logout)
}

/// Resolves a presented token to its owner.
async fn authenticate(state: &AppState, token: &str) -> Result<Authenticated, MatrixError> {
    let token_hash = TokenHash::of(token);
    let stored = state
        .storage
        .lookup_access_token(&token_hash)
        .await
        .map_err(|error| {
            tracing::error!(%error, "access token lookup failed");
            MatrixError::internal()
        })?
        .ok_or_else(|| unknown_token(false))?;
    if stored.deactivated {
        return Err(unknown_token(false));
    }
    let now = i64::try_from(now_millis()).unwrap_or(i64::MAX);
    if stored.is_expired_at(now) {
        return Err(unknown_token(true));
    }
    let user_id = UserId::parse(&stored.user_id).map_err(|error| {
        tracing::error!(user_id = %stored.user_id, %error, "stored user ID does not parse");
        MatrixError::internal()
    })?;
    let device_id = match stored.device_id.as_deref() {
        None => None,
        Some(device) => Some(DeviceId::parse(device).map_err(|error| {
            tracing::error!(device_id = %device, %error, "stored device ID does not parse");
            MatrixError::internal()
        })?),
    };
    Ok(Authenticated {
        user_id,
        device_id,
        is_guest: stored.is_guest,
        is_admin: stored.is_admin,
        token_hash,
    })
}

/// 403 `M_GUEST_ACCESS_FORBIDDEN` when a guest calls an endpoint guests may not use.
fn check_guest_access(parts: &Parts, auth: &Authenticated) -> Result<(), MatrixError> {
    if !auth.is_guest {
        return Ok(());
    }
    let route = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str);
    if route.is_some_and(|route| super::guest::guest_may_call(&parts.method, route)) {
        Ok(())
    } else {
        Err(MatrixError::new(
            ErrorCode::GuestAccessForbidden,
            "Guest accounts may not use this endpoint",
        ))
    }
}

/// Records the device's `last_seen_ts`/`last_seen_ip` (throttled to once a minute per device by the service).
fn note_device_seen(state: &AppState, parts: &Parts, auth: &Authenticated) {
    if let Some(device) = &auth.device_id {
        let ip = super::rate_limit::client_ip(parts).to_string();
        let now = i64::try_from(now_millis()).unwrap_or(i64::MAX);
        state
            .accounts
            .device_seen(&auth.user_id, device.as_str(), ip, now);
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = presented_token(parts)?.ok_or_else(missing_token)?;
        let auth = authenticate(state, &token).await?;
        check_guest_access(parts, &auth)?;
        note_device_seen(state, parts, &auth);
        Ok(auth)
    }
}

impl OptionalFromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        match presented_token(parts)? {
            None => Ok(None),
            Some(token) => {
                let auth = authenticate(state, &token).await?;
                check_guest_access(parts, &auth)?;
                note_device_seen(state, parts, &auth);
                Ok(Some(auth))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(uri: &str, authorization: Option<&str>) -> Parts {
        let mut builder = Request::builder().uri(uri);
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn reads_bearer_token_from_header() {
        let token = presented_token(&parts("/x", Some("Bearer abc"))).unwrap();
        assert_eq!(token.as_deref(), Some("abc"));
        let token = presented_token(&parts("/x", Some("bearer  abc "))).unwrap();
        assert_eq!(token.as_deref(), Some("abc"));
    }

    #[test]
    fn reads_percent_encoded_token_from_query() {
        let token = presented_token(&parts("/x?a=1&access_token=ab%2Bc", None)).unwrap();
        assert_eq!(token.as_deref(), Some("ab+c"));
    }

    #[test]
    fn no_token_is_none() {
        assert_eq!(presented_token(&parts("/x?a=1", None)).unwrap(), None);
    }

    #[test]
    fn rejects_other_schemes_and_empty_bearer_as_missing_token() {
        for value in ["Basic abc", "Bearer", "Bearer   ", "abc"] {
            let error = presented_token(&parts("/x", Some(value))).unwrap_err();
            assert_eq!(error.errcode, ErrorCode::MissingToken, "{value}");
            assert_eq!(error.status, 401);
        }
    }

    #[test]
    fn rejects_token_in_both_header_and_query() {
        let error = presented_token(&parts("/x?access_token=a", Some("Bearer a"))).unwrap_err();
        assert_eq!(error.errcode, ErrorCode::MissingToken);
    }

    #[test]
    fn unknown_token_carries_soft_logout() {
        let error = unknown_token(false);
        assert_eq!(error.status, 401);
        assert_eq!(error.extra["soft_logout"], false);
    }
}

//! X-Matrix authentication of server-server requests: the [`FederationOrigin`] extractor (requests without
//! a body) and [`SignedJson`] (requests with a JSON body, which the signature covers).
//!
//! The signature is checked over the method, the request target exactly as received (path and query
//! string), the origin, *our* server name as destination (a request signed for another server fails even
//! when its header omits `destination`) and the parsed JSON body. The origin's key must be one it currently
//! uses; unknown keys are fetched through the key service. Every failure answers 401 `M_UNAUTHORIZED`.
//! A proven origin is reported to the federation sender, which stops backing off from it.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_federation::auth::authenticate_request;
use hearth_types::ServerName;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::error::ApiError;
use crate::http::json::read_body;
use crate::http::state::AppState;
use crate::services::keys::KeyUse;

/// The server that sent a bodiless federation request, proven by its X-Matrix signature.
#[derive(Clone, Debug)]
pub struct FederationOrigin(pub ServerName);

/// A federation request's JSON body parsed into `T`, and its proven origin.
#[derive(Clone, Debug)]
pub struct SignedJson<T> {
    /// The sending server.
    pub origin: ServerName,
    /// The body.
    pub body: T,
}

impl FromRequestParts<AppState> for FederationOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, None).await.map(Self)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for SignedJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let bytes = read_body(Request::from_parts(parts.clone(), body), state).await?;
        let content: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(serde_json::from_slice(&bytes).map_err(|error| {
                MatrixError::new(ErrorCode::NotJson, format!("Body is not JSON: {error}"))
            })?)
        };
        let origin = authenticate(&parts, state, content.as_ref()).await?;
        let body =
            serde_json::from_value(content.unwrap_or_else(|| Value::Object(Default::default())))
                .map_err(|error| {
                    let message = error.to_string();
                    let code = if message.starts_with("missing field") {
                        ErrorCode::MissingParam
                    } else {
                        ErrorCode::BadJson
                    };
                    MatrixError::new(code, message)
                })?;
        Ok(Self { origin, body })
    }
}

/// Checks the request's X-Matrix header (the first `Authorization` header of that scheme).
async fn authenticate(
    parts: &Parts,
    state: &AppState,
    content: Option<&Value>,
) -> Result<ServerName, ApiError> {
    let header = parts
        .headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| {
            value
                .get(..8)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("X-Matrix"))
        })
        .ok_or_else(|| unauthorized("Missing X-Matrix Authorization header"))?;
    let uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    let keys = state.keys.clone();
    let origin = authenticate_request(
        parts.method.as_str(),
        uri,
        content,
        header,
        &state.server_name,
        |origin, key_id| async move {
            match keys
                .verify_key(&origin, key_id.as_str(), KeyUse::CurrentNow)
                .await
            {
                Ok(key) => key,
                Err(error) => {
                    tracing::warn!(%origin, %error, "key lookup failed");
                    None
                }
            }
        },
    )
    .await
    .map_err(|error| {
        tracing::debug!(%error, "federation request rejected");
        ApiError(
            MatrixError::new(ErrorCode::from_wire(error.errcode()), error.to_string())
                .with_status(error.status()),
        )
    })?;
    // A server that signs requests to us is up: stop waiting out its backoff.
    if let Some(sender) = &state.federation_sender {
        sender.peer_is_up(&origin);
    }
    Ok(origin)
}

fn unauthorized(message: &str) -> ApiError {
    ApiError(MatrixError::new(ErrorCode::Unauthorized, message).with_status(401))
}

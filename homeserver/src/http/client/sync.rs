//! `GET /sync` (v3 and r0): the client's one stream of everything, long-polled.
//!
//! Query parameters: `since` (a `next_batch` token), `filter` (a filter ID or inline JSON), `full_state`,
//! `timeout` (milliseconds to wait for news), `set_presence` (`online`, `offline`, `unavailable`).

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_client_api::sync::filter::Filter;
use serde_json::Value;

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::services::sync::SyncRequest;
use crate::services::sync::presence::STATES;
use crate::services::sync::token::SyncToken;
use crate::signing_key::now_millis;

/// The sync route.
pub fn routes() -> Router<AppState> {
    v3_and_r0(Router::new(), "/sync", get(sync))
}

fn invalid(message: impl Into<String>) -> ApiError {
    MatrixError::new(ErrorCode::InvalidParam, message).into()
}

async fn sync(
    State(state): State<AppState>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut request = SyncRequest::default();
    let mut set_presence = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "since" => {
                request.since =
                    Some(SyncToken::parse(&value).ok_or_else(|| invalid("Unknown `since` token"))?);
            }
            "full_state" => {
                request.full_state = match value.as_ref() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid("`full_state` must be true or false")),
                };
            }
            "timeout" => {
                let millis: u64 = value
                    .parse()
                    .map_err(|_| invalid("`timeout` must be a number of milliseconds"))?;
                request.timeout = Duration::from_millis(millis);
            }
            "filter" => {
                request.filter = if value.trim_start().starts_with('{') {
                    serde_json::from_str::<Filter>(&value).map_err(|error| {
                        ApiError(MatrixError::new(
                            ErrorCode::BadJson,
                            format!("Invalid filter: {error}"),
                        ))
                    })?
                } else {
                    let stored = state
                        .account_data
                        .filter(auth.user_id.as_str(), &value)
                        .await
                        .map_err(|_| invalid("Unknown filter ID"))?;
                    serde_json::from_value(stored)
                        .map_err(|_| invalid("Stored filter is invalid"))?
                };
            }
            "set_presence" => {
                if !STATES.contains(&value.as_ref()) {
                    return Err(invalid(
                        "`set_presence` must be online, offline or unavailable",
                    ));
                }
                set_presence = Some(value.into_owned());
            }
            _ => {}
        }
    }
    if let Some(presence) = set_presence {
        let now = i64::try_from(now_millis()).unwrap_or(i64::MAX);
        state
            .presence
            .set_presence_if_changed(auth.user_id.as_str(), &presence, now)
            .await?;
    }
    let response = state
        .sync
        .sync(&auth.user_id, auth.device_id.as_ref(), &request)
        .await?;
    Ok(Json(response))
}

//! The pre-/sync API that older clients, bots and test suites still call: `GET /events` (the event stream) and
//! `GET /initialSync`, and `GET /rooms/{roomId}/initialSync`. They are views over the `/sync` service's answer, so they share its tokens, long-polling
//! and visibility rules.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_client_api::sync::filter::{Filter, RoomEventFilter, RoomFilter};
use serde_json::{Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::services::sync::SyncRequest;
use crate::services::sync::token::SyncToken;

/// The legacy routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(Router::new(), "/events", get(events));
    let router = v3_and_r0(router, "/initialSync", get(initial_sync));
    v3_and_r0(router, "/rooms/{room}/initialSync", get(room_initial_sync))
}

fn invalid(message: &str) -> ApiError {
    MatrixError::new(ErrorCode::InvalidParam, message).into()
}

/// The value of `key` in the query string, if present.
fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.into_owned())
}

/// The `limit` query parameter (default 10).
fn limit_param<T: std::str::FromStr + From<u8>>(query: Option<&str>) -> Result<T, ApiError> {
    match query_value(query, "limit") {
        Some(limit) => limit
            .parse()
            .map_err(|_| invalid("`limit` must be a number")),
        None => Ok(T::from(10)),
    }
}

/// `GET /events?from=…&timeout=…`: events after `from` (or after now), waiting up to `timeout` ms.
async fn events(
    State(state): State<AppState>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = query.as_deref();
    let from = match query_value(query, "from") {
        Some(token) => SyncToken::parse(&token).ok_or_else(|| invalid("Unknown `from` token"))?,
        None => state.sync.current_token().await?,
    };
    let timeout = match query_value(query, "timeout") {
        Some(millis) => millis
            .parse()
            .map_err(|_| invalid("`timeout` must be a number of milliseconds"))?,
        None => 30_000,
    };
    let request = SyncRequest {
        since: Some(from),
        timeout: Duration::from_millis(timeout),
        ..SyncRequest::default()
    };
    let response = state
        .sync
        .sync(&auth.user_id, auth.device_id.as_ref(), &request)
        .await?;
    let mut chunk = Vec::new();
    if let Some(rooms) = response["rooms"]["join"].as_object() {
        for (room_id, room) in rooms {
            for section in ["timeline", "ephemeral"] {
                for event in room[section]["events"].as_array().into_iter().flatten() {
                    let mut event = event.clone();
                    event["room_id"] = json!(room_id);
                    chunk.push(event);
                }
            }
        }
    }
    chunk.extend(
        response["presence"]["events"]
            .as_array()
            .into_iter()
            .flatten()
            .cloned(),
    );
    Ok(Json(json!({
        "start": from.to_string(),
        "end": response["next_batch"],
        "chunk": chunk,
    })))
}

/// `GET /initialSync?limit=…`: every room with its state and latest messages, in the old shape.
async fn initial_sync(
    State(state): State<AppState>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let limit = limit_param(query.as_deref())?;
    let request = SyncRequest {
        filter: Filter {
            room: Some(RoomFilter {
                timeline: Some(RoomEventFilter {
                    limit: Some(limit),
                    ..RoomEventFilter::default()
                }),
                ..RoomFilter::default()
            }),
            ..Filter::default()
        },
        ..SyncRequest::default()
    };
    let response = state
        .sync
        .sync(&auth.user_id, auth.device_id.as_ref(), &request)
        .await?;
    let end = response["next_batch"].clone();
    let mut rooms = Vec::new();
    if let Some(joined) = response["rooms"]["join"].as_object() {
        for (room_id, room) in joined {
            let timeline = room["timeline"]["events"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut state_events = room["state"]["events"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            state_events.extend(
                timeline
                    .iter()
                    .filter(|e| e.get("state_key").is_some())
                    .cloned(),
            );
            rooms.push(json!({
                "room_id": room_id,
                "membership": "join",
                "messages": { "chunk": timeline, "start": room["timeline"]["prev_batch"], "end": end },
                "state": state_events,
                "account_data": room["account_data"]["events"],
            }));
        }
    }
    if let Some(invited) = response["rooms"]["invite"].as_object() {
        for (room_id, room) in invited {
            rooms.push(json!({
                "room_id": room_id,
                "membership": "invite",
                "invite_state": room["invite_state"],
            }));
        }
    }
    Ok(Json(json!({
        "end": end,
        "rooms": rooms,
        "presence": response["presence"]["events"],
        "account_data": response["account_data"]["events"],
    })))
}

/// `GET /rooms/{roomId}/initialSync?limit=…`: one room's state, latest messages, membership, account data,
/// presence and receipts.
async fn room_initial_sync(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let limit = limit_param(query.as_deref())?;
    let body = state
        .sync
        .room_initial_sync(&auth.user_id, auth.device_id.as_ref(), &room, limit)
        .await?;
    Ok(Json(body))
}

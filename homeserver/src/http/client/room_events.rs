//! Sending and reading room events: `send`, `state` (PUT and GET), `redact`, `event`, `messages`,
//! `context`, `relations`, `threads`. Thin handlers over the rooms service.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, put};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_client_api::rooms::events::EventIdResponse;
use serde_json::{Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::rate_limit::limit_user;
use crate::http::state::AppState;
use crate::ratelimit::Action;
use crate::services::rooms::EventTemplate;
use crate::storage::Direction;

/// Every route of this module.
pub fn routes() -> Router<AppState> {
    let router = Router::new();
    let router = v3_and_r0(router, "/rooms/{room}/send/{event_type}/{txn}", put(send));
    let router = v3_and_r0(
        router,
        "/rooms/{room}/state/{event_type}/{state_key}",
        put(put_state).get(get_state),
    );
    // An empty state key is spelled with or without the trailing slash (matrix-js-sdk sends
    // `/state/m.room.name/`); both mean the same event.
    let router = v3_and_r0(
        router,
        "/rooms/{room}/state/{event_type}",
        put(put_state_empty_key).get(get_state_empty_key),
    );
    let router = v3_and_r0(
        router,
        "/rooms/{room}/state/{event_type}/",
        put(put_state_empty_key).get(get_state_empty_key),
    );
    let router = v3_and_r0(router, "/rooms/{room}/state", get(full_state));
    let router = v3_and_r0(router, "/rooms/{room}/redact/{event_id}/{txn}", put(redact));
    let router = v3_and_r0(router, "/rooms/{room}/event/{event_id}", get(event));
    let router = v3_and_r0(router, "/rooms/{room}/messages", get(messages));
    let router = v3_and_r0(router, "/rooms/{room}/context/{event_id}", get(context));
    let router = router
        .route(
            "/_matrix/client/v1/rooms/{room}/relations/{event_id}",
            get(relations),
        )
        .route(
            "/_matrix/client/v1/rooms/{room}/relations/{event_id}/{rel_type}",
            get(relations_of_type),
        )
        .route(
            "/_matrix/client/v1/rooms/{room}/relations/{event_id}/{rel_type}/{event_type}",
            get(relations_of_type_and_event_type),
        );
    router.route("/_matrix/client/v1/rooms/{room}/threads", get(threads))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError(MatrixError::new(ErrorCode::InvalidParam, message))
}

/// Parses an optional integer query parameter.
fn int_param(query: &HashMap<String, String>, key: &str, default: i64) -> Result<i64, ApiError> {
    match query.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| invalid(format!("{key} must be an integer"))),
    }
}

async fn send(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_type, txn)): Path<(String, String, String)>,
    MatrixJson(content): MatrixJson<Value>,
) -> Result<Json<EventIdResponse>, ApiError> {
    limit_user(&state, Action::Message, &auth)?;
    let device = auth.device_id.as_ref().map_or("", |d| d.as_str());
    let template = EventTemplate {
        event_type,
        state_key: None,
        content,
        redacts: None,
    };
    let sent = state
        .rooms
        .send_event(&auth.user_id, &room, template, Some((device, &txn)))
        .await?;
    Ok(Json(EventIdResponse {
        event_id: sent.event_id,
    }))
}

async fn set_state(
    state: AppState,
    auth: Authenticated,
    room: String,
    event_type: String,
    state_key: String,
    content: Value,
) -> Result<Json<EventIdResponse>, ApiError> {
    limit_user(&state, Action::Message, &auth)?;
    let guest_access_changed = event_type == "m.room.guest_access";
    let sent = state
        .rooms
        .send_event(
            &auth.user_id,
            &room,
            EventTemplate {
                event_type,
                state_key: Some(state_key),
                content,
                redacts: None,
            },
            None,
        )
        .await?;
    if guest_access_changed {
        // Guests must leave a room that stops allowing them (spec, "Guest Access").
        state.rooms.remove_guests_if_forbidden(&room).await?;
    }
    Ok(Json(EventIdResponse {
        event_id: sent.event_id,
    }))
}

async fn put_state(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_type, state_key)): Path<(String, String, String)>,
    MatrixJson(content): MatrixJson<Value>,
) -> Result<Json<EventIdResponse>, ApiError> {
    set_state(state, auth, room, event_type, state_key, content).await
}

async fn put_state_empty_key(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_type)): Path<(String, String)>,
    MatrixJson(content): MatrixJson<Value>,
) -> Result<Json<EventIdResponse>, ApiError> {
    set_state(state, auth, room, event_type, String::new(), content).await
}

async fn get_state(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_type, state_key)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let full = query.get("format").is_some_and(|f| f == "event");
    Ok(Json(
        state
            .rooms
            .state_event(&auth.user_id, &room, &event_type, &state_key, full)
            .await?,
    ))
}

async fn get_state_empty_key(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_type)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let full = query.get("format").is_some_and(|f| f == "event");
    Ok(Json(
        state
            .rooms
            .state_event(&auth.user_id, &room, &event_type, "", full)
            .await?,
    ))
}

async fn full_state(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(Value::Array(
        state.rooms.room_state(&auth.user_id, &room).await?,
    )))
}

async fn redact(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_id, txn)): Path<(String, String, String)>,
    MatrixJson(body): MatrixJson<Value>,
) -> Result<Json<EventIdResponse>, ApiError> {
    let mut content = serde_json::Map::new();
    if let Some(reason) = body.get("reason") {
        content.insert("reason".into(), reason.clone());
    }
    limit_user(&state, Action::Message, &auth)?;
    let device = auth.device_id.as_ref().map_or("", |d| d.as_str());
    let sent = state
        .rooms
        .send_event(
            &auth.user_id,
            &room,
            EventTemplate {
                event_type: "m.room.redaction".into(),
                state_key: None,
                content: Value::Object(content),
                redacts: Some(event_id),
            },
            Some((device, &txn)),
        )
        .await?;
    Ok(Json(EventIdResponse {
        event_id: sent.event_id,
    }))
}

async fn event(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state
            .rooms
            .event_for_user(&auth.user_id, auth.device_id.as_ref(), &room, &event_id)
            .await?,
    ))
}

async fn messages(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let direction = match query.get("dir").map(String::as_str) {
        None | Some("b") => Direction::Backward,
        Some("f") => Direction::Forward,
        Some(_) => return Err(invalid("dir must be b or f")),
    };
    let limit = int_param(&query, "limit", 10)?;
    let filter: Option<Value> = match query.get("filter") {
        Some(text) => Some(serde_json::from_str(text).map_err(|_| {
            ApiError(MatrixError::new(
                ErrorCode::BadJson,
                "filter is not valid JSON",
            ))
        })?),
        None => None,
    };
    let page = state
        .rooms
        .messages(
            &auth.user_id,
            auth.device_id.as_ref(),
            &room,
            query.get("from").map(String::as_str),
            query.get("to").map(String::as_str),
            direction,
            limit,
            filter.as_ref(),
        )
        .await?;
    let mut body = json!({"chunk": page.chunk, "start": page.start});
    if let Some(end) = page.end {
        body["end"] = json!(end);
    }
    if !page.state.is_empty() {
        body["state"] = json!(page.state);
    }
    Ok(Json(body))
}

async fn context(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = int_param(&query, "limit", 10)?;
    Ok(Json(
        state
            .rooms
            .context(
                &auth.user_id,
                auth.device_id.as_ref(),
                &room,
                &event_id,
                limit,
            )
            .await?,
    ))
}

async fn relations_common(
    state: AppState,
    auth: Authenticated,
    room: String,
    event_id: String,
    rel_type: Option<String>,
    event_type: Option<String>,
    query: HashMap<String, String>,
) -> Result<Json<Value>, ApiError> {
    let backward = match query.get("dir").map(String::as_str) {
        None | Some("b") => true,
        Some("f") => false,
        Some(_) => return Err(invalid("dir must be b or f")),
    };
    let limit = int_param(&query, "limit", 50)?;
    let recurse = query.get("recurse").is_some_and(|r| r == "true");
    Ok(Json(
        state
            .rooms
            .relations(
                &auth.user_id,
                auth.device_id.as_ref(),
                &room,
                &event_id,
                rel_type.as_deref(),
                event_type.as_deref(),
                query.get("from").map(String::as_str),
                backward,
                limit,
                recurse,
            )
            .await?,
    ))
}

async fn relations(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    relations_common(state, auth, room, event_id, None, None, query).await
}

async fn relations_of_type(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_id, rel_type)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    relations_common(state, auth, room, event_id, Some(rel_type), None, query).await
}

async fn relations_of_type_and_event_type(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room, event_id, rel_type, event_type)): Path<(String, String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    relations_common(
        state,
        auth,
        room,
        event_id,
        Some(rel_type),
        Some(event_type),
        query,
    )
    .await
}

async fn threads(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = int_param(&query, "limit", 50)?;
    let participated = query.get("include").is_some_and(|i| i == "participated");
    Ok(Json(
        state
            .rooms
            .threads(
                &auth.user_id,
                auth.device_id.as_ref(),
                &room,
                participated,
                query.get("from").map(String::as_str),
                limit,
            )
            .await?,
    ))
}

//! Receipt endpoints: `POST /rooms/{roomId}/receipt/{receiptType}/{eventId}` and `POST /rooms/{roomId}/read_markers`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use hearth_types::{EventId, RoomId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::account_data::parse_room_id;
use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::sync::receipts::READ;
use crate::signing_key::now_millis;

/// The receipt routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(
        Router::new(),
        "/rooms/{room_id}/receipt/{receipt_type}/{event_id}",
        post(post_receipt),
    );
    v3_and_r0(
        router,
        "/rooms/{room_id}/read_markers",
        post(post_read_markers),
    )
}

/// The receipt body: an optional thread.
#[derive(Debug, Default, Deserialize)]
struct ReceiptBody {
    #[serde(default)]
    thread_id: Option<String>,
}

/// The read-markers body.
#[derive(Debug, Default, Deserialize)]
struct ReadMarkersBody {
    #[serde(default, rename = "m.fully_read")]
    fully_read: Option<String>,
    #[serde(default, rename = "m.read")]
    read: Option<String>,
    #[serde(default, rename = "m.read.private")]
    read_private: Option<String>,
}

fn now_ms() -> i64 {
    i64::try_from(now_millis()).unwrap_or(i64::MAX)
}

async fn post_receipt(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room_id, receipt_type, event_id)): Path<(String, String, String)>,
    MatrixJson(body): MatrixJson<ReceiptBody>,
) -> Result<Json<Value>, ApiError> {
    let room_id = parse_room_id(&room_id)?;
    state
        .receipts
        .set_receipt(
            auth.user_id.as_str(),
            room_id.as_str(),
            &receipt_type,
            &event_id,
            body.thread_id.as_deref(),
            now_ms(),
        )
        .await?;
    if receipt_type == READ {
        federate_read_receipt(
            &state,
            &room_id,
            &auth,
            &event_id,
            body.thread_id.as_deref(),
        )
        .await;
    }
    Ok(Json(json!({})))
}

async fn post_read_markers(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room_id): Path<String>,
    MatrixJson(body): MatrixJson<ReadMarkersBody>,
) -> Result<Json<Value>, ApiError> {
    let room_id = parse_room_id(&room_id)?;
    state
        .receipts
        .set_read_markers(
            auth.user_id.as_str(),
            room_id.as_str(),
            body.fully_read.as_deref(),
            body.read.as_deref(),
            body.read_private.as_deref(),
            now_ms(),
        )
        .await?;
    if let Some(event_id) = body.read.as_deref() {
        federate_read_receipt(&state, &room_id, &auth, event_id, None).await;
    }
    Ok(Json(json!({})))
}

/// Queues a public read receipt for the room's other servers (a stored receipt's event ID is valid).
async fn federate_read_receipt(
    state: &AppState,
    room_id: &RoomId,
    auth: &Authenticated,
    event_id: &str,
    thread_id: Option<&str>,
) {
    if let (Some(sender), Ok(event_id)) = (&state.federation_sender, EventId::parse(event_id)) {
        sender
            .receipt(room_id, READ, &auth.user_id, &event_id, thread_id, now_ms())
            .await;
    }
}

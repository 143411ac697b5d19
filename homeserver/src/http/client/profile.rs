//! Profile endpoints: `GET /profile/{userId}`, `GET/PUT /profile/{userId}/displayname|avatar_url`.
//!
//! Reads need no token (the spec lets servers require one; Synapse does not by default). A change is then
//! propagated to the user's `m.room.member` event in every room they have joined, as Synapse does; that part is
//! best-effort (a room whose power levels forbid it is skipped), so the profile itself is never lost.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use hearth_client_api::MatrixError;
use hearth_client_api::account::profile::{
    ProfileResponse, SetAvatarUrlRequest, SetDisplaynameRequest,
};
use hearth_client_api::error::ErrorCode;
use hearth_types::UserId;
use serde_json::{Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::accounts::AccountsError;

/// The profile routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(Router::new(), "/profile/{user_id}", get(profile));
    let router = v3_and_r0(
        router,
        "/profile/{user_id}/displayname",
        get(displayname)
            .put(set_displayname)
            .delete(clear_displayname),
    );
    v3_and_r0(
        router,
        "/profile/{user_id}/avatar_url",
        get(avatar_url).put(set_avatar_url).delete(clear_avatar_url),
    )
}

fn parse_user(user_id: &str) -> Result<UserId, MatrixError> {
    UserId::parse(user_id).map_err(|error| {
        MatrixError::new(ErrorCode::InvalidParam, format!("Invalid user ID: {error}"))
    })
}

/// (display name, avatar URL) of a local user, or of another server's user asked over federation.
async fn lookup(
    state: &AppState,
    user: &UserId,
) -> Result<(Option<String>, Option<String>), AccountsError> {
    if let Some(remote) = &state.remote_rooms
        && *user.server_name() != state.server_name
    {
        let profile = remote
            .query_profile(user)
            .await
            .map_err(|error| AccountsError::Matrix(ApiError::from(error).0))?;
        return Ok((profile.displayname, profile.avatar_url));
    }
    let profile = state.accounts.profile(user).await?;
    Ok((profile.displayname, profile.avatar_url))
}

/// `GET /profile/{userId}`.
async fn profile(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<ProfileResponse>, AccountsError> {
    let (displayname, avatar_url) = lookup(&state, &parse_user(&user_id)?).await?;
    Ok(Json(ProfileResponse {
        displayname,
        avatar_url,
    }))
}

/// `GET /profile/{userId}/displayname`.
async fn displayname(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<ProfileResponse>, AccountsError> {
    let (displayname, _) = lookup(&state, &parse_user(&user_id)?).await?;
    Ok(Json(ProfileResponse {
        displayname,
        avatar_url: None,
    }))
}

/// `GET /profile/{userId}/avatar_url`.
async fn avatar_url(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<ProfileResponse>, AccountsError> {
    let (_, avatar_url) = lookup(&state, &parse_user(&user_id)?).await?;
    Ok(Json(ProfileResponse {
        displayname: None,
        avatar_url,
    }))
}

/// A profile field that can be set and removed.
#[derive(Clone, Copy, Debug)]
enum Field {
    Displayname,
    AvatarUrl,
}

/// Stores `value` (or removes the field with `None`) for `user_id` on behalf of `auth`, then propagates it.
async fn write_field(
    state: &AppState,
    auth: &Authenticated,
    user_id: &str,
    field: Field,
    value: Option<&str>,
) -> Result<Json<Value>, AccountsError> {
    let target = parse_user(user_id)?;
    let accounts = &state.accounts;
    match field {
        Field::Displayname => {
            accounts
                .set_displayname(&auth.user_id, auth.is_admin, &target, value)
                .await?
        }
        Field::AvatarUrl => {
            accounts
                .set_avatar_url(&auth.user_id, auth.is_admin, &target, value)
                .await?
        }
    }
    propagate_profile(state, &target).await;
    Ok(Json(json!({})))
}

/// `PUT /profile/{userId}/displayname`.
async fn set_displayname(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
    MatrixJson(body): MatrixJson<SetDisplaynameRequest>,
) -> Result<Json<Value>, AccountsError> {
    let value = body.displayname.as_deref();
    write_field(&state, &auth, &user_id, Field::Displayname, value).await
}

/// `PUT /profile/{userId}/avatar_url`.
async fn set_avatar_url(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
    MatrixJson(body): MatrixJson<SetAvatarUrlRequest>,
) -> Result<Json<Value>, AccountsError> {
    let value = body.avatar_url.as_deref();
    write_field(&state, &auth, &user_id, Field::AvatarUrl, value).await
}

/// `DELETE /profile/{userId}/displayname` (spec v1.16): removes the display name.
async fn clear_displayname(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, AccountsError> {
    write_field(&state, &auth, &user_id, Field::Displayname, None).await
}

/// `DELETE /profile/{userId}/avatar_url` (spec v1.16): removes the avatar URL.
async fn clear_avatar_url(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, AccountsError> {
    write_field(&state, &auth, &user_id, Field::AvatarUrl, None).await
}

/// Re-sends the user's member event in each joined room so other members see the new profile. Failures are
/// logged, not returned: the profile change itself is already stored.
async fn propagate_profile(state: &AppState, user: &UserId) {
    if let Err(error) = state.rooms.propagate_profile(user).await {
        tracing::warn!(%user, %error, "could not propagate a profile change to member events");
    }
}

//! Push rule endpoints: `GET /pushrules/`, `GET /pushrules/global/`, and `GET/PUT/DELETE
//! /pushrules/{scope}/{kind}/{ruleId}` with its `enabled` and `actions` attributes.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::account_data::push_rules::Placement;

/// The push rule routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(Router::new(), "/pushrules/", get(get_all));
    let router = v3_and_r0(router, "/pushrules/global/", get(get_global));
    let router = v3_and_r0(
        router,
        "/pushrules/{scope}/{kind}/{rule_id}",
        get(get_rule).put(put_rule).delete(delete_rule),
    );
    v3_and_r0(
        router,
        "/pushrules/{scope}/{kind}/{rule_id}/{attribute}",
        get(get_attribute).put(put_attribute),
    )
}

/// `before`/`after` of a rule PUT.
#[derive(Debug, Default, Deserialize)]
struct PlacementQuery {
    before: Option<String>,
    after: Option<String>,
}

async fn get_all(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Map<String, Value>>, ApiError> {
    Ok(Json(
        state.account_data.push_rules(auth.user_id.as_str()).await?,
    ))
}

async fn get_global(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let rules = state.account_data.push_rules(auth.user_id.as_str()).await?;
    Ok(Json(rules.get("global").cloned().unwrap_or(json!({}))))
}

async fn get_rule(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((scope, kind, rule_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state
            .account_data
            .push_rule(auth.user_id.as_str(), &scope, &kind, &rule_id)
            .await?,
    ))
}

async fn put_rule(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((scope, kind, rule_id)): Path<(String, String, String)>,
    Query(query): Query<PlacementQuery>,
    MatrixJson(body): MatrixJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let placement = match (&query.before, &query.after) {
        (Some(before), _) => Placement::Before(before),
        (None, Some(after)) => Placement::After(after),
        (None, None) => Placement::First,
    };
    state
        .account_data
        .put_push_rule(
            auth.user_id.as_str(),
            &scope,
            &kind,
            &rule_id,
            &body,
            placement,
        )
        .await?;
    Ok(Json(json!({})))
}

async fn delete_rule(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((scope, kind, rule_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    state
        .account_data
        .delete_push_rule(auth.user_id.as_str(), &scope, &kind, &rule_id)
        .await?;
    Ok(Json(json!({})))
}

async fn get_attribute(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((scope, kind, rule_id, attribute)): Path<(String, String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state
            .account_data
            .push_rule_attribute(auth.user_id.as_str(), &scope, &kind, &rule_id, &attribute)
            .await?,
    ))
}

async fn put_attribute(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((scope, kind, rule_id, attribute)): Path<(String, String, String, String)>,
    MatrixJson(body): MatrixJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    state
        .account_data
        .set_push_rule_attribute(
            auth.user_id.as_str(),
            &scope,
            &kind,
            &rule_id,
            &attribute,
            &body,
        )
        .await?;
    Ok(Json(json!({})))
}

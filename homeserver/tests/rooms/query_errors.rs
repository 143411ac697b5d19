//! Malformed query strings answer the spec's 400 `M_INVALID_PARAM` as JSON, never axum's plain-text rejection.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::json;

use super::common::start;
use super::{create_room, room_path, seed_users};
use crate::both_backends;

async fn a_query_string_that_does_not_fit_answers_m_invalid_param(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(&server, "alice-token", json!({})).await;
    for path in [
        room_path(&room_id, "/members?membership=join&membership=leave"),
        "/_matrix/client/v3/pushrules/global/override/.m.rule.master?before=a&before=b".to_owned(),
    ] {
        let method = if path.contains("pushrules") {
            Method::PUT
        } else {
            Method::GET
        };
        let body = path.contains("pushrules").then(|| json!({"actions": []}));
        let (status, response) = server
            .call(method, &path, Some("alice-token"), body.as_ref())
            .await;
        assert_eq!(
            (status, response["errcode"].as_str()),
            (400, Some("M_INVALID_PARAM")),
            "{path}: {response}"
        );
    }
    server.stop().await;
}
both_backends!(a_query_string_that_does_not_fit_answers_m_invalid_param);

//! Account data, tags, filters, presence and the start-up endpoints.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::common::start;
use crate::seed::user_with_token;

const ALICE: &str = "@alice:hearth.test";
const ROOM: &str = "!room:hearth.test";

async fn account_data_round_trips_globally_and_per_room(backend: Backend) {
    let server = start(backend, |_| {}).await;
    user_with_token(&server.storage, ALICE, "alice-token").await;
    let token = Some("alice-token");
    let global = format!("/_matrix/client/v3/user/{ALICE}/account_data/org.example.setting");
    let (status, body) = server.call(Method::GET, &global, token, None).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );
    let content = json!({"colour": "blue", "n": 3});
    let (status, body) = server
        .call(Method::PUT, &global, token, Some(&content))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.call(Method::GET, &global, token, None).await;
    assert_eq!((status, body), (200, content.clone()));

    let per_room =
        format!("/_matrix/client/r0/user/{ALICE}/rooms/{ROOM}/account_data/org.example.setting");
    let (status, _) = server.call(Method::GET, &per_room, token, None).await;
    assert_eq!(status, 404, "room data is separate from global data");
    let room_content = json!({"room": true});
    let (status, _) = server
        .call(Method::PUT, &per_room, token, Some(&room_content))
        .await;
    assert_eq!(status, 200);
    let (status, body) = server.call(Method::GET, &per_room, token, None).await;
    assert_eq!((status, body), (200, room_content));
    server.stop().await;
}
both_backends!(account_data_round_trips_globally_and_per_room);

async fn account_data_errors_follow_the_spec(backend: Backend) {
    let server = start(backend, |_| {}).await;
    user_with_token(&server.storage, ALICE, "alice-token").await;
    user_with_token(&server.storage, "@bob:hearth.test", "bob-token").await;
    let token = Some("alice-token");
    let path = format!("/_matrix/client/v3/user/{ALICE}/account_data/m.direct");

    let (status, body) = server.call(Method::GET, &path, None, None).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
    let (status, body) = server.call(Method::GET, &path, Some("nope"), None).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNKNOWN_TOKEN"))
    );
    let (status, body) = server
        .call(Method::PUT, &path, Some("bob-token"), Some(&json!({})))
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );

    let response = server
        .http
        .put(server.url(&path))
        .bearer_auth("alice-token")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], "M_NOT_JSON");
    let (status, body) = server
        .call(Method::PUT, &path, token, Some(&json!([1, 2])))
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );

    let fully_read = format!("/_matrix/client/v3/user/{ALICE}/account_data/m.fully_read");
    let (status, body) = server
        .call(
            Method::PUT,
            &fully_read,
            token,
            Some(&json!({"event_id": "$x"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (405, Some("M_BAD_JSON"))
    );
    let bad_room = format!("/_matrix/client/v3/user/{ALICE}/rooms/not-a-room/account_data/x");
    let (status, body) = server
        .call(Method::PUT, &bad_room, token, Some(&json!({})))
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM"))
    );
    server.stop().await;
}
both_backends!(account_data_errors_follow_the_spec);

async fn tags_are_added_listed_and_removed(backend: Backend) {
    let server = start(backend, |_| {}).await;
    user_with_token(&server.storage, ALICE, "alice-token").await;
    let token = Some("alice-token");
    let tags = format!("/_matrix/client/v3/user/{ALICE}/rooms/{ROOM}/tags");
    let (status, body) = server.call(Method::GET, &tags, token, None).await;
    assert_eq!((status, body), (200, json!({"tags": {}})));
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("{tags}/m.favourite"),
            token,
            Some(&json!({"order": 0.25})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("{tags}/u.work"),
            token,
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("{tags}/u.bad"),
            token,
            Some(&json!({"order": "x"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );
    let (_, body) = server.call(Method::GET, &tags, token, None).await;
    assert_eq!(
        body,
        json!({"tags": {"m.favourite": {"order": 0.25}, "u.work": {}}})
    );
    let (status, _) = server
        .call(Method::DELETE, &format!("{tags}/u.work"), token, None)
        .await;
    assert_eq!(status, 200);
    let (_, body) = server.call(Method::GET, &tags, token, None).await;
    assert_eq!(body, json!({"tags": {"m.favourite": {"order": 0.25}}}));
    let (_, body) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/user/{ALICE}/rooms/{ROOM}/account_data/m.tag"),
            token,
            None,
        )
        .await;
    assert_eq!(
        body,
        json!({"tags": {"m.favourite": {"order": 0.25}}}),
        "tags are m.tag account data"
    );
    server.stop().await;
}
both_backends!(tags_are_added_listed_and_removed);

async fn filters_are_stored_and_validated(backend: Backend) {
    let server = start(backend, |_| {}).await;
    user_with_token(&server.storage, ALICE, "alice-token").await;
    user_with_token(&server.storage, "@bob:hearth.test", "bob-token").await;
    let token = Some("alice-token");
    let create = format!("/_matrix/client/v3/user/{ALICE}/filter");
    let filter = json!({"room": {"timeline": {"limit": 10, "types": ["m.room.message"]}}, "presence": {"not_types": ["*"]}});
    let (status, body) = server
        .call(Method::POST, &create, token, Some(&filter))
        .await;
    assert_eq!(status, 200, "{body}");
    let filter_id = body["filter_id"]
        .as_str()
        .expect("filter_id is a string")
        .to_owned();
    let (status, body) = server
        .call(Method::GET, &format!("{create}/{filter_id}"), token, None)
        .await;
    assert_eq!((status, body), (200, filter));
    let (status, body) = server
        .call(Method::GET, &format!("{create}/999"), token, None)
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );
    let (status, body) = server
        .call(
            Method::GET,
            &format!("{create}/{filter_id}"),
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    let (status, body) = server
        .call(
            Method::POST,
            &create,
            token,
            Some(&json!({"room": {"timeline": {"limit": "ten"}}})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );
    server.stop().await;
}
both_backends!(filters_are_stored_and_validated);

async fn presence_is_set_and_read(backend: Backend) {
    let server = start(backend, |_| {}).await;
    user_with_token(&server.storage, ALICE, "alice-token").await;
    user_with_token(&server.storage, "@bob:hearth.test", "bob-token").await;
    let path = format!("/_matrix/client/v3/presence/{ALICE}/status");
    let (status, _) = server
        .call(Method::GET, &path, Some("alice-token"), None)
        .await;
    assert_eq!(status, 404, "never set");
    // Bob shares no room with Alice: her presence is not his to see.
    let (status, body) = server
        .call(Method::GET, &path, Some("bob-token"), None)
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    let (status, room) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some("alice-token"),
            Some(&json!({"preset": "public_chat"})),
        )
        .await;
    assert_eq!(status, 200, "{room}");
    let room_id = room["room_id"].as_str().unwrap();
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{room_id}/join"),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::PUT,
            &path,
            Some("alice-token"),
            Some(&json!({"presence": "online", "status_msg": "writing tests"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(Method::GET, &path, Some("bob-token"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["presence"], "online");
    assert_eq!(body["status_msg"], "writing tests");
    assert!(body["last_active_ago"].is_u64());
    let (status, body) = server
        .call(
            Method::PUT,
            &path,
            Some("bob-token"),
            Some(&json!({"presence": "online"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    let (status, body) = server
        .call(
            Method::PUT,
            &path,
            Some("alice-token"),
            Some(&json!({"presence": "busy"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM"))
    );
    let (status, body) = server
        .call(Method::PUT, &path, Some("alice-token"), Some(&json!({})))
        .await;
    assert_eq!(status, 400, "{body}");
    server.stop().await;
}
both_backends!(presence_is_set_and_read);

async fn start_up_endpoints_answer_like_element_expects(backend: Backend) {
    let server = start(backend, |_| {}).await;
    user_with_token(&server.storage, ALICE, "alice-token").await;
    let token = Some("alice-token");
    let (status, body) = server
        .call(Method::GET, "/_matrix/client/v3/capabilities", token, None)
        .await;
    assert_eq!(status, 200);
    let capabilities = &body["capabilities"];
    assert_eq!(capabilities["m.room_versions"]["default"], "12");
    for version in 1..=12 {
        assert_eq!(
            capabilities["m.room_versions"]["available"][version.to_string()],
            "stable"
        );
    }
    assert_eq!(capabilities["m.change_password"]["enabled"], true);
    assert_eq!(capabilities["m.3pid_changes"]["enabled"], false);
    let (status, _) = server
        .call(Method::GET, "/_matrix/client/r0/capabilities", None, None)
        .await;
    assert_eq!(status, 401);
    for path in [
        "/_matrix/client/v3/voip/turnServer",
        "/_matrix/client/v3/thirdparty/protocols",
    ] {
        let (status, body) = server.call(Method::GET, path, token, None).await;
        assert_eq!((status, body), (200, json!({})), "{path}");
    }
    server.stop().await;
}
both_backends!(start_up_endpoints_answer_like_element_expects);

async fn concurrent_tag_and_push_rule_edits_are_all_kept(backend: Backend) {
    let server = start(backend, |_| {}).await;
    user_with_token(&server.storage, ALICE, "alice-token").await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let http = server.http.clone();
        let tag_url = server.url(&format!(
            "/_matrix/client/v3/user/{ALICE}/rooms/!room:hearth.test/tags/u.tag{i}"
        ));
        let rule_url = server.url(&format!(
            "/_matrix/client/v3/pushrules/global/sender/@friend{i}:hearth.test"
        ));
        tasks.push(tokio::spawn(async move {
            let tag = http
                .put(tag_url)
                .bearer_auth("alice-token")
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let rule = http
                .put(rule_url)
                .bearer_auth("alice-token")
                .json(&json!({"actions": ["notify"]}))
                .send()
                .await
                .unwrap();
            (tag.status().as_u16(), rule.status().as_u16())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), (200, 200));
    }
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/user/{ALICE}/rooms/!room:hearth.test/tags"),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tags"].as_object().unwrap().len(), 16, "{body}");
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/pushrules/",
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["global"]["sender"].as_array().unwrap().len(),
        16,
        "{body}"
    );
    server.stop().await;
}
both_backends!(concurrent_tag_and_push_rule_edits_are_all_kept);

//! Push rules: the default rule set on first read, user rules, enabled/actions, errors.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::common::start;
use crate::seed::user_with_token;

const ALICE: &str = "@alice:hearth.test";

async fn default_push_rules_are_served_and_editable(backend: Backend) {
    let server = start(backend, |_| {}).await;
    user_with_token(&server.storage, ALICE, "alice-token").await;
    let token = Some("alice-token");
    let (status, body) = server
        .call(Method::GET, "/_matrix/client/v3/pushrules/", token, None)
        .await;
    assert_eq!(status, 200);
    let overrides = body["global"]["override"].as_array().unwrap();
    assert_eq!(overrides[0]["rule_id"], ".m.rule.master");
    assert!(body["global"]["underride"].as_array().unwrap().len() >= 5);

    let master = "/_matrix/client/v3/pushrules/global/override/.m.rule.master";
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("{master}/enabled"),
            token,
            Some(&json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = server
        .call(Method::GET, &format!("{master}/enabled"), token, None)
        .await;
    assert_eq!(body, json!({"enabled": true}));

    let rule = "/_matrix/client/v3/pushrules/global/content/cake";
    let (status, body) = server
        .call(
            Method::PUT,
            rule,
            token,
            Some(&json!({"actions": ["notify"], "pattern": "cake*"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.call(Method::GET, rule, token, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["pattern"], "cake*");
    assert_eq!(body["default"], false);
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("{rule}/actions"),
            token,
            Some(&json!({"actions": []})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = server
        .call(Method::GET, &format!("{rule}/actions"), token, None)
        .await;
    assert_eq!(body, json!({"actions": []}));

    let (status, body) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/pushrules/global/room/!r:x?before=nope",
            token,
            Some(&json!({"actions": []})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );

    let (status, _) = server.call(Method::DELETE, rule, token, None).await;
    assert_eq!(status, 200);
    let (status, body) = server.call(Method::GET, rule, token, None).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );
    let (status, _) = server.call(Method::DELETE, master, token, None).await;
    assert_eq!(status, 400, "default rules cannot be deleted");
    let (status, _) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/pushrules/global/nonsense/x",
            token,
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/pushrules/global/content/x",
            token,
            Some(&json!({"actions": ["notify"]})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON")),
        "content rules need a pattern"
    );

    // The edits persisted: the master rule is still enabled on the next read.
    let (_, body) = server
        .call(Method::GET, "/_matrix/client/r0/pushrules/", token, None)
        .await;
    assert_eq!(body["global"]["override"][0]["enabled"], true);
    server.stop().await;
}
both_backends!(default_push_rules_are_served_and_editable);

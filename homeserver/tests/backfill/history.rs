//! Paging back through a remote room's history to its creation.

use std::collections::HashSet;

use hearth::storage::Backend;
use reqwest::Method;

use crate::{Peer, bodies_oldest_first, both_backends, encode};

async fn a_joined_remote_room_is_paged_back_to_its_creation(backend: Backend) {
    let host = Peer::start(backend).await;
    let guest = Peer::start(backend).await;
    let alice = host.register("alice").await;
    let bob = guest.register("bob").await;
    let room_id = host.room_with_history(&alice, 150).await;

    guest.join_remote(&bob, &room_id, host.name()).await;
    let initial = guest
        .ok(Method::GET, "/_matrix/client/v3/sync?timeout=0", &bob, None)
        .await;
    let since = initial["next_batch"].as_str().unwrap().to_owned();
    let prev_batch = initial["rooms"]["join"][&room_id]["timeline"]["prev_batch"]
        .as_str()
        .expect("the joined room with a prev_batch")
        .to_owned();
    let storage = &guest.server.storage;
    let extremities_before = storage.forward_extremities(&room_id).await.unwrap();
    let state_before = storage.current_state(&room_id).await.unwrap();

    // Two clients reach the bottom at once: one backfill serves both.
    let first_page = format!(
        "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=20&from={}",
        encode(&room_id),
        encode(&prev_batch)
    );
    let (one, two) = tokio::join!(
        guest.ok(Method::GET, &first_page, &bob, None),
        guest.ok(Method::GET, &first_page, &bob, None)
    );
    let ids_of = |page: &serde_json::Value| -> Vec<String> {
        page["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids_of(&one), ids_of(&two));
    assert_eq!(ids_of(&one).len(), 20, "{one}");
    assert_eq!(host.proxy.backfill_requests(), 1, "single flight per room");

    let (events, _pages) = guest.page_back(&bob, &room_id, Some(&prev_batch), 20).await;
    let expected: Vec<String> = (0..150).map(|i| format!("m{i}")).collect();
    assert_eq!(
        bodies_oldest_first(&events),
        expected,
        "every message once, in order"
    );
    let oldest = events.last().expect("events");
    assert_eq!(
        oldest["type"], "m.room.create",
        "paged down to the creation"
    );
    let ids: HashSet<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), events.len(), "no event twice");
    assert!(
        host.proxy.backfill_requests() >= 2,
        "150 messages take two /backfill answers of 100"
    );

    // Paging again from the top finds everything locally, in the same order, without asking the host.
    let asked = host.proxy.backfill_requests();
    let (again, _) = guest.page_back(&bob, &room_id, None, 50).await;
    assert_eq!(bodies_oldest_first(&again), expected);
    assert_eq!(host.proxy.backfill_requests(), asked);

    // History is history: not new in /sync, not an extremity, not state.
    let sync = guest
        .ok(
            Method::GET,
            &format!("/_matrix/client/v3/sync?timeout=0&since={}", encode(&since)),
            &bob,
            None,
        )
        .await;
    let timeline = sync["rooms"]["join"][&room_id]["timeline"]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(timeline.is_empty(), "backfilled events in /sync: {sync}");
    assert_eq!(
        storage.forward_extremities(&room_id).await.unwrap(),
        extremities_before
    );
    assert_eq!(storage.current_state(&room_id).await.unwrap(), state_before);

    // The room goes on as before.
    let hello = host
        .say(&alice, &room_id, "after", "after the backfill")
        .await;
    let mut seen = false;
    for _ in 0..60 {
        let sync = guest
            .ok(
                Method::GET,
                &format!(
                    "/_matrix/client/v3/sync?timeout=1000&since={}",
                    encode(&since)
                ),
                &bob,
                None,
            )
            .await;
        let events = sync["rooms"]["join"][&room_id]["timeline"]["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if events.iter().any(|e| e["event_id"] == hello.as_str()) {
            assert_eq!(events.len(), 1, "only the new message is new: {sync}");
            seen = true;
            break;
        }
    }
    assert!(seen, "the new message reached the guest server");
    guest.server.stop().await;
    host.server.stop().await;
}
both_backends!(a_joined_remote_room_is_paged_back_to_its_creation);

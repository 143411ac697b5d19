//! A `/backfill` answer that lies: a forged signature, another room's event, a refusing server.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hearth::storage::Backend;
use serde_json::Value;

use crate::{Peer, bodies_oldest_first, both_backends};

/// The body of a message event in a `/backfill` answer.
fn body_of(pdu: &Value) -> Option<&str> {
    pdu["content"]["body"].as_str()
}

async fn forged_and_foreign_backfilled_events_are_dropped_and_paging_ends(backend: Backend) {
    let host = Peer::start(backend).await;
    let guest = Peer::start(backend).await;
    let alice = host.register("alice").await;
    let bob = guest.register("bob").await;
    let room_id = host.room_with_history(&alice, 30).await;

    // An event of another room on the same host, signed by it: valid, but not of this room.
    let other_room = host.room_with_history(&alice, 0).await;
    let intruder_id = host.say(&alice, &other_room, "x", "intruder").await;
    let intruder: Value = serde_json::from_str(
        &host
            .server
            .storage
            .get_event(&intruder_id)
            .await
            .unwrap()
            .unwrap()
            .json,
    )
    .unwrap();

    // m10 always travels with m11's signatures: well-formed, and false.
    let m11_id = host_event_id(&host, &alice, &room_id, "m11").await;
    let m11: Value = serde_json::from_str(
        &host
            .server
            .storage
            .get_event(&m11_id)
            .await
            .unwrap()
            .unwrap()
            .json,
    )
    .unwrap();
    let donor = m11["signatures"].clone();
    host.proxy.tamper_backfill(Arc::new(move |_, mut answer| {
        let pdus = answer["pdus"].as_array_mut().unwrap();
        for pdu in pdus.iter_mut() {
            if body_of(pdu) == Some("m10") {
                pdu["signatures"] = donor.clone();
            }
        }
        pdus.push(intruder.clone());
        answer
    }));

    guest.join_remote(&bob, &room_id, host.name()).await;
    let started = Instant::now();
    let (events, _) = guest.page_back(&bob, &room_id, None, 10).await;
    let expected: Vec<String> = (0..30)
        .filter(|i| *i != 10)
        .map(|i| format!("m{i}"))
        .collect();
    assert_eq!(bodies_oldest_first(&events), expected);
    assert_eq!(events.last().unwrap()["type"], "m.room.create");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "pagination ended in {:?}",
        started.elapsed()
    );

    let storage = &guest.server.storage;
    assert!(
        storage.get_event(&intruder_id).await.unwrap().is_none(),
        "another room's event is not stored"
    );
    let forged_id = host_event_id(&host, &alice, &room_id, "m10").await;
    if let Some(stored) = storage.get_event(&forged_id).await.unwrap() {
        assert!(
            stored.outlier,
            "m10 is known at most as fetched state, never in the timeline"
        );
    }

    // Paging from the bottom again ends at once: what no server could supply is not asked for again at once.
    let asked = host.proxy.backfill_requests();
    let (again, _) = guest.page_back(&bob, &room_id, None, 100).await;
    assert_eq!(bodies_oldest_first(&again), expected);
    assert!(host.proxy.backfill_requests() <= asked + 1);
    guest.server.stop().await;
    host.server.stop().await;
}
both_backends!(forged_and_foreign_backfilled_events_are_dropped_and_paging_ends);

async fn a_room_whose_servers_refuse_backfill_pages_to_the_join_and_stops(backend: Backend) {
    let host = Peer::start(backend).await;
    let guest = Peer::start(backend).await;
    let alice = host.register("alice").await;
    let bob = guest.register("bob").await;
    let room_id = host.room_with_history(&alice, 5).await;
    host.proxy
        .state
        .refuse_backfill
        .store(true, Ordering::SeqCst);

    guest.join_remote(&bob, &room_id, host.name()).await;
    let (events, pages) = guest.page_back(&bob, &room_id, None, 10).await;
    assert_eq!(pages, 1, "one page, without `end`");
    assert!(bodies_oldest_first(&events).is_empty());
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "m.room.member"
                && e["state_key"] == "@bob:".to_owned() + guest.name()),
        "the join is the oldest event the guest has: {events:?}"
    );
    assert!(host.proxy.backfill_requests() >= 1, "the host was asked");

    // Once the host answers again (and the retry pause is over), the history arrives.
    host.proxy
        .state
        .refuse_backfill
        .store(false, Ordering::SeqCst);
    tokio::time::sleep(hearth::services::federation::backfill::FRUITLESS_RETRY_AFTER).await;
    let (events, _) = guest.page_back(&bob, &room_id, None, 10).await;
    let expected: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    assert_eq!(bodies_oldest_first(&events), expected);
    guest.server.stop().await;
    host.server.stop().await;
}
both_backends!(a_room_whose_servers_refuse_backfill_pages_to_the_join_and_stops);

/// The ID of the message with `body` in the host's room, as `token`'s user reads it there.
async fn host_event_id(host: &Peer, token: &str, room_id: &str, body: &str) -> String {
    let (events, _) = host.page_back(token, room_id, None, 100).await;
    events
        .iter()
        .find(|e| e["content"]["body"] == body)
        .and_then(|e| e["event_id"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("{body} on the host"))
}

//! Batching, in-flight limit, backoff, independence of destinations, EDUs and restarts.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hearth::storage::Backend;
use hearth_federation::transactions::Edu;
use hearth_federation::transactions::edu::TypingContent;
use hearth_types::{RoomId, ServerName, UserId};
use serde_json::Value;

use crate::both_backends;
use crate::{
    Behaviour, FakeTransport, Fixture, LOCAL, drained, event_id_of, eventually, fast_settings,
    room_service,
};

async fn local_events_reach_every_remote_server_in_the_room_once_in_order(backend: Backend) {
    let fixture = Fixture::new(backend, &["one.test", "two.test"]).await;
    let transport = FakeTransport::open();
    let sender = fixture.sender(transport.clone(), fast_settings()).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(fixture.send_text(&format!("message {i}")).await);
    }
    for server in ["one.test", "two.test"] {
        eventually(Duration::from_secs(10), server, || {
            transport.pdu_ids(server).len() >= sent.len()
        })
        .await;
        assert_eq!(transport.pdu_ids(server), sent, "{server}");
        for (_, transaction) in transport.delivered_to(server) {
            assert_eq!(transaction.origin.as_str(), LOCAL);
        }
    }
    // Nothing goes to this server itself, and nothing is left queued.
    assert_eq!(transport.attempts_to(LOCAL), 0);
    let retry = drained(&sender, "one.test").await;
    assert_eq!(retry.failures, 0);
    sender.shutdown();
}
both_backends!(local_events_reach_every_remote_server_in_the_room_once_in_order);

async fn transactions_carry_at_most_50_pdus_and_100_edus_one_at_a_time(backend: Backend) {
    let fixture = Fixture::new(backend, &["big.test"]).await;
    // The gate is closed: the first transaction waits until everything is queued.
    let transport = FakeTransport::gated(0);
    let mut settings = fast_settings();
    settings.request_timeout = Duration::from_secs(60);
    let sender = fixture.sender(transport.clone(), settings).await;
    let destination = ServerName::parse("big.test").unwrap();
    let room = RoomId::parse(&fixture.room_id).unwrap();
    let mut sent = Vec::new();
    for i in 0..120 {
        sent.push(fixture.send_text(&format!("m{i}")).await);
    }
    for i in 0..150 {
        let edu = Edu::Typing(TypingContent {
            room_id: room.clone(),
            user_id: UserId::parse(&format!("@u{i}:{LOCAL}")).unwrap(),
            typing: true,
        });
        sender.send_edu(&destination, &edu).await.unwrap();
    }
    transport.gate.add_permits(1_000);
    eventually(Duration::from_secs(20), "all PDUs", || {
        transport.pdu_ids("big.test").len() >= 120
    })
    .await;
    eventually(Duration::from_secs(20), "all EDUs", || {
        transport
            .delivered_to("big.test")
            .iter()
            .map(|(_, t)| t.edus.len())
            .sum::<usize>()
            >= 150
    })
    .await;
    let transactions = transport.delivered_to("big.test");
    assert!(
        transactions
            .iter()
            .all(|(_, t)| t.pdus.len() <= 50 && t.edus.len() <= 100)
    );
    assert!(
        transactions.iter().any(|(_, t)| t.pdus.len() == 50),
        "full PDU batches"
    );
    assert!(
        transactions.iter().any(|(_, t)| t.edus.len() == 100),
        "full EDU batches"
    );
    assert_eq!(
        transport.pdu_ids("big.test"),
        sent,
        "stream order, each once"
    );
    assert_eq!(transport.max_in_flight.load(Ordering::SeqCst), 1);
    let typing_users: Vec<String> = transactions
        .iter()
        .flat_map(|(_, t)| t.edus.iter())
        .map(|edu| {
            edu["content"]["user_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let expected: Vec<String> = (0..150).map(|i| format!("@u{i}:{LOCAL}")).collect();
    assert_eq!(typing_users, expected, "EDUs in queue order");
    let ids: std::collections::HashSet<&String> = transactions.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), transactions.len(), "transaction IDs are unique");
    sender.shutdown();
}
both_backends!(transactions_carry_at_most_50_pdus_and_100_edus_one_at_a_time);

async fn a_dead_destination_backs_off_without_delaying_a_live_one(backend: Backend) {
    let fixture = Fixture::new(backend, &["live.test", "refusing.test", "hanging.test"]).await;
    let transport = FakeTransport::open();
    transport.set("refusing.test", Behaviour::Refuse);
    transport.set("hanging.test", Behaviour::Hang);
    let sender = fixture.sender(transport.clone(), fast_settings()).await;
    let started = tokio::time::Instant::now();
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(fixture.send_text(&format!("m{i}")).await);
    }
    eventually(Duration::from_secs(5), "live destination", || {
        transport.pdu_ids("live.test").len() == 3
    })
    .await;
    // Well under one request timeout of the hanging peer (300 ms) per message.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // The refusing peer is retried with growing delays, never more often than the backoff allows.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let refusing = ServerName::parse("refusing.test").unwrap();
    let (retry, queued) = sender.destination_status(&refusing).await.unwrap();
    let attempts = transport.attempts_to("refusing.test");
    // Backoff of 100, 200, 400, 400 … ms fits at most 6 attempts into ~1.5 s (without it: hundreds).
    assert!((3..=6).contains(&attempts), "{attempts} attempts");
    let failures = usize::try_from(retry.failures).unwrap();
    assert!(
        failures == attempts || failures + 1 == attempts,
        "{failures} vs {attempts}"
    );
    assert!(
        retry
            .last_error
            .unwrap_or_default()
            .contains("connection refused")
    );
    assert_eq!(queued, 3, "nothing is dropped while the peer is down");
    let hanging = ServerName::parse("hanging.test").unwrap();
    let (retry, _) = sender.destination_status(&hanging).await.unwrap();
    assert!(retry.failures >= 1);
    assert!(retry.last_error.unwrap_or_default().contains("no answer"));

    // The peer comes back: everything arrives, in order, and its retry state is cleared.
    transport.set("refusing.test", Behaviour::Accept);
    eventually(Duration::from_secs(5), "recovered destination", || {
        transport.pdu_ids("refusing.test").len() == 3
    })
    .await;
    assert_eq!(transport.pdu_ids("refusing.test"), sent);
    let retry = drained(&sender, "refusing.test").await;
    assert_eq!((retry.failures, retry.retry_at_ts), (0, 0));
    sender.shutdown();
}
both_backends!(a_dead_destination_backs_off_without_delaying_a_live_one);

async fn a_restart_resumes_queues_and_fans_out_events_persisted_while_down(backend: Backend) {
    let fixture = Fixture::new(backend, &["peer.test"]).await;
    let down = FakeTransport::open();
    down.set("peer.test", Behaviour::Refuse);
    let sender = fixture.sender(down.clone(), fast_settings()).await;
    let mut sent = vec![fixture.send_text("before the restart").await];
    let peer = ServerName::parse("peer.test").unwrap();
    for _ in 0..250 {
        if sender.destination_status(&peer).await.unwrap().0.failures >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sender.destination_status(&peer).await.unwrap().0.failures >= 1);
    sender.shutdown();

    // While no sender runs (a crash right after a commit), another event is persisted.
    let rooms = room_service(&fixture.storage);
    let event = rooms
        .send_event(
            &fixture.alice,
            &fixture.room_id,
            hearth::services::rooms::EventTemplate {
                event_type: "m.room.message".into(),
                state_key: None,
                content: serde_json::json!({"msgtype": "m.text", "body": "while down"}),
                redacts: None,
            },
            None,
        )
        .await
        .unwrap();
    sent.push(event.event_id);

    // A new process: a new storage handle, rooms service and sender over the same database.
    fixture.storage.close().await;
    let storage = fixture.db.connect().await;
    let up = FakeTransport::open();
    let sender = hearth::services::outbound::FederationSender::new(
        storage.clone(),
        ServerName::parse(LOCAL).unwrap(),
        up.clone(),
        fast_settings(),
    );
    sender.start().await.unwrap();
    eventually(Duration::from_secs(10), "resumed queue", || {
        up.pdu_ids("peer.test").len() >= 2
    })
    .await;
    assert_eq!(up.pdu_ids("peer.test"), sent);
    let pdu: &Value = &up.delivered_to("peer.test")[0].1.pdus[0];
    assert_eq!(event_id_of(pdu), sent[0]);
    assert_eq!(pdu["content"]["body"], "before the restart");
    sender.shutdown();
    storage.close().await;
}
both_backends!(a_restart_resumes_queues_and_fans_out_events_persisted_while_down);

async fn a_peer_that_reaches_us_is_retried_at_once_instead_of_after_its_backoff(backend: Backend) {
    let fixture = Fixture::new(backend, &["peer.test"]).await;
    let transport = FakeTransport::open();
    transport.set("peer.test", Behaviour::Refuse);
    // A first failure waits an hour: only the peer's own request can bring the retry forward.
    let mut settings = fast_settings();
    settings.backoff.initial = Duration::from_secs(3_600);
    settings.backoff.max = Duration::from_secs(3_600);
    let sender = fixture.sender(transport.clone(), settings).await;
    let peer = ServerName::parse("peer.test").unwrap();

    // A request from a server we are not backing off from changes nothing.
    sender.peer_is_up(&peer);
    let sent = fixture.send_text("while the peer is down").await;
    eventually(Duration::from_secs(5), "the first failure", || {
        transport.attempts_to("peer.test") == 1
    })
    .await;
    let mut retry = sender.destination_status(&peer).await.unwrap().0;
    for _ in 0..250 {
        if retry.failures == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        retry = sender.destination_status(&peer).await.unwrap().0;
    }
    assert_eq!(retry.failures, 1);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(retry.retry_at_ts > now_ms + 3_000_000, "an hour's backoff");

    // New local events queue up without an attempt while the backoff runs.
    let later = fixture.send_text("still down").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(transport.attempts_to("peer.test"), 1);

    // The peer is back and signs a request to us: its queue goes out at once, in order.
    transport.set("peer.test", Behaviour::Accept);
    let other = ServerName::parse("other.test").unwrap();
    sender.peer_is_up(&other);
    sender.peer_is_up(&peer);
    eventually(
        Duration::from_secs(5),
        "the queue after the peer came back",
        || transport.pdu_ids("peer.test").len() == 2,
    )
    .await;
    assert_eq!(transport.pdu_ids("peer.test"), vec![sent, later]);
    let retry = drained(&sender, "peer.test").await;
    assert_eq!((retry.failures, retry.retry_at_ts), (0, 0));
    sender.shutdown();
}
both_backends!(a_peer_that_reaches_us_is_retried_at_once_instead_of_after_its_backoff);

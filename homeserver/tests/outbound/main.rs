//! The outbound federation queues on both backends, driven through the real rooms service and storage with
//! a fake transport: batching limits, one transaction in flight, backoff, a dead destination not delaying a
//! live one, EDUs, and resuming after a restart.

#[allow(dead_code)]
#[path = "../accounts/common.rs"]
mod common;

mod peer;
mod queue;
mod remote;
mod signed;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth::notifier::Notifier;
use hearth::services::outbound::{
    BoxFuture, FederationSender, SenderSettings, TransactionTransport,
};
use hearth::services::rooms::{EventTemplate, RoomService};
use hearth::storage::{Backend, DestinationRetry, NewUser, Storage};
use hearth_crypto::SigningKey;
use hearth_federation::outbound::Backoff;
use hearth_federation::transactions::{SendTransactionResponse, Transaction};
use hearth_types::{ServerName, UserId};
use serde_json::json;

pub use common::TestDb;

/// This server's name in these tests.
pub const LOCAL: &str = "hearth.test";

/// How a fake destination behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers 200 at once.
    Accept,
    /// Fails at once (connection refused).
    Refuse,
    /// Never answers (the sender's timeout cuts it off).
    Hang,
}

/// A transport recording every transaction per destination, with per-destination behaviour and an
/// optional gate that holds transactions until opened.
pub struct FakeTransport {
    pub behaviour: Mutex<HashMap<String, Behaviour>>,
    pub delivered: Mutex<HashMap<String, Vec<(String, Transaction)>>>,
    pub attempts: Mutex<HashMap<String, usize>>,
    pub in_flight: Mutex<HashMap<String, usize>>,
    pub max_in_flight: AtomicUsize,
    pub gate: tokio::sync::Semaphore,
}

impl FakeTransport {
    /// A transport whose gate lets `permits` transactions through (more with `gate.add_permits`).
    pub fn gated(permits: usize) -> Arc<Self> {
        Arc::new(FakeTransport {
            behaviour: Mutex::default(),
            delivered: Mutex::default(),
            attempts: Mutex::default(),
            in_flight: Mutex::default(),
            max_in_flight: AtomicUsize::new(0),
            gate: tokio::sync::Semaphore::new(permits),
        })
    }

    /// A transport whose gate is open.
    pub fn open() -> Arc<Self> {
        Self::gated(1_000_000)
    }

    pub fn set(&self, destination: &str, behaviour: Behaviour) {
        self.behaviour
            .lock()
            .unwrap()
            .insert(destination.to_owned(), behaviour);
    }

    /// The transactions `destination` accepted, in order.
    pub fn delivered_to(&self, destination: &str) -> Vec<(String, Transaction)> {
        self.delivered
            .lock()
            .unwrap()
            .get(destination)
            .cloned()
            .unwrap_or_default()
    }

    /// Event IDs of the PDUs `destination` accepted, in order.
    pub fn pdu_ids(&self, destination: &str) -> Vec<String> {
        self.delivered_to(destination)
            .iter()
            .flat_map(|(_, t)| t.pdus.iter())
            .map(event_id_of)
            .collect()
    }

    pub fn attempts_to(&self, destination: &str) -> usize {
        self.attempts
            .lock()
            .unwrap()
            .get(destination)
            .copied()
            .unwrap_or(0)
    }
}

impl TransactionTransport for FakeTransport {
    fn send_transaction<'a>(
        &'a self,
        destination: &'a ServerName,
        txn_id: &'a str,
        transaction: &'a Transaction,
    ) -> BoxFuture<'a, Result<SendTransactionResponse, hearth_federation::Error>> {
        Box::pin(async move {
            let name = destination.as_str().to_owned();
            *self
                .attempts
                .lock()
                .unwrap()
                .entry(name.clone())
                .or_default() += 1;
            let now = {
                let mut in_flight = self.in_flight.lock().unwrap();
                let count = in_flight.entry(name.clone()).or_default();
                *count += 1;
                *count
            };
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let behaviour = self
                .behaviour
                .lock()
                .unwrap()
                .get(&name)
                .copied()
                .unwrap_or(Behaviour::Accept);
            let result = match behaviour {
                Behaviour::Accept => {
                    let _permit = self.gate.acquire().await;
                    self.delivered
                        .lock()
                        .unwrap()
                        .entry(name.clone())
                        .or_default()
                        .push((txn_id.to_owned(), transaction.clone()));
                    Ok(SendTransactionResponse::default())
                }
                Behaviour::Refuse => Err(hearth_federation::Error::Request {
                    destination: name.clone(),
                    reason: "connection refused".into(),
                }),
                Behaviour::Hang => std::future::pending().await,
            };
            *self.in_flight.lock().unwrap().entry(name).or_default() -= 1;
            result
        })
    }
}

/// The `event_id` of a PDU as sent (room v12 PDUs carry none: it is the reference hash).
pub fn event_id_of(pdu: &serde_json::Value) -> String {
    let rules = hearth_types::RoomVersionRules::get("12").unwrap();
    hearth_types::pdu::compute_event_id(pdu, rules)
        .unwrap()
        .as_str()
        .to_owned()
}

/// Fast settings: 100 ms doubling to 400 ms without jitter, 300 ms per transaction.
pub fn fast_settings() -> SenderSettings {
    SenderSettings {
        backoff: Backoff {
            initial: Duration::from_millis(100),
            multiplier: 2.0,
            max: Duration::from_millis(400),
            jitter: 0.0,
        },
        request_timeout: Duration::from_millis(300),
    }
}

/// A database with alice, and a public room of hers in which users of `remote_servers` are joined.
pub struct Fixture {
    pub db: TestDb,
    pub storage: Storage,
    pub rooms: Arc<RoomService>,
    pub room_id: String,
    pub alice: UserId,
}

impl Fixture {
    pub async fn new(backend: Backend, remote_servers: &[&str]) -> Fixture {
        let db = match backend {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres().await,
        };
        let storage = db.connect().await;
        let alice = UserId::parse(&format!("@alice:{LOCAL}")).unwrap();
        storage
            .create_user(&NewUser {
                user_id: alice.as_str(),
                password_hash: None,
                created_ts: 1,
                is_admin: false,
                is_guest: false,
                displayname: None,
            })
            .await
            .unwrap();
        let rooms = room_service(&storage);
        let request = serde_json::from_value(json!({"preset": "public_chat"})).unwrap();
        let room_id = rooms.create_room(&alice, request).await.unwrap();
        for (i, server) in remote_servers.iter().enumerate() {
            // The remote users' joins arrive through inbound federation in production; here they are rows.
            db.raw_execute(&format!(
                "INSERT INTO room_memberships (room_id, user_id, membership, event_id, sender, \
                 stream_ordering, forgotten) VALUES ('{room_id}', '@u{i}:{server}', 'join', \
                 '$join{i}', '@u{i}:{server}', 0, FALSE)"
            ))
            .await;
        }
        // The room's creation is history the remote servers got when they joined.
        db.raw_execute(
            "UPDATE federation_fanout_position \
             SET stream_ordering = (SELECT MAX(stream_ordering) FROM events)",
        )
        .await;
        Fixture {
            db,
            storage,
            rooms,
            room_id,
            alice,
        }
    }

    /// A sender over this database, hooked to the rooms service, started.
    pub async fn sender(
        &self,
        transport: Arc<FakeTransport>,
        settings: SenderSettings,
    ) -> FederationSender {
        let sender = FederationSender::new(
            self.storage.clone(),
            ServerName::parse(LOCAL).unwrap(),
            transport,
            settings,
        );
        self.rooms
            .signal_persisted_events(sender.events_persisted_signal());
        sender.start().await.unwrap();
        sender
    }

    /// Alice sends a text message; returns its event ID.
    pub async fn send_text(&self, body: &str) -> String {
        self.rooms
            .send_event(
                &self.alice,
                &self.room_id,
                EventTemplate {
                    event_type: "m.room.message".into(),
                    state_key: None,
                    content: json!({"msgtype": "m.text", "body": body}),
                    redacts: None,
                },
                None,
            )
            .await
            .unwrap()
            .event_id
    }
}

/// A rooms service over `storage`, signing as [`LOCAL`].
pub fn room_service(storage: &Storage) -> Arc<RoomService> {
    Arc::new(RoomService::new(
        storage.clone(),
        Notifier::new(),
        ServerName::parse(LOCAL).unwrap(),
        Arc::new(SigningKey::from_seed("t1", &[3; 32]).unwrap()),
        "12".into(),
    ))
}

/// Waits (up to 5 s) until `destination`'s queue is empty — its rows go just after the transport returned —
/// and returns its retry state.
pub async fn drained(sender: &FederationSender, destination: &str) -> DestinationRetry {
    let destination = ServerName::parse(destination).unwrap();
    for _ in 0..250 {
        let (retry, queued) = sender.destination_status(&destination).await.unwrap();
        if queued == 0 {
            return retry;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{destination}'s queue did not drain");
}

/// Polls `check` every 20 ms until it holds or `within` passes; panics with `what` on timeout.
pub async fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

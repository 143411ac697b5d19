//! Outbound backfill: history older than the oldest event this server has, fetched from the other servers
//! in the room when a local client pages back past it (the rooms service's [`HistoryBackfill`] hook).
//!
//! 1. One backfill per room at a time: a second request for the same room waits, then finds the history the
//!    first one stored.
//! 2. The room's backward extremities (unknown `prev_events` at the bottom of its timeline) are asked for with
//!    `GET /backfill/{roomId}?v=…&limit=100`, of the servers that are (or were) in the room, those in it
//!    longest first (as Synapse does), at most [`MAX_BACKFILL_DESTINATIONS`], until one brings new events.
//! 3. Each returned PDU is checked as a received one is: format, size, signatures, content hash (steps 1–3 of
//!    the receive pipeline); events of another room and events already in the timeline are ignored. The
//!    batch is ordered oldest first (along its own `prev_events`), missing auth events are fetched with
//!    `/event_auth`, and for a `prev_event` not in the timeline (the bottom of the batch) the state after it
//!    is fetched with `/state` — each bounded as in the receive pipeline.
//! 4. The rooms service checks each against its auth events and the state before it and stores it below the
//!    timeline (positions reserved under the lowest stored one, oldest lowest): never a forward extremity,
//!    never current state, never in `/sync`.
//!
//! Bounds: at most [`BACKFILL_LIMIT`] events per answer, [`BACKFILL_REQUEST_TIMEOUT`] per request,
//! [`BACKFILL_TIME_BUDGET`] for one backfill, and extremities that brought nothing are not asked for again
//! within [`FRUITLESS_RETRY_AFTER`] — so pagination ends when the servers have nothing older.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hearth_types::{Pdu, RoomId, RoomVersionRules, ServerName};
use serde::Deserialize;
use serde_json::Value;

use super::ingest::encode_segment;
use super::{FederationError, FederationService};
use crate::services::outbound::BoxFuture;
use crate::services::rooms::{HistoryBackfill, RemoteOutcome};
use crate::storage::Membership;

/// Events asked for (and at most accepted) per `/backfill` request.
pub const BACKFILL_LIMIT: usize = 100;
/// Most servers asked during one backfill.
pub const MAX_BACKFILL_DESTINATIONS: usize = 5;
/// Time for one `/backfill` request.
pub const BACKFILL_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Time for one whole backfill (requests, fetched auth events and state, checks, writes).
pub const BACKFILL_TIME_BUDGET: Duration = Duration::from_secs(60);
/// How long extremities that no server could extend are left alone.
pub const FRUITLESS_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Per-room backfill bookkeeping of the federation service.
#[derive(Debug, Default)]
pub struct BackfillState {
    /// One backfill per room at a time.
    rooms: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Extremities of a room that the last backfill could not extend, and when.
    fruitless: Mutex<HashMap<String, (Vec<String>, Instant)>>,
}

impl BackfillState {
    fn room_lock(&self, room_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if rooms.len() > 10_000 {
            rooms.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        rooms.entry(room_id.to_owned()).or_default().clone()
    }

    fn recently_fruitless(&self, room_id: &str, extremities: &[String]) -> bool {
        let fruitless = self
            .fruitless
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        fruitless.get(room_id).is_some_and(|(known, when)| {
            known.as_slice() == extremities && when.elapsed() < FRUITLESS_RETRY_AFTER
        })
    }

    fn set_fruitless(&self, room_id: &str, extremities: Vec<String>) {
        let mut fruitless = self
            .fruitless
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if fruitless.len() > 10_000 {
            fruitless.retain(|_, (_, when)| when.elapsed() < FRUITLESS_RETRY_AFTER);
        }
        fruitless.insert(room_id.to_owned(), (extremities, Instant::now()));
    }
}

/// A `/backfill` answer (a transaction).
#[derive(Debug, Deserialize)]
struct BackfillAnswer {
    #[serde(default)]
    pdus: Vec<Value>,
}

impl HistoryBackfill for FederationService {
    fn fill_history_below<'a>(&'a self, room_id: &'a str, position: i64) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let budget = BACKFILL_TIME_BUDGET + Duration::from_secs(5);
            match tokio::time::timeout(budget, self.backfill_room(room_id, position)).await {
                Ok(Ok(found)) => found,
                Ok(Err(error)) => {
                    tracing::warn!(%room_id, %error, "backfill failed");
                    false
                }
                Err(_) => {
                    tracing::warn!(%room_id, "backfill ran out of time");
                    false
                }
            }
        })
    }
}

impl FederationService {
    /// Fetches history of `room_id` older than its stored timeline (see the module comment); whether the
    /// room now has timeline events at or below `position`.
    pub async fn backfill_room(
        &self,
        room_id: &str,
        position: i64,
    ) -> Result<bool, FederationError> {
        let lock = self.backfill.room_lock(room_id);
        let _single_flight = lock.lock().await;
        if self
            .storage
            .has_timeline_events_at_or_below(room_id, position)
            .await?
        {
            return Ok(true);
        }
        let extremities = self.storage.backward_extremities(room_id).await?;
        if extremities.is_empty() || self.backfill.recently_fruitless(room_id, &extremities) {
            return Ok(false);
        }
        let rules = self.rules_of(room_id).await?;
        let client = self.client().map_err(FederationError::Internal)?;
        let deadline = Instant::now() + BACKFILL_TIME_BUDGET;
        let query: String = extremities
            .iter()
            .map(|id| format!("v={}&", encode_segment(id)))
            .collect();
        let path = format!(
            "/_matrix/federation/v1/backfill/{}?{query}limit={BACKFILL_LIMIT}",
            encode_segment(room_id)
        );
        for destination in self.backfill_destinations(room_id).await? {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            let request = client.get_json::<BackfillAnswer>(&destination, &path);
            let answer = match tokio::time::timeout(
                remaining.min(BACKFILL_REQUEST_TIMEOUT),
                request,
            )
            .await
            {
                Ok(Ok(answer)) => answer,
                Ok(Err(error)) => {
                    tracing::info!(%room_id, %destination, %error, "backfill request failed");
                    continue;
                }
                Err(_) => {
                    tracing::info!(%room_id, %destination, "backfill request timed out");
                    continue;
                }
            };
            let added = self
                .store_backfilled(&destination, room_id, rules, answer.pdus, deadline)
                .await?;
            tracing::info!(%room_id, %destination, added, "backfilled");
            if added > 0 {
                return Ok(self
                    .storage
                    .has_timeline_events_at_or_below(room_id, position)
                    .await?);
            }
        }
        self.backfill.set_fruitless(room_id, extremities);
        Ok(false)
    }

    /// The servers to ask for a room's history, most likely to have it first: those of joined members, then
    /// those that had members (left or banned), each ordered by its earliest membership here (servers in the
    /// room longest first), then the server of a pre-v12 room ID; never this server, none the room's server
    /// ACL denies; at most [`MAX_BACKFILL_DESTINATIONS`].
    async fn backfill_destinations(
        &self,
        room_id: &str,
    ) -> Result<Vec<ServerName>, FederationError> {
        let memberships = self.storage.room_memberships(room_id).await?;
        let room_server = RoomId::parse(room_id)
            .ok()
            .and_then(|id| id.server_name().map(|s| s.as_str().to_owned()));
        let mut destinations = Vec::new();
        for server in order_destinations(&memberships, room_server.as_deref(), &self.server_name) {
            if destinations.len() >= MAX_BACKFILL_DESTINATIONS {
                break;
            }
            if self.check_server_acl(room_id, &server).await.is_ok() {
                destinations.push(server);
            }
        }
        Ok(destinations)
    }

    /// Checks the PDUs of one `/backfill` answer from `origin` and stores those that pass, oldest first
    /// (module comment, steps 3–4); returns how many entered the timeline.
    async fn store_backfilled(
        &self,
        origin: &ServerName,
        room_id: &str,
        rules: &'static RoomVersionRules,
        pdus: Vec<Value>,
        deadline: Instant,
    ) -> Result<usize, FederationError> {
        let mut batch = Vec::new();
        let mut seen = HashSet::new();
        for json in pdus.into_iter().take(BACKFILL_LIMIT) {
            // A cheap look before the signature check: another room's events are not ours to verify.
            if json
                .get("room_id")
                .and_then(Value::as_str)
                .is_some_and(|id| id != room_id)
            {
                tracing::info!(%origin, %room_id, "a backfilled event of another room was ignored");
                continue;
            }
            let pdu = match self.verify_incoming_pdu(json, rules).await {
                Ok(pdu) => pdu,
                Err(error) => {
                    tracing::info!(%origin, %error, "a backfilled event was dropped");
                    continue;
                }
            };
            if !pdu
                .room_id_or_derived()
                .is_ok_and(|id| id.as_str() == room_id)
            {
                tracing::info!(%origin, %room_id, "a backfilled event of another room was ignored");
                continue;
            }
            let known = self
                .storage
                .known_event_ids(&[pdu.event_id().as_str().to_owned()])
                .await?;
            if known.values().any(|outlier| !outlier) {
                continue;
            }
            if seen.insert(pdu.event_id().clone()) {
                batch.push(pdu);
            }
        }
        if batch.is_empty() {
            return Ok(0);
        }
        let ordered = oldest_first(batch);
        let highest = self.rooms.reserve_backfill_positions(ordered.len()).await?;
        let lowest = highest - (ordered.len() as i64 - 1);
        let mut added = 0;
        for (position, pdu) in (lowest..).zip(&ordered) {
            if Instant::now() >= deadline {
                tracing::info!(%room_id, "backfill stopped at its time budget");
                break;
            }
            match self
                .accept_backfilled(origin, room_id, rules, pdu, position)
                .await
            {
                Ok(RemoteOutcome::Accepted) => added += 1,
                Ok(outcome) => {
                    tracing::info!(event_id = %pdu.event_id(), ?outcome, "a backfilled event was not added");
                }
                Err(error) => {
                    tracing::info!(event_id = %pdu.event_id(), %error, "a backfilled event was dropped");
                }
            }
        }
        Ok(added)
    }

    /// One verified backfilled event: its auth events made known, the state after each `prev_event` that is
    /// not in the timeline fetched from `origin`, then the rooms service's checks and write.
    async fn accept_backfilled(
        &self,
        origin: &ServerName,
        room_id: &str,
        rules: &'static RoomVersionRules,
        pdu: &Pdu,
        position: i64,
    ) -> Result<RemoteOutcome, String> {
        self.ensure_auth_events(origin, room_id, pdu, rules).await?;
        let missing = self.missing_prevs(pdu).await?;
        let prev_states = self
            .fetch_prev_states(origin, room_id, missing, rules)
            .await?;
        self.rooms
            .accept_backfilled_event(pdu, rules, &prev_states, position)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The servers of `memberships` to ask for history, in order (see
/// [`FederationService::backfill_destinations`]); `room_server` is the server named in a pre-v12 room ID.
fn order_destinations(
    memberships: &[Membership],
    room_server: Option<&str>,
    own: &ServerName,
) -> Vec<ServerName> {
    let mut rows: Vec<&Membership> = memberships
        .iter()
        .filter(|m| matches!(m.membership.as_str(), "join" | "leave" | "ban"))
        .collect();
    rows.sort_by_key(|m| (m.membership != "join", m.stream_ordering));
    let mut seen = BTreeSet::new();
    let servers = rows
        .iter()
        .filter_map(|m| m.user_id.split_once(':').map(|(_, server)| server))
        .chain(room_server);
    let mut ordered = Vec::new();
    for server in servers {
        if server == own.as_str() || !seen.insert(server) {
            continue;
        }
        if let Ok(name) = ServerName::parse(server) {
            ordered.push(name);
        }
    }
    ordered
}

/// `batch` in an order where every event comes after those of its `prev_events` that are in the batch
/// (lowest depth first among the ready ones; events on a cycle, impossible with hashed event IDs, last).
fn oldest_first(batch: Vec<Pdu>) -> Vec<Pdu> {
    let ids: HashSet<String> = batch
        .iter()
        .map(|pdu| pdu.event_id().as_str().to_owned())
        .collect();
    let mut waiting_on: Vec<usize> = batch
        .iter()
        .map(|pdu| {
            pdu.prev_events()
                .iter()
                .filter(|prev| ids.contains(prev.as_str()))
                .count()
        })
        .collect();
    let mut done = vec![false; batch.len()];
    let mut order = Vec::with_capacity(batch.len());
    loop {
        let next = (0..batch.len())
            .filter(|&i| !done[i] && waiting_on[i] == 0)
            .min_by_key(|&i| (batch[i].depth(), batch[i].event_id().as_str().to_owned()));
        let Some(index) = next else { break };
        done[index] = true;
        order.push(index);
        let id = batch[index].event_id().clone();
        for (i, pdu) in batch.iter().enumerate() {
            if !done[i] {
                let edges = pdu.prev_events().iter().filter(|p| **p == id).count();
                waiting_on[i] = waiting_on[i].saturating_sub(edges);
            }
        }
    }
    let mut rest: Vec<usize> = (0..batch.len()).filter(|&i| !done[i]).collect();
    rest.sort_by_key(|&i| batch[i].depth());
    order.extend(rest);
    let mut slots: Vec<Option<Pdu>> = batch.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(user: &str, membership: &str, stream: i64) -> Membership {
        Membership {
            room_id: "!r:a.test".into(),
            user_id: user.into(),
            membership: membership.into(),
            event_id: format!("$e{stream}"),
            sender: user.into(),
            stream_ordering: stream,
            forgotten: false,
        }
    }

    /// A v10 message with these prev events and (claimed) depth. (The body is redacted away from the
    /// event ID, so the timestamp carries it.)
    fn event(body: &str, prevs: &[&Pdu], depth: i64) -> Pdu {
        let rules = RoomVersionRules::get("10").unwrap();
        let ts = body.bytes().fold(0_i64, |acc, b| acc * 31 + i64::from(b));
        let prevs: Vec<&str> = prevs.iter().map(|p| p.event_id().as_str()).collect();
        let json = serde_json::json!({
            "room_id": "!r:a.test", "sender": "@a:a.test", "type": "m.room.message",
            "content": {"body": body}, "prev_events": prevs, "auth_events": [],
            "depth": depth, "origin_server_ts": ts,
        });
        Pdu::from_json(json, rules).unwrap()
    }

    #[test]
    fn a_batch_is_ordered_along_its_prev_events_whatever_the_depths_claim() {
        let root = event("root", &[], 1);
        let high = event("high", &[&root], 9);
        let low = event("low", &[&high], 2);
        let merge = event("merge", &[&low, &root], 3);
        let side = event("side", &[], 1);
        let batch = vec![merge, low, side, high, root];
        let order: Vec<String> = oldest_first(batch)
            .iter()
            .map(|pdu| {
                pdu.content()["body"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        let position = |name: &str| order.iter().position(|b| b == name).unwrap();
        assert_eq!(order.len(), 5);
        assert!(position("root") < position("high"));
        assert!(position("high") < position("low"), "{order:?}");
        assert!(position("low") < position("merge"));
    }

    #[test]
    fn destinations_are_joined_servers_longest_in_the_room_first_then_former_ones() {
        let own = ServerName::parse("us.test").unwrap();
        let rows = [
            member("@late:late.test", "join", 40),
            member("@me:us.test", "join", 1),
            member("@gone:gone.test", "leave", 2),
            member("@first:first.test", "join", 10),
            member("@also:first.test", "join", 50),
            member("@invited:invited.test", "invite", 3),
            member("@banned:banned.test", "ban", 5),
        ];
        let ordered = order_destinations(&rows, Some("creator.test"), &own);
        let names: Vec<&str> = ordered.iter().map(ServerName::as_str).collect();
        assert_eq!(
            names,
            [
                "first.test",
                "late.test",
                "gone.test",
                "banned.test",
                "creator.test"
            ]
        );
    }
}

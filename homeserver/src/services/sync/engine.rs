//! `/sync`: everything that changed for a user since a token, or everything (initial sync), waiting up to
//! `timeout` for news when there is none.
//!
//! Waiting never polls: the request registers a [`Listener`](crate::notifier::Listener) on its user and rooms
//! *before* it reads the stream positions, builds the response from storage, and only if that is empty awaits
//! the listener (bounded by the timeout), then builds again. A change committed after the positions were read
//! has notified the listener, so it is never missed; one committed before is in the response.
//!
//! Room sections come from the rooms service (memberships, timeline after a position, state, visibility, the
//! client-event format); account data, receipts and presence from storage; typing from [`TypingService`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use hearth_client_api::sync::filter::{Filter, RoomEventFilter};
use hearth_types::{DeviceId, UserId};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::e2ee::e2ee_sections;
use super::presence::presence_content;
use super::receipts::receipt_event;
use super::state_delta::LazyMembersCache;
use super::token::SyncToken;
use super::typing::TypingService;
use crate::notifier::{Notifier, WakeKey};
use crate::services::account_data::{AccountDataService, UserDataError, ignored_users_in};
use crate::services::e2ee::E2eeService;
use crate::services::rooms::RoomService;
use crate::storage::{Membership, Storage, StoredEvent};

/// Timeline events per room when the filter sets no limit (Synapse's default).
const DEFAULT_TIMELINE_LIMIT: u64 = 10;
/// Most timeline events per room one sync returns, whatever the filter asks.
const MAX_TIMELINE_LIMIT: u64 = 500;
/// Longest a request waits for news.
const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// State types shown in an invite (stripped state), per the spec's recommendation.
const STRIPPED_STATE_TYPES: &[&str] = &[
    "m.room.create",
    "m.room.join_rules",
    "m.room.name",
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.encryption",
    "m.room.topic",
];

/// What a client asked `/sync` for.
#[derive(Clone, Debug, Default)]
pub struct SyncRequest {
    /// Where the previous sync ended; `None` for an initial sync.
    pub since: Option<SyncToken>,
    /// The filter (already resolved from an ID or inline JSON).
    pub filter: Filter,
    /// Send the full state of every room, even in an incremental sync.
    pub full_state: bool,
    /// How long to wait for news when there is none.
    pub timeout: Duration,
}

/// The sync service. Shared as `Arc<SyncService>` in the HTTP state.
#[derive(Debug)]
pub struct SyncService {
    pub(super) storage: Storage,
    notifier: Notifier,
    pub(super) rooms: Arc<RoomService>,
    account_data: AccountDataService,
    typing: TypingService,
    e2ee: Arc<E2eeService>,
    /// Member events each device was sent (lazy loading without redundant members).
    pub(super) lazy_members: LazyMembersCache,
}

/// Everything a room section needs to know about the request.
pub(super) struct Context<'a> {
    pub(super) user: &'a UserId,
    pub(super) device: Option<&'a DeviceId>,
    since: Option<SyncToken>,
    pub(super) upto: SyncToken,
    pub(super) filter: &'a Filter,
    pub(super) full_state: bool,
    ignored: HashSet<String>,
    room_account_data: HashMap<String, Vec<Value>>,
    /// The user's push rules (`m.push_rules` content), for unread counts.
    push_rules: Value,
}

impl SyncService {
    /// A sync service reading through these services.
    pub fn new(
        storage: Storage,
        notifier: Notifier,
        rooms: Arc<RoomService>,
        account_data: AccountDataService,
        typing: TypingService,
        e2ee: Arc<E2eeService>,
    ) -> Self {
        Self {
            storage,
            notifier,
            rooms,
            account_data,
            typing,
            e2ee,
            lazy_members: LazyMembersCache::default(),
        }
    }

    /// Answers `/sync`: the response body, with `next_batch` to pass as `since` next time.
    pub async fn sync(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        request: &SyncRequest,
    ) -> Result<Value, UserDataError> {
        if request.since.is_none() {
            // Make sure the default push rules exist, so the initial sync carries `m.push_rules`.
            self.account_data.push_rules(user.as_str()).await?;
        }
        if let (Some(since), Some(device)) = (request.since, device) {
            // Using a token is the acknowledgement of the to-device messages it covered.
            self.e2ee
                .acknowledge_to_device(user, device, since.to_device)
                .await?;
        }
        let deadline = Instant::now() + request.timeout.min(MAX_TIMEOUT);
        loop {
            // The user's key first: a membership change committed between reading the memberships and
            // listening on their rooms (a join completing now) notifies the user and must wake this wait.
            let mut listener = self
                .notifier
                .listener([WakeKey::User(user.as_str().to_owned())]);
            let memberships = self.rooms.memberships_of_user(user).await?;
            listener.merge(
                self.notifier.listener(
                    memberships
                        .iter()
                        .filter(|m| m.membership == "join")
                        .map(|m| WakeKey::Room(m.room_id.clone())),
                ),
            );
            let upto = self.current_token().await?;
            let (response, has_news) = self.build(user, device, request, memberships, upto).await?;
            let wait_more = request.since.is_some()
                && !request.full_state
                && !has_news
                && Instant::now() < deadline;
            if !wait_more {
                return Ok(response);
            }
            if tokio::time::timeout_at(deadline, listener.wait())
                .await
                .is_err()
            {
                return Ok(response);
            }
        }
    }

    /// The newest position of every stream (where a legacy `/events` stream without `from` starts).
    pub async fn current_token(&self) -> Result<SyncToken, UserDataError> {
        let positions = self.storage.stream_positions().await?;
        Ok(SyncToken {
            events: self.storage.max_stream_ordering().await?,
            account_data: positions.account_data,
            receipts: positions.receipts,
            presence: positions.presence,
            typing: self.typing.current_serial(),
            to_device: positions.to_device,
            device_lists: positions.device_lists,
        })
    }

    /// Builds the response between `request.since` and `upto`; the flag says whether it carries anything.
    async fn build(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        request: &SyncRequest,
        memberships: Vec<Membership>,
        upto: SyncToken,
    ) -> Result<(Value, bool), UserDataError> {
        let since = request.since.map(|mut since| {
            if since.typing > upto.typing {
                // A token from before a restart: typing serials started again.
                since.typing = 0;
            }
            since
        });
        let account_data = self
            .storage
            .account_data_between(
                user.as_str(),
                since.map_or(0, |s| s.account_data),
                upto.account_data,
            )
            .await?;
        let mut global_account_data = Vec::new();
        let mut room_account_data: HashMap<String, Vec<Value>> = HashMap::new();
        for entry in account_data {
            let content: Value =
                serde_json::from_str(&entry.content).map_err(UserDataError::internal)?;
            let event = json!({ "type": entry.data_type, "content": content });
            match entry.room_id {
                Some(room_id) => room_account_data.entry(room_id).or_default().push(event),
                None => {
                    let allowed = request
                        .filter
                        .account_data
                        .as_ref()
                        .is_none_or(|filter| filter.allows(&entry.data_type, None));
                    if allowed {
                        global_account_data.push(event);
                    }
                }
            }
        }
        let ignored = match self
            .storage
            .get_account_data(user.as_str(), None, "m.ignored_user_list")
            .await?
        {
            Some(text) => ignored_users_in(
                &serde_json::from_str::<Map<String, Value>>(&text)
                    .map_err(UserDataError::internal)?,
            ),
            None => HashSet::new(),
        };
        let context = Context {
            user,
            device,
            since,
            upto,
            filter: &request.filter,
            full_state: request.full_state,
            ignored,
            room_account_data,
            push_rules: Value::Object(self.account_data.push_rules(user.as_str()).await?),
        };

        let room_filter = request.filter.room.clone().unwrap_or_default();
        let include_leave = room_filter.include_leave.unwrap_or(false);
        let mut join = Map::new();
        let mut invite = Map::new();
        let mut leave = Map::new();
        let mut joined_rooms = Vec::new();
        for membership in &memberships {
            if !room_filter.allows_room(&membership.room_id) {
                continue;
            }
            let changed_since = since.is_none_or(|s| membership.stream_ordering > s.events);
            match membership.membership.as_str() {
                "join" => {
                    joined_rooms.push(membership.room_id.clone());
                    if let Some(section) = self.joined_room(&context, membership).await? {
                        join.insert(membership.room_id.clone(), section);
                    }
                }
                "invite" if changed_since || context.full_state => {
                    invite.insert(
                        membership.room_id.clone(),
                        self.invited_room(membership).await?,
                    );
                }
                "leave" | "ban" if (since.is_some() && changed_since) || include_leave => {
                    if let Some(section) = self.left_room(&context, membership).await? {
                        leave.insert(membership.room_id.clone(), section);
                    }
                }
                _ => {}
            }
        }
        let presence = self.presence(&context, &joined_rooms).await?;
        let e2ee = e2ee_sections(&self.e2ee, user, device, since, upto).await?;

        let has_news = !join.is_empty()
            || !invite.is_empty()
            || !leave.is_empty()
            || !global_account_data.is_empty()
            || !presence.is_empty()
            || e2ee.has_news();
        let next_batch = SyncToken {
            to_device: e2ee.to_device_upto,
            ..upto
        };
        let response = json!({
            "next_batch": next_batch.to_string(),
            "rooms": { "join": join, "invite": invite, "leave": leave, "knock": {} },
            "account_data": { "events": global_account_data },
            "presence": { "events": presence },
            "to_device": { "events": e2ee.to_device },
            "device_lists": { "changed": e2ee.changed, "left": e2ee.left },
            "device_one_time_keys_count": e2ee.one_time_keys_count,
            "device_unused_fallback_key_types": e2ee.unused_fallback_key_types,
        });
        Ok((response, has_news))
    }

    /// A joined room's section; `None` in an incremental sync when nothing changed.
    async fn joined_room(
        &self,
        context: &Context<'_>,
        membership: &Membership,
    ) -> Result<Option<Value>, UserDataError> {
        let room_id = membership.room_id.as_str();
        // A room joined after the token is sent in full, like in an initial sync.
        let since = context
            .since
            .filter(|since| membership.stream_ordering <= since.events);
        let (timeline, limited, prev_batch) = self
            .timeline(
                context,
                room_id,
                since.map_or(0, |s| s.events),
                context.upto.events,
            )
            .await?;
        let state = self
            .state(context, room_id, since, &timeline, limited)
            .await?;
        let ephemeral = self.ephemeral(context, room_id, since).await?;
        let account_data = context
            .room_account_data
            .get(room_id)
            .cloned()
            .unwrap_or_default();
        let newly_joined = since.is_none();
        if !newly_joined
            && !context.full_state
            && timeline.is_empty()
            && state.is_empty()
            && ephemeral.is_empty()
            && account_data.is_empty()
        {
            return Ok(None);
        }
        let rules = self.rooms.room_rules(room_id).await?;
        let viewer = Some((context.user, context.device));
        let timeline_events = self.rooms.client_events(&timeline, rules, viewer).await?;
        let state_events = self.rooms.client_events(&state, rules, viewer).await?;
        let unread = self
            .unread_counts(context.user, room_id, &context.push_rules)
            .await?;
        let summary = self.summary(context.user, room_id).await?;
        Ok(Some(json!({
            "timeline": { "events": timeline_events, "limited": limited, "prev_batch": prev_batch },
            "state": { "events": state_events },
            "ephemeral": { "events": ephemeral },
            "account_data": { "events": account_data },
            "unread_notifications": {
                "notification_count": unread.notifications,
                "highlight_count": unread.highlights,
            },
            "summary": summary,
        })))
    }

    /// The timeline of a room in `(after, up_to]`: visible, filtered, at most the filter's limit (the newest);
    /// with `limited` and the `prev_batch` token that pages back from its start.
    async fn timeline(
        &self,
        context: &Context<'_>,
        room_id: &str,
        after: i64,
        up_to: i64,
    ) -> Result<(Vec<StoredEvent>, bool, String), UserDataError> {
        let filter = timeline_filter(context.filter);
        let limit = filter
            .limit
            .unwrap_or(DEFAULT_TIMELINE_LIMIT)
            .clamp(1, MAX_TIMELINE_LIMIT);
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let mut events = self
            .rooms
            .timeline_between(room_id, after, up_to, fetch)
            .await?;
        let limited = events.len() as u64 > limit;
        if limited {
            events.remove(0);
        }
        let prev_batch = match events.first() {
            Some(first) => format!("s{}", first.stream_ordering - 1),
            None => format!("s{up_to}"),
        };
        let events = self.rooms.visible_events(context.user, events).await?;
        let events = events
            .into_iter()
            .filter(|event| {
                (event.state_key.is_some() || !context.ignored.contains(&event.sender))
                    && filter.allows(room_id, &event.event_type, &event.sender)
                    && content_allowed(&filter, event)
            })
            .collect();
        Ok((events, limited, prev_batch))
    }

    /// Typing and receipts of a room since the token (all current ones for a full section).
    async fn ephemeral(
        &self,
        context: &Context<'_>,
        room_id: &str,
        since: Option<SyncToken>,
    ) -> Result<Vec<Value>, UserDataError> {
        let filter = context
            .filter
            .room
            .as_ref()
            .and_then(|room| room.ephemeral.clone())
            .unwrap_or_default();
        let mut events = Vec::new();
        let (typing, changed_at) = self.typing.typing_in(room_id);
        let typing_changed = since.is_none_or(|s| changed_at > s.typing);
        if typing_changed
            && (since.is_some() || !typing.is_empty())
            && filter.allows(room_id, "m.typing", "")
        {
            events.push(json!({ "type": "m.typing", "content": { "user_ids": typing } }));
        }
        if filter.allows(room_id, "m.receipt", "") {
            let receipts = self
                .storage
                .room_receipts_between(
                    room_id,
                    since.map_or(0, |s| s.receipts),
                    context.upto.receipts,
                )
                .await?;
            let receipts: Vec<_> = receipts
                .into_iter()
                .filter(|receipt| !context.ignored.contains(&receipt.user_id))
                .collect();
            if let Some(event) = receipt_event(&receipts, context.user.as_str()) {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// An invited room: the invite event and a few state events of the room, stripped.
    async fn invited_room(&self, membership: &Membership) -> Result<Value, UserDataError> {
        let state = self.rooms.current_state_events(&membership.room_id).await?;
        let mut events: Vec<Value> = state
            .iter()
            .filter(|event| STRIPPED_STATE_TYPES.contains(&event.event_type.as_str()))
            .filter_map(stripped)
            .collect();
        if let Some(invite) = self.storage.get_event(&membership.event_id).await?
            && let Some(event) = stripped(&invite)
        {
            events.push(event);
        }
        Ok(json!({ "invite_state": { "events": events } }))
    }

    /// A room the user left or was banned from: the timeline up to their leave, and the state there.
    async fn left_room(
        &self,
        context: &Context<'_>,
        membership: &Membership,
    ) -> Result<Option<Value>, UserDataError> {
        let room_id = membership.room_id.as_str();
        let since = context
            .since
            .filter(|since| membership.stream_ordering > since.events);
        let after = since.map_or(0, |s| s.events);
        let (timeline, limited, prev_batch) = self
            .timeline(context, room_id, after, membership.stream_ordering)
            .await?;
        let state = self
            .state(context, room_id, None, &timeline, limited)
            .await?;
        let rules = self.rooms.room_rules(room_id).await?;
        let viewer = Some((context.user, context.device));
        let timeline_events = self.rooms.client_events(&timeline, rules, viewer).await?;
        let state_events = self.rooms.client_events(&state, rules, viewer).await?;
        let account_data = context
            .room_account_data
            .get(room_id)
            .cloned()
            .unwrap_or_default();
        Ok(Some(json!({
            "timeline": { "events": timeline_events, "limited": limited, "prev_batch": prev_batch },
            "state": { "events": state_events },
            "account_data": { "events": account_data },
        })))
    }

    /// Presence of the user and of everyone sharing a joined room with them, changed since the token.
    async fn presence(
        &self,
        context: &Context<'_>,
        joined_rooms: &[String],
    ) -> Result<Vec<Value>, UserDataError> {
        let updates = self
            .storage
            .presence_between(
                context.since.map_or(0, |s| s.presence),
                context.upto.presence,
            )
            .await?;
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let mut visible: HashSet<String> = HashSet::from([context.user.as_str().to_owned()]);
        for room_id in joined_rooms {
            for member in self.storage.room_memberships(room_id).await? {
                if member.membership == "join" {
                    visible.insert(member.user_id);
                }
            }
        }
        let filter = context.filter.presence.clone().unwrap_or_default();
        let now = crate::signing_key::now_millis();
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        Ok(updates
            .iter()
            .filter(|presence| visible.contains(&presence.user_id))
            .filter(|presence| !context.ignored.contains(&presence.user_id))
            .filter(|presence| filter.allows("m.presence", Some(&presence.user_id)))
            .map(|presence| {
                json!({
                    "type": "m.presence",
                    "sender": presence.user_id,
                    "content": presence_content(presence, now),
                })
            })
            .collect())
    }

    /// `summary`: member counts and up to five other members as heroes (for rooms without a name).
    async fn summary(&self, user: &UserId, room_id: &str) -> Result<Value, UserDataError> {
        let members = self.storage.room_memberships(room_id).await?;
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for member in &members {
            *counts.entry(member.membership.as_str()).or_default() += 1;
        }
        let heroes: Vec<&str> = members
            .iter()
            .filter(|m| m.user_id != user.as_str())
            .filter(|m| m.membership == "join" || m.membership == "invite")
            .map(|m| m.user_id.as_str())
            .take(5)
            .collect();
        Ok(json!({
            "m.heroes": heroes,
            "m.joined_member_count": counts.get("join").copied().unwrap_or(0),
            "m.invited_member_count": counts.get("invite").copied().unwrap_or(0),
        }))
    }
}

/// The timeline filter of a sync filter (default: everything).
fn timeline_filter(filter: &Filter) -> RoomEventFilter {
    filter
        .room
        .as_ref()
        .and_then(|room| room.timeline.clone())
        .unwrap_or_default()
}

/// Whether the event passes the filter's `contains_url`.
fn content_allowed(filter: &RoomEventFilter, event: &StoredEvent) -> bool {
    if filter.contains_url.is_none() {
        return true;
    }
    serde_json::from_str::<Value>(&event.json)
        .ok()
        .is_some_and(|json| filter.allows_content(&json["content"]))
}

/// An event reduced to `type`, `state_key`, `sender` and `content` (stripped state).
fn stripped(event: &StoredEvent) -> Option<Value> {
    let json: Value = serde_json::from_str(&event.json).ok()?;
    Some(json!({
        "type": event.event_type,
        "state_key": event.state_key,
        "sender": event.sender,
        "content": json.get("content").cloned().unwrap_or_else(|| json!({})),
    }))
}

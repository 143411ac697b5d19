//! `createRoom`: the create event, the creator's join, power levels, alias, the preset's rules,
//! initial state, name, topic and invites — each a real PDU, in the spec's order, under the new
//! room's lock.

use hearth_types::{RoomAliasId, RoomVersionRules, UserId};
use serde_json::{Map, Value, json};

use super::build::{EventTemplate, RoomContext};
use super::{RoomError, RoomService, now_ms};

pub use hearth_client_api::rooms::create_room::Request as CreateRoomRequest;

/// The presets of `createRoom`: which join rule, history visibility and guest access a room
/// starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Invite-only, shared history, guests may join.
    PrivateChat,
    /// Invite-only, and every invitee gets the creator's power.
    TrustedPrivateChat,
    /// Anyone may join, shared history, no guests.
    PublicChat,
}

impl Preset {
    fn parse(preset: Option<&str>, visibility_public: bool) -> Result<Self, RoomError> {
        match preset {
            Some("private_chat") => Ok(Self::PrivateChat),
            Some("trusted_private_chat") => Ok(Self::TrustedPrivateChat),
            Some("public_chat") => Ok(Self::PublicChat),
            Some(other) => Err(RoomError::BadJson(format!("unknown preset {other:?}"))),
            None if visibility_public => Ok(Self::PublicChat),
            None => Ok(Self::PrivateChat),
        }
    }
}

impl RoomService {
    /// Creates a room as `creator` and returns its ID.
    pub async fn create_room(
        &self,
        creator: &UserId,
        request: CreateRoomRequest,
    ) -> Result<String, RoomError> {
        let version = request
            .room_version
            .clone()
            .unwrap_or_else(|| self.default_version.clone());
        let rules = RoomVersionRules::get(&version)
            .filter(|rules| {
                rules.stability == hearth_types::room_version::RoomVersionStability::Stable
            })
            .ok_or_else(|| RoomError::UnsupportedRoomVersion(version.clone()))?;
        let visibility_public = match request.visibility.as_deref() {
            None | Some("private") => false,
            Some("public") => true,
            Some(other) => {
                return Err(RoomError::BadJson(format!("unknown visibility {other:?}")));
            }
        };
        let preset = Preset::parse(request.preset.as_deref(), visibility_public)?;
        let mut invitees = Vec::with_capacity(request.invite.len());
        for invitee in &request.invite {
            invitees
                .push(UserId::parse(invitee).map_err(|_| {
                    RoomError::InvalidParam(format!("invalid user ID {invitee:?}"))
                })?);
        }
        let alias = match &request.room_alias_name {
            Some(local) => {
                let alias = RoomAliasId::parse(&format!("#{local}:{}", self.server_name))
                    .map_err(|_| RoomError::InvalidParam("invalid room_alias_name".into()))?;
                if self.storage.get_alias(alias.as_str()).await?.is_some() {
                    return Err(RoomError::RoomInUse("room alias already taken".into()));
                }
                Some(alias)
            }
            None => None,
        };

        // The create event.
        let mut create_content = request.creation_content.clone().unwrap_or_default();
        create_content.insert("room_version".into(), json!(rules.id));
        if !rules.authorization.use_room_create_sender {
            create_content.insert("creator".into(), json!(creator.as_str()));
        }
        if rules.authorization.privileged_creators && preset == Preset::TrustedPrivateChat {
            let mut extra: Vec<Value> = create_content
                .get("additional_creators")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            extra.extend(invitees.iter().map(|u| json!(u.as_str())));
            if !extra.is_empty() {
                create_content.insert("additional_creators".into(), Value::Array(extra));
            }
        }
        let provisional_id = if rules.authorization.room_id_is_create_event_hash {
            String::new()
        } else {
            format!(
                "!{}:{}",
                hearth_crypto::random::random_string(18, ALPHABET),
                self.server_name
            )
        };
        let create = self
            .append_locked(
                &RoomContext {
                    room_id: provisional_id,
                    rules,
                },
                creator,
                EventTemplate::state("m.room.create", "", Value::Object(create_content)),
                None,
            )
            .await?;
        let room_id = create.room_id;
        let lock = self.room_lock(&room_id);
        let _guard = lock.lock().await;
        let context = RoomContext {
            room_id: room_id.clone(),
            rules,
        };

        let profile = self.storage.get_user(creator.as_str()).await?;
        let mut join = Map::new();
        join.insert("membership".into(), json!("join"));
        if let Some(user) = &profile {
            if let Some(name) = &user.displayname {
                join.insert("displayname".into(), json!(name));
            }
            if let Some(avatar) = &user.avatar_url {
                join.insert("avatar_url".into(), json!(avatar));
            }
        }
        self.append_locked(
            &context,
            creator,
            EventTemplate::state("m.room.member", creator.as_str(), Value::Object(join)),
            None,
        )
        .await?;

        let power_levels = default_power_levels(
            rules,
            creator,
            preset,
            &invitees,
            request.power_level_content_override.as_ref(),
        );
        self.append_locked(
            &context,
            creator,
            EventTemplate::state("m.room.power_levels", "", power_levels),
            None,
        )
        .await?;

        if let Some(alias) = &alias {
            self.storage
                .create_alias(alias.as_str(), &room_id, creator.as_str(), now_ms())
                .await
                .map_err(|e| match e {
                    crate::storage::StorageError::Conflict(_) => {
                        RoomError::RoomInUse("room alias already taken".into())
                    }
                    other => other.into(),
                })?;
            self.append_locked(
                &context,
                creator,
                EventTemplate::state(
                    "m.room.canonical_alias",
                    "",
                    json!({"alias": alias.as_str()}),
                ),
                None,
            )
            .await?;
        }

        let (join_rule, guest_access) = match preset {
            Preset::PublicChat => ("public", "forbidden"),
            Preset::PrivateChat | Preset::TrustedPrivateChat => ("invite", "can_join"),
        };
        for template in [
            EventTemplate::state("m.room.join_rules", "", json!({"join_rule": join_rule})),
            EventTemplate::state(
                "m.room.history_visibility",
                "",
                json!({"history_visibility": "shared"}),
            ),
            EventTemplate::state(
                "m.room.guest_access",
                "",
                json!({"guest_access": guest_access}),
            ),
        ] {
            self.append_locked(&context, creator, template, None)
                .await?;
        }

        for state in request.initial_state {
            self.append_locked(
                &context,
                creator,
                EventTemplate::state(
                    &state.event_type,
                    &state.state_key,
                    Value::Object(state.content),
                ),
                None,
            )
            .await?;
        }
        if let Some(name) = request.name {
            self.append_locked(
                &context,
                creator,
                EventTemplate::state("m.room.name", "", json!({"name": name})),
                None,
            )
            .await?;
        }
        if let Some(topic) = request.topic {
            self.append_locked(
                &context,
                creator,
                EventTemplate::state(
                    "m.room.topic",
                    "",
                    json!({"topic": topic, "m.topic": [{"mimetype": "text/plain", "body": topic}]}),
                ),
                None,
            )
            .await?;
        }
        for invitee in &invitees {
            let mut content = Map::new();
            content.insert("membership".into(), json!("invite"));
            if request.is_direct {
                content.insert("is_direct".into(), json!(true));
            }
            self.append_locked(
                &context,
                creator,
                EventTemplate::state("m.room.member", invitee.as_str(), Value::Object(content)),
                None,
            )
            .await?;
        }
        if visibility_public {
            self.storage.set_room_public(&room_id, true).await?;
        }
        Ok(room_id)
    }
}

/// Characters of the random part of pre-v12 room IDs.
const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The `m.room.power_levels` content a new room starts with, the override merged over it.
fn default_power_levels(
    rules: &RoomVersionRules,
    creator: &UserId,
    preset: Preset,
    invitees: &[UserId],
    override_content: Option<&Map<String, Value>>,
) -> Value {
    let mut users = Map::new();
    if !rules.authorization.privileged_creators {
        users.insert(creator.as_str().to_owned(), json!(100));
        if preset == Preset::TrustedPrivateChat {
            for invitee in invitees {
                users.insert(invitee.as_str().to_owned(), json!(100));
            }
        }
    }
    let invite = if preset == Preset::PublicChat { 50 } else { 0 };
    let mut content = json!({
        "users": users,
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            "m.room.tombstone": 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": invite,
        "historical": 100,
        "notifications": {"room": 50},
    });
    if let (Some(object), Some(overrides)) = (content.as_object_mut(), override_content) {
        for (key, value) in overrides {
            object.insert(key.clone(), value.clone());
        }
    }
    content
}

//! Event templates for other servers' users (`make_join`, `make_leave`, `make_knock`): an unsigned
//! membership event with `prev_events`, `auth_events` and `depth` filled in from this server's view of the
//! room, checked against the current state so a join that cannot succeed is refused up front.

use std::collections::HashMap;

use hearth_state_res::{StoredPdu, auth_types_for_event, check_state_dependent_auth_rules};
use hearth_types::pdu::reference_hash;
use hearth_types::{EventId, Pdu, RoomVersionRules, UserId};
use serde_json::{Map, Value, json};

use super::{RoomError, RoomService, now_ms};

impl RoomService {
    /// The `m.room.member` template for `user` (a remote user) becoming `membership` in `room_id`, and the
    /// room's version rules. `Forbidden` when the auth rules would reject it against the current state.
    pub async fn remote_membership_template(
        &self,
        room_id: &str,
        user: &UserId,
        membership: &str,
        extra_content: Map<String, Value>,
    ) -> Result<(Value, &'static RoomVersionRules), RoomError> {
        let context = self.room_context(room_id).await?;
        let rules = context.rules;
        let mut content = extra_content;
        content.insert("membership".into(), json!(membership));
        let content = Value::Object(content);
        let (prev_ids, max_depth) = self.storage.forward_extremities(room_id).await?;
        if prev_ids.is_empty() {
            return Err(RoomError::NotFound(format!(
                "this server is not in room {room_id}"
            )));
        }
        let mut auth_state: HashMap<(String, String), StoredPdu> = HashMap::new();
        for (auth_type, auth_key) in auth_types_for_event(
            rules,
            "m.room.member",
            user.as_str(),
            Some(user.as_str()),
            &content,
        ) {
            let Some(id) = self
                .storage
                .current_state_event_id(room_id, &auth_type, &auth_key)
                .await?
            else {
                continue;
            };
            if let Some(stored) = self.load_stored_pdu(&id, rules).await? {
                auth_state.insert((auth_type, auth_key), stored);
            }
        }
        let pairs = !rules.event_id_format.is_hash_based();
        let reference = |ids: Vec<String>| async move {
            if !pairs {
                return Ok::<Value, RoomError>(json!(ids));
            }
            let mut refs = Vec::new();
            for id in ids {
                let stored = self
                    .storage
                    .get_event(&id)
                    .await?
                    .ok_or_else(|| RoomError::Internal(format!("missing event {id}")))?;
                let json: Value =
                    serde_json::from_str(&stored.json).map_err(RoomError::internal)?;
                let hash = reference_hash(&json, rules).map_err(RoomError::internal)?;
                refs.push(json!([id, {"sha256": hearth_crypto::base64::encode(&hash)}]));
            }
            Ok(Value::Array(refs))
        };
        let auth_ids: Vec<String> = auth_state
            .values()
            .map(|stored| stored.pdu.event_id().as_str().to_owned())
            .collect();
        let mut event = Map::new();
        event.insert("room_id".into(), json!(room_id));
        event.insert("sender".into(), json!(user.as_str()));
        event.insert("type".into(), json!("m.room.member"));
        event.insert("state_key".into(), json!(user.as_str()));
        if !rules.redacts_in_content {
            event.insert("origin".into(), json!(user.server_name().as_str()));
        }
        event.insert("content".into(), content);
        event.insert("prev_events".into(), reference(prev_ids).await?);
        event.insert("auth_events".into(), reference(auth_ids).await?);
        event.insert("depth".into(), json!(max_depth.saturating_add(1)));
        event.insert("origin_server_ts".into(), json!(now_ms()));
        let event = Value::Object(event);

        // Check it as it would be checked on arrival (the ID is a placeholder: the auth rules do not read it).
        let placeholder =
            EventId::parse("$template:hearth.invalid").map_err(RoomError::internal)?;
        let pdu = Pdu::from_json_with_id(event.clone(), placeholder, rules)
            .map_err(RoomError::internal)?;
        let create = self.create_event_of(room_id, rules).await?;
        check_state_dependent_auth_rules(rules, &pdu, |t: &str, k: &str| {
            if t == "m.room.create"
                && k.is_empty()
                && !auth_state.contains_key(&(t.to_owned(), k.to_owned()))
            {
                return create.clone();
            }
            auth_state.get(&(t.to_owned(), k.to_owned())).cloned()
        })
        .map_err(|e| RoomError::Forbidden(e.to_string()))?;
        Ok((event, rules))
    }
}

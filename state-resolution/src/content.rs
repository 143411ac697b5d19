//! Lenient views of the event content the authorization rules read.
//!
//! Every accessor reads exactly one field and never fails: a field that is missing or malformed reads
//! as absent, so a malformed field the rules do not use can never reject an event. Where a rule *does*
//! require a well-formed field (power levels of a new `m.room.power_levels` event, the `signed` block of
//! a third-party invite), the rule validates it explicitly and names itself in the rejection.

use hearth_types::RoomVersionRules;
use serde_json::Value;

use crate::event::Event;

/// A membership state (`content.membership` of `m.room.member`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Membership {
    Join,
    Invite,
    Leave,
    Ban,
    Knock,
    /// Any other string, or a missing/malformed field.
    Unknown,
}

impl Membership {
    /// Reads `content.membership`.
    pub(crate) fn of_content(content: &Value) -> Self {
        match content.get("membership").and_then(Value::as_str) {
            Some("join") => Self::Join,
            Some("invite") => Self::Invite,
            Some("leave") => Self::Leave,
            Some("ban") => Self::Ban,
            Some("knock") => Self::Knock,
            _ => Self::Unknown,
        }
    }

    /// The membership a member state event gives its user; `Leave` when there is no event, which is how
    /// the rules treat a user who never joined.
    pub(crate) fn of_state(event: Option<&impl Event>) -> Self {
        event.map_or(Self::Leave, |event| {
            match Self::of_content(event.content()) {
                Self::Unknown => Self::Leave,
                known => known,
            }
        })
    }
}

/// A join rule (`content.join_rule` of `m.room.join_rules`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinRule {
    Public,
    Invite,
    Knock,
    Restricted,
    KnockRestricted,
    /// `private` or any other value: nobody may join without an invite.
    Other,
}

impl JoinRule {
    /// Reads the join rule of the state's `m.room.join_rules` event. A room without one has no join
    /// rule, so no join rule clause of the auth rules applies (the spec's reading, and ruma's;
    /// Synapse treats a missing event as `invite`).
    pub(crate) fn of_state(event: Option<&impl Event>) -> Self {
        let Some(event) = event else {
            return Self::Other;
        };
        match event.content().get("join_rule").and_then(Value::as_str) {
            Some("public") => Self::Public,
            Some("invite") => Self::Invite,
            Some("knock") => Self::Knock,
            Some("restricted") => Self::Restricted,
            Some("knock_restricted") => Self::KnockRestricted,
            _ => Self::Other,
        }
    }
}

/// The room creators, read from the create event as the room version defines them: `content.creator`
/// (v1–v10), the sender (v11), the sender plus `content.additional_creators` (v12).
pub(crate) fn room_creators<'a>(rules: &RoomVersionRules, create: &'a impl Event) -> Vec<&'a str> {
    let auth = &rules.authorization;
    if !auth.use_room_create_sender {
        return create
            .content()
            .get("creator")
            .and_then(Value::as_str)
            .into_iter()
            .collect();
    }
    let mut creators = vec![create.sender()];
    if auth.privileged_creators
        && let Some(additional) = create
            .content()
            .get("additional_creators")
            .and_then(Value::as_array)
    {
        creators.extend(additional.iter().filter_map(Value::as_str));
    }
    creators
}

/// The user whose join right after the create event is always allowed (rule 5.3.1): `content.creator`
/// before v11, the create event's sender from v11.
pub(crate) fn original_creator<'a>(
    rules: &RoomVersionRules,
    create: &'a impl Event,
) -> Option<&'a str> {
    if rules.authorization.use_room_create_sender {
        Some(create.sender())
    } else {
        create.content().get("creator").and_then(Value::as_str)
    }
}

/// Whether the create event allows servers other than the creator's to take part (`m.federate`).
/// Only an explicit `false` disables federation.
pub(crate) fn room_is_federated(create: &impl Event) -> bool {
    create.content().get("m.federate") != Some(&Value::Bool(false))
}

/// Whether `user_id` is a syntactically valid user ID (historical grammar, as the spec requires for
/// existing users).
pub(crate) fn is_valid_user_id(user_id: &str) -> bool {
    hearth_types::UserId::parse(user_id).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn malformed_membership_reads_as_unknown_and_missing_state_as_leave() {
        assert_eq!(
            Membership::of_content(&json!({"membership": 5})),
            Membership::Unknown
        );
        assert_eq!(Membership::of_content(&json!({})), Membership::Unknown);
        assert_eq!(
            Membership::of_content(&json!({"membership": "knock"})),
            Membership::Knock
        );
        assert_eq!(
            Membership::of_state(None::<&crate::testing::TestEvent>),
            Membership::Leave
        );
    }

    #[test]
    fn only_an_explicit_false_disables_federation() {
        use crate::testing::TestEvent;
        let create = |content| TestEvent::state("$c", "m.room.create", "", "@a:x", content);
        assert!(room_is_federated(&create(json!({}))));
        assert!(room_is_federated(&create(json!({"m.federate": "false"}))));
        assert!(room_is_federated(&create(json!({"m.federate": true}))));
        assert!(!room_is_federated(&create(json!({"m.federate": false}))));
    }
}

//! The crate's one error type, and [`AuthRule`], the name of every authorization rule that can reject
//! an event.
//!
//! A rejection is an ordinary outcome of the auth rules, not a bug: callers match on
//! [`Error::Rejected`] to decide between "reject", "soft-fail" and "refuse the client's request", and
//! log [`AuthRule`] so that an operator can see *which* rule fired.

use std::fmt;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The event breaks the authorization rule `rule`; `detail` says how, for logs and error messages.
    #[error("event rejected by the authorization rules ({rule}): {detail}")]
    Rejected {
        /// The rule that rejected the event.
        rule: AuthRule,
        /// A short, human-readable explanation.
        detail: String,
    },
    /// An event the check needs (an auth event, the create event of a v12 room) could not be fetched.
    /// The caller should fetch it (e.g. over federation) and try again; this is not a rejection.
    #[error("event {0} is needed but was not provided")]
    MissingEvent(String),
    /// The input exceeds a bound this crate enforces against hostile DAGs.
    #[error("state resolution input too large: {0}")]
    TooLarge(&'static str),
}

impl Error {
    /// The rule that rejected the event, when this is a rejection.
    pub fn rejected_by(&self) -> Option<AuthRule> {
        match self {
            Self::Rejected { rule, .. } => Some(*rule),
            _ => None,
        }
    }

    /// Builds a rejection; kept short because every rule uses it.
    pub(crate) fn reject(rule: AuthRule, detail: impl Into<String>) -> Self {
        Self::Rejected {
            rule,
            detail: detail.into(),
        }
    }
}

/// One rule of the spec's authorization rules (or of the size/format checks on receipt).
///
/// The variant names say what the event did wrong; the doc of each variant cites the rule as numbered
/// in room version 12 (older versions number some rules one lower; v1–v5 have the extra
/// `m.room.aliases` rule, v1–v2 the redaction rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthRule {
    /// A field is longer than the spec allows (`sender`, `room_id`, `state_key`, `type`, `event_id`:
    /// 255 bytes), or the whole PDU exceeds 65 536 bytes.
    SizeLimit,
    /// A required top-level field is missing or malformed (e.g. no `room_id` outside v12 create events).
    Format,
    /// Rule 1.1: the create event has `prev_events`.
    CreateHasPrevEvents,
    /// Rule 1.2 (v1–v11): the domain of the create event's `room_id` is not the sender's.
    CreateRoomIdDomainMismatch,
    /// Rule 1.2 (v12): the create event has a `room_id`.
    CreateHasRoomId,
    /// Rule 1.3: `content.room_version` is present and not a version this server knows.
    CreateUnknownRoomVersion,
    /// Rule 1.4 (v1–v10): `content.creator` is missing.
    CreateMissingCreator,
    /// Rule 1.4 (v12): `content.additional_creators` is not an array of valid user IDs.
    CreateInvalidAdditionalCreators,
    /// Rule 2 (v12): the `room_id` does not name an accepted create event.
    RoomIdNotCreateEvent,
    /// Rule 3.1: two auth events share a `(type, state_key)`.
    DuplicateAuthEvent,
    /// Rule 3.2: an auth event is not one the auth events selection would pick.
    UnexpectedAuthEvent,
    /// Rule 3.3: an auth event was itself rejected.
    RejectedAuthEvent,
    /// Rule 3.4 (v1–v11): no `m.room.create` among the auth events.
    MissingCreateAuthEvent,
    /// Rule 3.5: an auth event belongs to another room.
    AuthEventInOtherRoom,
    /// The state the event is checked against has no create event (it cannot be authorised at all).
    NoCreateEventInState,
    /// Rule 4: the room is not federated (`m.federate: false`) and the sender is from another server.
    RoomNotFederated,
    /// Rule 4 (v1–v5, `m.room.aliases`): no state key, or it is not the sender's server name.
    AliasesStateKeyMismatch,
    /// Rule 5.1: an `m.room.member` event without `state_key` or `content.membership`.
    MemberMissingMembership,
    /// Rule 5.3.2: a join whose sender is not the joining user.
    JoinSenderIsNotTarget,
    /// Rule 5.3.3: the joining user is banned.
    JoinWhileBanned,
    /// Rules 5.3.4–5.3.7: the join rule does not let this user join.
    JoinNotAllowedByJoinRule,
    /// Rule 5.3.5.2: a restricted join whose `join_authorised_via_users_server` is missing, not joined,
    /// or lacks the invite level.
    RestrictedJoinNotAuthorised,
    /// Rule 5.4.1.1: a third-party invite for a banned user.
    ThirdPartyInviteTargetBanned,
    /// Rules 5.4.1.2–5.4.1.4: `third_party_invite.signed` is missing, incomplete, or for another user.
    ThirdPartyInviteMalformed,
    /// Rule 5.4.1.5: no `m.room.third_party_invite` in the state matches the token.
    ThirdPartyInviteNoMatchingToken,
    /// Rule 5.4.1.6: the invite's sender did not send the `m.room.third_party_invite`.
    ThirdPartyInviteSenderMismatch,
    /// Rules 5.4.1.7–5.4.1.8: no signature in `signed` verifies with the invite's public keys.
    ThirdPartyInviteBadSignature,
    /// Rule 5.4.2: the inviter is not joined.
    InviteSenderNotJoined,
    /// Rule 5.4.3: the invitee is already joined or banned.
    InviteTargetJoinedOrBanned,
    /// Rule 5.4.5: the inviter lacks the invite level.
    InviteInsufficientPower,
    /// Rule 5.5.1: a user leaves who is not invited, joined or knocking.
    LeaveWithoutMembership,
    /// Rule 5.5.2: a kick (or unban) by a user who is not joined.
    KickSenderNotJoined,
    /// Rule 5.5.3: an unban by a user below the ban level.
    UnbanInsufficientPower,
    /// Rule 5.5.4–5.5.5: a kick by a user below the kick level or not above the target.
    KickInsufficientPower,
    /// Rule 5.6.1: a ban by a user who is not joined.
    BanSenderNotJoined,
    /// Rule 5.6.2–5.6.3: a ban by a user below the ban level or not above the target.
    BanInsufficientPower,
    /// Rule 5.7.1: knocking where the join rule is not `knock` (or `knock_restricted`).
    KnockNotAllowedByJoinRule,
    /// Rule 5.7.2: a knock sent on behalf of someone else.
    KnockSenderIsNotTarget,
    /// Rule 5.7.3–5.7.4: a knock by a user who is banned, invited or joined.
    KnockInvalidMembership,
    /// Rule 5.8: a membership this room version does not know.
    UnknownMembership,
    /// Rule 6: the sender is not joined.
    SenderNotJoined,
    /// Rule 7: an `m.room.third_party_invite` from a user below the invite level.
    ThirdPartyInviteEventInsufficientPower,
    /// Rule 8: the sender is below the event type's required power level.
    InsufficientPowerForEventType,
    /// Rule 9: a state key that is another user's ID.
    StateKeyIsAnotherUser,
    /// Rules 10.1–10.3: power level content with values that are not integers (or, before v10,
    /// integer strings), or `users` keys that are not user IDs.
    PowerLevelsInvalidContent,
    /// Rule 10.4 (v12): a room creator listed in `users`.
    PowerLevelsListCreator,
    /// Rule 10.6: a change to a top-level level the sender may not make.
    PowerLevelsChangeAboveSender,
    /// Rules 10.7–10.8: a change to `events` or `notifications` the sender may not make.
    PowerLevelsEventsChangeAboveSender,
    /// Rules 10.9–10.10: a change to another user's level the sender may not make.
    PowerLevelsUserChangeAboveSender,
    /// Rule 11 (v1–v2): a redaction by a user below the redact level, of an event from another server.
    RedactionNotAllowed,
}

impl AuthRule {
    /// A short lower-case description, used in logs and in `Display`.
    pub fn description(self) -> &'static str {
        match self {
            Self::SizeLimit => "a field or the event exceeds its size limit",
            Self::Format => "the event is malformed",
            Self::CreateHasPrevEvents => "create event has prev_events",
            Self::CreateRoomIdDomainMismatch => {
                "create event room_id is not on the sender's server"
            }
            Self::CreateHasRoomId => "create event has a room_id",
            Self::CreateUnknownRoomVersion => "create event names an unknown room version",
            Self::CreateMissingCreator => "create event has no creator",
            Self::CreateInvalidAdditionalCreators => "create event has invalid additional_creators",
            Self::RoomIdNotCreateEvent => "room_id does not name an accepted create event",
            Self::DuplicateAuthEvent => "duplicate auth events",
            Self::UnexpectedAuthEvent => "auth event not in the auth events selection",
            Self::RejectedAuthEvent => "auth event was rejected",
            Self::MissingCreateAuthEvent => "no create event among the auth events",
            Self::AuthEventInOtherRoom => "auth event from another room",
            Self::NoCreateEventInState => "no create event in the state",
            Self::RoomNotFederated => "room is not federated",
            Self::AliasesStateKeyMismatch => "m.room.aliases state key is not the sender's server",
            Self::MemberMissingMembership => "member event without state_key or membership",
            Self::JoinSenderIsNotTarget => "cannot join on behalf of another user",
            Self::JoinWhileBanned => "banned user cannot join",
            Self::JoinNotAllowedByJoinRule => "join rule does not allow this join",
            Self::RestrictedJoinNotAuthorised => {
                "restricted join not authorised by a joined inviter"
            }
            Self::ThirdPartyInviteTargetBanned => "third-party invite for a banned user",
            Self::ThirdPartyInviteMalformed => "third-party invite content is malformed",
            Self::ThirdPartyInviteNoMatchingToken => "no third-party invite matches the token",
            Self::ThirdPartyInviteSenderMismatch => "third-party invite sent by someone else",
            Self::ThirdPartyInviteBadSignature => "third-party invite signature does not verify",
            Self::InviteSenderNotJoined => "inviter is not joined",
            Self::InviteTargetJoinedOrBanned => "invitee is joined or banned",
            Self::InviteInsufficientPower => "inviter lacks the invite level",
            Self::LeaveWithoutMembership => {
                "cannot leave without being invited, joined or knocking"
            }
            Self::KickSenderNotJoined => "kicker is not joined",
            Self::UnbanInsufficientPower => "unbanner lacks the ban level",
            Self::KickInsufficientPower => "kicker lacks the kick level or is not above the target",
            Self::BanSenderNotJoined => "banner is not joined",
            Self::BanInsufficientPower => "banner lacks the ban level or is not above the target",
            Self::KnockNotAllowedByJoinRule => "join rule does not allow knocking",
            Self::KnockSenderIsNotTarget => "cannot knock on behalf of another user",
            Self::KnockInvalidMembership => "cannot knock while banned, invited or joined",
            Self::UnknownMembership => "unknown membership",
            Self::SenderNotJoined => "sender is not joined",
            Self::ThirdPartyInviteEventInsufficientPower => "sender lacks the invite level",
            Self::InsufficientPowerForEventType => {
                "sender lacks the power level for this event type"
            }
            Self::StateKeyIsAnotherUser => "state key is another user's ID",
            Self::PowerLevelsInvalidContent => "power levels content is invalid",
            Self::PowerLevelsListCreator => "power levels list a room creator in users",
            Self::PowerLevelsChangeAboveSender => "power level change above the sender's level",
            Self::PowerLevelsEventsChangeAboveSender => {
                "event power level change above the sender's level"
            }
            Self::PowerLevelsUserChangeAboveSender => {
                "user power level change above the sender's level"
            }
            Self::RedactionNotAllowed => "redaction not allowed",
        }
    }
}

impl fmt::Display for AuthRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

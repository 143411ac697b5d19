//! Room versions as data.
//!
//! Every behaviour that differs between room versions is a field of [`RoomVersionRules`]; code asks the
//! rules ("does this version allow knocking?"), never the version string. Each version is one constant,
//! built by struct update from its predecessor, so the difference between two versions reads as a short
//! diff of flags. Sources: the spec's `content/rooms/v1.md` … `v12.md`.

use std::fmt;
use std::str::FromStr;

pub use hearth_crypto::event_id::EventIdFormat;

/// Which state resolution algorithm a room version uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateResolutionVersion {
    /// The original algorithm of room version 1.
    V1,
    /// State resolution v2 (rooms v2–v11).
    V2,
    /// State resolution v2.1 (MSC4297, room v12): iterative auth checks start from an empty state and the
    /// conflicted state subgraph is added to the full conflicted set.
    V2_1,
}

/// Whether a room version is one servers should create rooms with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoomVersionStability {
    /// Fully specified; safe to create rooms with.
    Stable,
    /// Experimental; never the default.
    Unstable,
}

/// The keys kept by the redaction algorithm; each field is one change the spec made to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RedactionRules {
    /// Keep the top-level `origin`, `membership` and `prev_state` keys (v1–v10; dropped by MSC2176/MSC3989 in v11).
    pub keep_origin_membership_prev_state: bool,
    /// Keep `content.aliases` of `m.room.aliases` (v1–v5; dropped by MSC2432 in v6).
    pub keep_room_aliases_aliases: bool,
    /// Keep `content.allow` of `m.room.join_rules` (v8+, restricted rooms).
    pub keep_join_rules_allow: bool,
    /// Keep `content.join_authorised_via_users_server` of `m.room.member` (v9+).
    pub keep_member_join_authorised_via_users_server: bool,
    /// Keep the whole content of `m.room.create` rather than only `creator` (v11+).
    pub keep_all_create_content: bool,
    /// Keep `content.invite` of `m.room.power_levels` (v11+).
    pub keep_power_levels_invite: bool,
    /// Keep `content.redacts` of `m.room.redaction` (v11+, where `redacts` moved into content).
    pub keep_redaction_redacts: bool,
    /// Keep `content.third_party_invite.signed` of `m.room.member` (v11+, MSC3821).
    pub keep_member_third_party_invite_signed: bool,
}

/// Switches for the authorization rules; each is named after the behaviour it enables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuthorizationRules {
    /// `m.room.aliases` events are authorised by the sender's server matching the state key (v1–v5).
    pub special_case_room_aliases: bool,
    /// `m.room.redaction` events are authorised by the auth rules against the redact level or by
    /// matching event-ID domains (v1–v2); from v3 the check moves to "handling redactions".
    pub redaction_checked_by_auth_rules: bool,
    /// The `notifications` key of `m.room.power_levels` is subject to the power-level change rules (v6+).
    pub limit_notifications_power_levels: bool,
    /// The `knock` membership and join rule exist (v7+).
    pub knocking: bool,
    /// The `restricted` join rule exists (v8+).
    pub restricted_join_rule: bool,
    /// The `knock_restricted` join rule exists (v10+).
    pub knock_restricted_join_rule: bool,
    /// Power levels must be integers, not strings or floats (v10+).
    pub integer_power_levels: bool,
    /// The room creator is the `sender` of `m.room.create`; the `creator` content key is gone (v11+).
    pub use_room_create_sender: bool,
    /// Room creators (create sender + `additional_creators`) have infinite power and may not appear in
    /// `users` of power levels (v12+).
    pub privileged_creators: bool,
    /// The room ID is `!` + the create event's reference hash; the create event has no `room_id` and is
    /// never listed in `auth_events` (v12+).
    pub room_id_is_create_event_hash: bool,
}

/// Everything that differs between room versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RoomVersionRules {
    /// The version string as it appears in `m.room.create` and on the wire.
    pub id: &'static str,
    /// Stable or experimental.
    pub stability: RoomVersionStability,
    /// How event IDs are made: random (v1–v2) or from the reference hash (v3+).
    pub event_id_format: EventIdFormat,
    /// Which state resolution algorithm applies.
    pub state_resolution: StateResolutionVersion,
    /// Signatures must be made with keys valid at the event's `origin_server_ts` (v5+).
    pub enforce_key_validity: bool,
    /// Event JSON must be strict canonical JSON: integers in ±(2^53−1), no floats (v6+).
    pub strict_canonical_json: bool,
    /// `m.room.redaction` carries the redacted event's ID in `content.redacts` rather than a top-level
    /// `redacts` (v11+, MSC2174).
    pub redacts_in_content: bool,
    /// The redaction algorithm.
    pub redaction: RedactionRules,
    /// The authorization rules.
    pub authorization: AuthorizationRules,
}

impl RoomVersionRules {
    /// Room version 1: the original.
    pub const V1: Self = Self {
        id: "1",
        stability: RoomVersionStability::Stable,
        event_id_format: EventIdFormat::V1Random,
        state_resolution: StateResolutionVersion::V1,
        enforce_key_validity: false,
        strict_canonical_json: false,
        redacts_in_content: false,
        redaction: RedactionRules {
            keep_origin_membership_prev_state: true,
            keep_room_aliases_aliases: true,
            keep_join_rules_allow: false,
            keep_member_join_authorised_via_users_server: false,
            keep_all_create_content: false,
            keep_power_levels_invite: false,
            keep_redaction_redacts: false,
            keep_member_third_party_invite_signed: false,
        },
        authorization: AuthorizationRules {
            special_case_room_aliases: true,
            redaction_checked_by_auth_rules: true,
            limit_notifications_power_levels: false,
            knocking: false,
            restricted_join_rule: false,
            knock_restricted_join_rule: false,
            integer_power_levels: false,
            use_room_create_sender: false,
            privileged_creators: false,
            room_id_is_create_event_hash: false,
        },
    };

    /// Room version 2: state resolution v2.
    pub const V2: Self = Self {
        id: "2",
        state_resolution: StateResolutionVersion::V2,
        ..Self::V1
    };

    /// Room version 3: event IDs are reference hashes; redactions are checked when applied, not by auth.
    pub const V3: Self = Self {
        id: "3",
        event_id_format: EventIdFormat::Base64,
        authorization: AuthorizationRules {
            redaction_checked_by_auth_rules: false,
            ..Self::V2.authorization
        },
        ..Self::V2
    };

    /// Room version 4: URL-safe event IDs.
    pub const V4: Self = Self {
        id: "4",
        event_id_format: EventIdFormat::UrlSafeBase64,
        ..Self::V3
    };

    /// Room version 5: signing key validity periods are enforced.
    pub const V5: Self = Self {
        id: "5",
        enforce_key_validity: true,
        ..Self::V4
    };

    /// Room version 6: strict canonical JSON, no alias special case, `notifications` power levels checked.
    pub const V6: Self = Self {
        id: "6",
        strict_canonical_json: true,
        redaction: RedactionRules {
            keep_room_aliases_aliases: false,
            ..Self::V5.redaction
        },
        authorization: AuthorizationRules {
            special_case_room_aliases: false,
            limit_notifications_power_levels: true,
            ..Self::V5.authorization
        },
        ..Self::V5
    };

    /// Room version 7: knocking.
    pub const V7: Self = Self {
        id: "7",
        authorization: AuthorizationRules {
            knocking: true,
            ..Self::V6.authorization
        },
        ..Self::V6
    };

    /// Room version 8: restricted join rules.
    pub const V8: Self = Self {
        id: "8",
        redaction: RedactionRules {
            keep_join_rules_allow: true,
            ..Self::V7.redaction
        },
        authorization: AuthorizationRules {
            restricted_join_rule: true,
            ..Self::V7.authorization
        },
        ..Self::V7
    };

    /// Room version 9: redaction keeps `join_authorised_via_users_server`.
    pub const V9: Self = Self {
        id: "9",
        redaction: RedactionRules {
            keep_member_join_authorised_via_users_server: true,
            ..Self::V8.redaction
        },
        ..Self::V8
    };

    /// Room version 10: `knock_restricted` and integer-only power levels.
    pub const V10: Self = Self {
        id: "10",
        authorization: AuthorizationRules {
            knock_restricted_join_rule: true,
            integer_power_levels: true,
            ..Self::V9.authorization
        },
        ..Self::V9
    };

    /// Room version 11: redaction clean-up (MSC2176, MSC3821, MSC3989), `redacts` in content, no `creator`.
    pub const V11: Self = Self {
        id: "11",
        redacts_in_content: true,
        redaction: RedactionRules {
            keep_origin_membership_prev_state: false,
            keep_all_create_content: true,
            keep_power_levels_invite: true,
            keep_redaction_redacts: true,
            keep_member_third_party_invite_signed: true,
            ..Self::V10.redaction
        },
        authorization: AuthorizationRules {
            use_room_create_sender: true,
            ..Self::V10.authorization
        },
        ..Self::V10
    };

    /// Room version 12: privileged creators (MSC4289), room ID from the create event (MSC4291), state
    /// resolution v2.1 (MSC4297).
    pub const V12: Self = Self {
        id: "12",
        state_resolution: StateResolutionVersion::V2_1,
        authorization: AuthorizationRules {
            privileged_creators: true,
            room_id_is_create_event_hash: true,
            ..Self::V11.authorization
        },
        ..Self::V11
    };

    /// Every room version Hearth knows, oldest first.
    pub const ALL: [Self; 12] = [
        Self::V1,
        Self::V2,
        Self::V3,
        Self::V4,
        Self::V5,
        Self::V6,
        Self::V7,
        Self::V8,
        Self::V9,
        Self::V10,
        Self::V11,
        Self::V12,
    ];

    /// The version new rooms get unless the client or config asks otherwise.
    pub const DEFAULT: Self = Self::V12;

    /// Looks up the rules for a version string; `None` for versions Hearth does not know.
    pub fn get(id: &str) -> Option<&'static Self> {
        Self::ALL_REF.iter().find(|rules| rules.id == id)
    }

    /// Static storage for [`Self::get`], so callers receive `&'static` rules.
    const ALL_REF: &'static [Self; 12] = &Self::ALL;

    /// Whether the event format carries an explicit `event_id` (v1–v2) rather than deriving it.
    pub fn has_event_id_field(&self) -> bool {
        matches!(self.event_id_format, EventIdFormat::V1Random)
    }
}

/// A room version identifier as found on the wire, known or not.
///
/// Unknown versions are representable because remote servers may advertise them; [`RoomVersionId::rules`]
/// answers `None` for them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomVersionId(String);

impl RoomVersionId {
    /// The spec's grammar: 1–32 characters of `[a-z0-9.-]`.
    pub fn parse(s: &str) -> Result<Self, crate::IdError> {
        if s.is_empty() || s.len() > 32 {
            return Err(crate::IdError::InvalidLength);
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(crate::IdError::InvalidCharacter);
        }
        Ok(Self(s.to_owned()))
    }

    /// The rules for this version, if Hearth implements it.
    pub fn rules(&self) -> Option<&'static RoomVersionRules> {
        RoomVersionRules::get(&self.0)
    }

    /// The version string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomVersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RoomVersionId {
    type Err = crate::IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_is_found_by_its_id_and_ids_are_ordered() {
        for (index, rules) in RoomVersionRules::ALL.iter().enumerate() {
            assert_eq!(rules.id, (index + 1).to_string());
            assert_eq!(RoomVersionRules::get(rules.id), Some(rules));
        }
        assert_eq!(RoomVersionRules::get("13"), None);
        assert_eq!(RoomVersionRules::get("org.matrix.msc1234"), None);
    }

    #[test]
    fn default_version_is_twelve() {
        assert_eq!(RoomVersionRules::DEFAULT.id, "12");
    }

    #[test]
    fn event_id_formats_follow_the_spec() {
        assert_eq!(
            RoomVersionRules::V1.event_id_format,
            EventIdFormat::V1Random
        );
        assert_eq!(
            RoomVersionRules::V2.event_id_format,
            EventIdFormat::V1Random
        );
        assert_eq!(RoomVersionRules::V3.event_id_format, EventIdFormat::Base64);
        for rules in &RoomVersionRules::ALL[3..] {
            assert_eq!(
                rules.event_id_format,
                EventIdFormat::UrlSafeBase64,
                "v{}",
                rules.id
            );
        }
    }

    #[test]
    fn state_resolution_versions_follow_the_spec() {
        assert_eq!(
            RoomVersionRules::V1.state_resolution,
            StateResolutionVersion::V1
        );
        for rules in &RoomVersionRules::ALL[1..11] {
            assert_eq!(
                rules.state_resolution,
                StateResolutionVersion::V2,
                "v{}",
                rules.id
            );
        }
        assert_eq!(
            RoomVersionRules::V12.state_resolution,
            StateResolutionVersion::V2_1
        );
    }

    #[test]
    fn each_flag_switches_on_in_the_version_that_introduced_it() {
        let first = |pred: fn(&RoomVersionRules) -> bool| {
            RoomVersionRules::ALL.iter().find(|r| pred(r)).map(|r| r.id)
        };
        assert_eq!(first(|r| r.enforce_key_validity), Some("5"));
        assert_eq!(first(|r| r.strict_canonical_json), Some("6"));
        assert_eq!(first(|r| r.redacts_in_content), Some("11"));
        assert_eq!(
            first(|r| r.authorization.limit_notifications_power_levels),
            Some("6")
        );
        assert_eq!(
            first(|r| !r.authorization.special_case_room_aliases),
            Some("6")
        );
        assert_eq!(
            first(|r| !r.authorization.redaction_checked_by_auth_rules),
            Some("3")
        );
        assert_eq!(first(|r| r.authorization.knocking), Some("7"));
        assert_eq!(first(|r| r.authorization.restricted_join_rule), Some("8"));
        assert_eq!(
            first(|r| r.authorization.knock_restricted_join_rule),
            Some("10")
        );
        assert_eq!(first(|r| r.authorization.integer_power_levels), Some("10"));
        assert_eq!(
            first(|r| r.authorization.use_room_create_sender),
            Some("11")
        );
        assert_eq!(first(|r| r.authorization.privileged_creators), Some("12"));
        assert_eq!(
            first(|r| r.authorization.room_id_is_create_event_hash),
            Some("12")
        );
        assert_eq!(first(|r| r.redaction.keep_join_rules_allow), Some("8"));
        assert_eq!(
            first(|r| r.redaction.keep_member_join_authorised_via_users_server),
            Some("9")
        );
        assert_eq!(first(|r| r.redaction.keep_all_create_content), Some("11"));
        assert_eq!(
            first(|r| !r.redaction.keep_origin_membership_prev_state),
            Some("11")
        );
        assert_eq!(first(|r| !r.redaction.keep_room_aliases_aliases), Some("6"));
    }

    #[test]
    fn flags_never_switch_back_off_in_later_versions() {
        // Once a version turns a feature on, every later version keeps it: rules only accumulate.
        for pair in RoomVersionRules::ALL.windows(2) {
            let (old, new) = (&pair[0], &pair[1]);
            let monotone = |a: bool, b: bool| !a || b;
            assert!(monotone(
                old.strict_canonical_json,
                new.strict_canonical_json
            ));
            assert!(monotone(
                old.authorization.knocking,
                new.authorization.knocking
            ));
            assert!(monotone(
                old.authorization.integer_power_levels,
                new.authorization.integer_power_levels
            ));
            assert!(monotone(
                old.redaction.keep_all_create_content,
                new.redaction.keep_all_create_content
            ));
        }
    }

    #[test]
    fn room_version_ids_follow_the_grammar() {
        assert!(RoomVersionId::parse("12").is_ok());
        assert!(RoomVersionId::parse("org.matrix.msc4289").is_ok());
        assert!(RoomVersionId::parse("").is_err());
        assert!(RoomVersionId::parse("V12").is_err());
        assert!(RoomVersionId::parse(&"1".repeat(33)).is_err());
        assert_eq!(
            RoomVersionId::parse("11").ok().and_then(|v| v.rules()),
            Some(&RoomVersionRules::V11)
        );
        assert_eq!(
            RoomVersionId::parse("99").ok().and_then(|v| v.rules()),
            None
        );
    }
}

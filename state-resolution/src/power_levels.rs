//! Reading `m.room.power_levels` content, with the value formats each room version allows.
//!
//! Room versions 1–9 accept integer strings (`" +100 "`), versions 1–5 also floats (truncated); v10+
//! accept JSON integers only. [`PowerLevels::from_state`] reads an event already in the room state
//! leniently (an unreadable value counts as absent); [`PowerLevels::validate_new`] checks a new event
//! against rules 10.1–10.3 and rejects it when a level the rules compare cannot be read.

use std::collections::BTreeMap;
use std::rc::Rc;

use hearth_types::RoomVersionRules;
use serde_json::{Map, Value};

use crate::content::is_valid_user_id;
use crate::error::{AuthRule, Error};

/// A user's power level. Room creators in v12 have infinite power, above every integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UserPower {
    /// An ordinary power level.
    Level(i64),
    /// A v12 room creator.
    Infinite,
}

impl UserPower {
    /// Whether this power reaches `level` (`>=`).
    pub fn at_least(self, level: i64) -> bool {
        self >= Self::Level(level)
    }
}

/// The top-level integer levels of `m.room.power_levels`, with the spec's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LevelField {
    UsersDefault,
    EventsDefault,
    StateDefault,
    Ban,
    Redact,
    Kick,
    Invite,
}

impl LevelField {
    pub(crate) const ALL: [Self; 7] = [
        Self::UsersDefault,
        Self::EventsDefault,
        Self::StateDefault,
        Self::Ban,
        Self::Redact,
        Self::Kick,
        Self::Invite,
    ];

    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::UsersDefault => "users_default",
            Self::EventsDefault => "events_default",
            Self::StateDefault => "state_default",
            Self::Ban => "ban",
            Self::Redact => "redact",
            Self::Kick => "kick",
            Self::Invite => "invite",
        }
    }

    /// The value used when the field (or the whole power levels event) is absent.
    pub(crate) fn default_level(self) -> i64 {
        match self {
            Self::UsersDefault | Self::EventsDefault | Self::Invite => 0,
            Self::StateDefault | Self::Ban | Self::Redact | Self::Kick => 50,
        }
    }
}

/// Parses one power level value in the formats `rules` allows; `None` when it is not one.
pub(crate) fn parse_level(rules: &RoomVersionRules, value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => {
            if let Some(level) = number.as_i64() {
                Some(level)
            } else if rules.strict_canonical_json || rules.authorization.integer_power_levels {
                None
            } else {
                // Floaty power levels (v1–v5): truncate; values beyond i64 saturate, which keeps their
                // order against every level a real room uses.
                number
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.trunc() as i64)
            }
        }
        Value::String(text) if !rules.authorization.integer_power_levels => {
            parse_stringy_level(text)
        }
        _ => None,
    }
}

/// The v1–v9 string form: optional surrounding whitespace, an optional single sign, decimal digits
/// (leading zeros allowed). Values beyond `i64` saturate.
fn parse_stringy_level(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.as_bytes().first()? {
        b'-' => (true, &trimmed[1..]),
        b'+' => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut level: i64 = 0;
    for digit in digits.bytes() {
        let d = i64::from(digit - b'0');
        level = level.saturating_mul(10);
        level = if negative {
            level.saturating_sub(d)
        } else {
            level.saturating_add(d)
        };
    }
    Some(level)
}

/// The auth-relevant content of one `m.room.power_levels` event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PowerLevels {
    pub(crate) fields: BTreeMap<LevelField, i64>,
    pub(crate) users: BTreeMap<String, i64>,
    pub(crate) events: BTreeMap<String, i64>,
    pub(crate) notifications: BTreeMap<String, i64>,
}

impl PowerLevels {
    /// Reads a power levels event that is already part of the state: anything unreadable is skipped.
    pub(crate) fn from_state(rules: &RoomVersionRules, content: &Value) -> Self {
        let empty = Map::new();
        let object = content.as_object().unwrap_or(&empty);
        let map = |key: &str| -> BTreeMap<String, i64> {
            object
                .get(key)
                .and_then(Value::as_object)
                .map(|entries| {
                    entries
                        .iter()
                        .filter_map(|(k, v)| parse_level(rules, v).map(|level| (k.clone(), level)))
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            fields: LevelField::ALL
                .iter()
                .filter_map(|field| {
                    object
                        .get(field.key())
                        .and_then(|v| parse_level(rules, v))
                        .map(|level| (*field, level))
                })
                .collect(),
            users: map("users"),
            events: map("events"),
            notifications: map("notifications"),
        }
    }

    /// Validates the content of a new power levels event (rules 10.1–10.3) and reads it.
    ///
    /// All versions require `users` to map valid user IDs to levels. Every other level the rules
    /// compare must be readable too: v10+ says so explicitly (integers only); for v1–v9 an unreadable
    /// level makes the change rules undefined, so such an event is rejected as well (as Synapse and
    /// ruma do). `notifications` is only checked where the rules use it (v6+).
    pub(crate) fn validate_new(rules: &RoomVersionRules, content: &Value) -> Result<Self, Error> {
        let invalid = |what: String| Error::reject(AuthRule::PowerLevelsInvalidContent, what);
        let empty = Map::new();
        let object = content.as_object().unwrap_or(&empty);
        let mut levels = Self::default();
        for field in LevelField::ALL {
            if let Some(value) = object.get(field.key()) {
                let level = parse_level(rules, value)
                    .ok_or_else(|| invalid(format!("`{}` is not a power level", field.key())))?;
                levels.fields.insert(field, level);
            }
        }
        let read_map = |key: &str, check_keys: bool| -> Result<BTreeMap<String, i64>, Error> {
            let Some(value) = object.get(key) else {
                return Ok(BTreeMap::new());
            };
            let entries = value
                .as_object()
                .ok_or_else(|| invalid(format!("`{key}` is not an object")))?;
            entries
                .iter()
                .map(|(k, v)| {
                    if check_keys && !is_valid_user_id(k) {
                        return Err(invalid(format!("`{key}` has an invalid user ID `{k}`")));
                    }
                    parse_level(rules, v)
                        .map(|level| (k.clone(), level))
                        .ok_or_else(|| invalid(format!("`{key}.{k}` is not a power level")))
                })
                .collect()
        };
        levels.users = read_map("users", true)?;
        levels.events = read_map("events", false)?;
        if rules.authorization.limit_notifications_power_levels
            || rules.authorization.integer_power_levels
        {
            levels.notifications = read_map("notifications", false)?;
        }
        Ok(levels)
    }

    /// A top-level level, or its default.
    pub(crate) fn level(&self, field: LevelField) -> i64 {
        self.fields
            .get(&field)
            .copied()
            .unwrap_or_else(|| field.default_level())
    }
}

/// The power levels in force: the state's power levels event (if any) and the room creators.
pub(crate) struct PowerContext<'a> {
    pub(crate) levels: Option<Rc<PowerLevels>>,
    pub(crate) creators: Vec<&'a str>,
    pub(crate) creators_are_privileged: bool,
}

impl PowerContext<'_> {
    /// A user's power: infinite for v12 creators; else their `users` entry or `users_default`; with no
    /// power levels event, 100 for the creator and 0 for everyone else.
    pub(crate) fn user_power(&self, user_id: &str) -> UserPower {
        let is_creator = self.creators.contains(&user_id);
        if self.creators_are_privileged && is_creator {
            return UserPower::Infinite;
        }
        UserPower::Level(match &self.levels {
            Some(levels) => levels
                .users
                .get(user_id)
                .copied()
                .unwrap_or_else(|| levels.level(LevelField::UsersDefault)),
            None if is_creator => 100,
            None => 0,
        })
    }

    /// A top-level level in force, or its default.
    pub(crate) fn level(&self, field: LevelField) -> i64 {
        self.levels
            .as_ref()
            .map_or_else(|| field.default_level(), |levels| levels.level(field))
    }

    /// The required power level for sending an event of this type (rule 8).
    pub(crate) fn required_for_event(&self, event_type: &str, is_state: bool) -> i64 {
        if let Some(level) = self.levels.as_ref().and_then(|l| l.events.get(event_type)) {
            return *level;
        }
        self.level(if is_state {
            LevelField::StateDefault
        } else {
            LevelField::EventsDefault
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const V1: RoomVersionRules = RoomVersionRules::V1;
    const V6: RoomVersionRules = RoomVersionRules::V6;
    const V10: RoomVersionRules = RoomVersionRules::V10;

    #[test]
    fn stringy_levels_follow_the_v1_grammar() {
        for (text, expected) in [
            ("100", Some(100)),
            ("000100", Some(100)),
            ("+100", Some(100)),
            ("-100", Some(-100)),
            (" 100 ", Some(100)),
            (" +0100\n", Some(100)),
            ("1.5", None),
            ("1e3", None),
            ("++1", None),
            ("", None),
            ("abc", None),
            ("1_000", None),
        ] {
            assert_eq!(parse_level(&V1, &json!(text)), expected, "{text:?}");
        }
    }

    #[test]
    fn floats_are_truncated_only_before_canonical_json() {
        assert_eq!(parse_level(&V1, &json!(50.57)), Some(50));
        assert_eq!(parse_level(&V1, &json!(5.114698E4)), Some(51146));
        assert_eq!(parse_level(&V1, &json!(-1.5)), Some(-1));
        assert_eq!(parse_level(&V6, &json!(50.5)), None);
        assert_eq!(parse_level(&V6, &json!("50")), Some(50));
    }

    #[test]
    fn v10_accepts_integers_only() {
        assert_eq!(parse_level(&V10, &json!(50)), Some(50));
        assert_eq!(parse_level(&V10, &json!("50")), None);
        assert_eq!(parse_level(&V10, &json!(50.0)), None);
        assert_eq!(parse_level(&V10, &json!(true)), None);
    }

    #[test]
    fn state_power_levels_skip_unreadable_values() {
        let levels = PowerLevels::from_state(
            &V10,
            &json!({"ban": "oops", "kick": 10, "users": {"@a:x": 5, "@b:x": "7"}, "events": []}),
        );
        assert_eq!(levels.level(LevelField::Ban), 50);
        assert_eq!(levels.level(LevelField::Kick), 10);
        assert_eq!(levels.users.len(), 1);
        assert!(levels.events.is_empty());
    }

    #[test]
    fn new_power_levels_must_be_readable() {
        let reject = |rules: &RoomVersionRules, content| {
            PowerLevels::validate_new(rules, &content)
                .err()
                .and_then(|e| e.rejected_by())
        };
        let bad = Some(AuthRule::PowerLevelsInvalidContent);
        assert_eq!(reject(&V10, json!({"ban": "50"})), bad);
        assert_eq!(reject(&V10, json!({"events": {"m.room.name": "50"}})), bad);
        assert_eq!(reject(&V10, json!({"notifications": {"room": 5.5}})), bad);
        assert_eq!(reject(&V10, json!({"users": {"not-a-user": 5}})), bad);
        assert_eq!(reject(&V10, json!({"users": []})), bad);
        assert_eq!(
            reject(&V1, json!({"users": {"@a:x": "50"}, "ban": " 5 "})),
            None
        );
        assert_eq!(reject(&V1, json!({"users": {"@a:x": "fifty"}})), bad);
        // Before v6 `notifications` is not part of the rules, so garbage there is ignored.
        assert_eq!(reject(&V1, json!({"notifications": "garbage"})), None);
        assert_eq!(reject(&V6, json!({"notifications": "garbage"})), bad);
    }

    #[test]
    fn creators_have_infinite_power_only_when_privileged() {
        let context = |privileged, levels| PowerContext {
            levels,
            creators: vec!["@c:x"],
            creators_are_privileged: privileged,
        };
        assert_eq!(context(true, None).user_power("@c:x"), UserPower::Infinite);
        assert_eq!(
            context(false, None).user_power("@c:x"),
            UserPower::Level(100)
        );
        assert_eq!(context(false, None).user_power("@d:x"), UserPower::Level(0));
        let levels = Rc::new(PowerLevels::from_state(&V10, &json!({"users_default": 3})));
        assert_eq!(
            context(false, Some(levels)).user_power("@c:x"),
            UserPower::Level(3)
        );
        assert!(UserPower::Infinite > UserPower::Level(i64::MAX));
    }
}

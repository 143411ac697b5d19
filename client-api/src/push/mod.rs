//! Push rule evaluation (spec: "Push Notifications", "Push Rules"): which of a user's rules an event matches,
//! and so whether it notifies and highlights. Pure: the caller passes the event, the user's rule set (the
//! content of their `m.push_rules` account data) and the few facts about the room the conditions need.
//!
//! Kinds are checked in the spec's order — `override`, `content`, `room`, `sender`, `underride` — and within a
//! kind in list order; the first enabled rule whose conditions all hold decides. Unknown condition kinds never
//! match (the spec's rule), historical actions (`dont_notify`, `coalesce`) are ignored, and an event the user
//! sent themselves never matches.

mod defaults;
pub mod glob;

pub use defaults::default_rules;

use serde_json::Value;

use glob::Glob;

/// The rule kinds in the order they are checked.
pub const KINDS: [&str; 5] = ["override", "content", "room", "sender", "underride"];

/// What the conditions need to know about the room, as of the event.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoomContext<'a> {
    /// The user whose rules these are.
    pub user_id: &'a str,
    /// Their display name in the room (from their member event), for `contains_display_name`.
    pub display_name: Option<&'a str>,
    /// Joined members, for `room_member_count`.
    pub member_count: u64,
    /// The `m.room.power_levels` content, for `sender_notification_permission`.
    pub power_levels: Option<&'a Value>,
    /// Users with unlimited power whatever the power levels say (room v12 creators).
    pub privileged_creators: &'a [&'a str],
}

/// The rule that decided, and its actions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatchedRule<'a> {
    /// Its kind (`override`, …).
    pub kind: &'static str,
    /// Its ID.
    pub rule_id: &'a str,
    /// Its actions, as stored.
    pub actions: &'a [Value],
}

impl MatchedRule<'_> {
    /// Whether the actions include `notify`.
    pub fn notifies(&self) -> bool {
        self.actions.iter().any(|action| action == "notify")
    }

    /// Whether the actions set the `highlight` tweak to true (no `value` means true).
    pub fn highlights(&self) -> bool {
        self.actions.iter().any(|action| {
            action["set_tweak"] == "highlight" && action.get("value").is_none_or(|v| v == true)
        })
    }
}

/// The first rule of `rules` (an `m.push_rules` content, `{"global": {…}}`) that `event` (a client-format
/// event with `type`, `sender`, `room_id`, `content`, …) matches for `room.user_id`; `None` when none does.
pub fn evaluate<'a>(
    rules: &'a Value,
    event: &Value,
    room: &RoomContext<'_>,
) -> Option<MatchedRule<'a>> {
    if event["sender"] == room.user_id {
        return None;
    }
    let global = &rules["global"];
    for kind in KINDS {
        let Some(list) = global[kind].as_array() else {
            continue;
        };
        for rule in list {
            if rule.get("enabled").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let Some(rule_id) = rule["rule_id"].as_str() else {
                continue;
            };
            if rule_matches(kind, rule, rule_id, event, room) {
                let actions = rule["actions"].as_array().map_or(&[][..], Vec::as_slice);
                return Some(MatchedRule {
                    kind,
                    rule_id,
                    actions,
                });
            }
        }
    }
    None
}

fn rule_matches(
    kind: &str,
    rule: &Value,
    rule_id: &str,
    event: &Value,
    room: &RoomContext<'_>,
) -> bool {
    match kind {
        "override" | "underride" => match rule.get("conditions") {
            None => true,
            Some(Value::Array(conditions)) => conditions
                .iter()
                .all(|condition| condition_holds(condition, event, room)),
            Some(_) => false,
        },
        "content" => {
            let (Some(pattern), Some(body)) =
                (rule["pattern"].as_str(), event["content"]["body"].as_str())
            else {
                return false;
            };
            Glob::new(pattern).is_some_and(|glob| glob.matches_words(body))
        }
        "room" => event["room_id"] == rule_id,
        "sender" => event["sender"] == rule_id,
        _ => false,
    }
}

/// Whether one condition holds; unknown kinds and malformed conditions do not.
pub fn condition_holds(condition: &Value, event: &Value, room: &RoomContext<'_>) -> bool {
    match condition["kind"].as_str() {
        Some("event_match") => {
            let (Some(key), Some(pattern)) =
                (condition["key"].as_str(), condition["pattern"].as_str())
            else {
                return false;
            };
            let Some(value) = property(event, key).and_then(Value::as_str) else {
                return false;
            };
            let Some(glob) = Glob::new(pattern) else {
                return false;
            };
            if key == "content.body" {
                glob.matches_words(value)
            } else {
                glob.matches_whole(value)
            }
        }
        Some("event_property_is") => {
            let (Some(key), Some(expected)) = (condition["key"].as_str(), condition.get("value"))
            else {
                return false;
            };
            is_scalar(expected) && property(event, key).is_some_and(|value| value == expected)
        }
        Some("event_property_contains") => {
            let (Some(key), Some(expected)) = (condition["key"].as_str(), condition.get("value"))
            else {
                return false;
            };
            is_scalar(expected)
                && property(event, key)
                    .and_then(Value::as_array)
                    .is_some_and(|values| {
                        values
                            .iter()
                            .any(|value| is_scalar(value) && value == expected)
                    })
        }
        Some("contains_display_name") => {
            let (Some(name), Some(body)) = (room.display_name, event["content"]["body"].as_str())
            else {
                return false;
            };
            !name.is_empty() && Glob::literal(name).is_some_and(|glob| glob.matches_words(body))
        }
        Some("room_member_count") => condition["is"]
            .as_str()
            .and_then(parse_member_count)
            .is_some_and(|(comparison, bound)| comparison.holds(room.member_count, bound)),
        Some("sender_notification_permission") => {
            let (Some(key), Some(sender)) = (condition["key"].as_str(), event["sender"].as_str())
            else {
                return false;
            };
            sender_may_notify(room, sender, key)
        }
        _ => false,
    }
}

/// Strings, booleans, null and integers in the canonical-JSON range: what exact-match conditions compare.
fn is_scalar(value: &Value) -> bool {
    const MAX_SAFE: i64 = (1 << 53) - 1;
    match value {
        Value::String(_) | Value::Bool(_) | Value::Null => true,
        Value::Number(number) => number
            .as_i64()
            .is_some_and(|n| (-MAX_SAFE..=MAX_SAFE).contains(&n)),
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// The value at a dot-separated property path (`content.m\.relates_to.rel_type`; `\.` is a literal dot, `\\` a
/// literal backslash, any other `\x` stays as it is).
pub fn property<'v>(event: &'v Value, path: &str) -> Option<&'v Value> {
    let mut value = event;
    for segment in split_path(path) {
        value = value.as_object()?.get(&segment)?;
    }
    Some(value)
}

fn split_path(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&escaped @ ('.' | '\\')) => {
                    current.push(escaped);
                    chars.next();
                }
                _ => current.push('\\'),
            },
            '.' => segments.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    segments.push(current);
    segments
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comparison {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    fn holds(self, count: u64, bound: u64) -> bool {
        match self {
            Self::Equal => count == bound,
            Self::Less => count < bound,
            Self::LessOrEqual => count <= bound,
            Self::Greater => count > bound,
            Self::GreaterOrEqual => count >= bound,
        }
    }
}

/// `is` of `room_member_count`: a decimal integer with an optional `==`, `<`, `>`, `>=` or `<=` prefix.
fn parse_member_count(is: &str) -> Option<(Comparison, u64)> {
    let (comparison, number) = if let Some(rest) = is.strip_prefix("==") {
        (Comparison::Equal, rest)
    } else if let Some(rest) = is.strip_prefix("<=") {
        (Comparison::LessOrEqual, rest)
    } else if let Some(rest) = is.strip_prefix(">=") {
        (Comparison::GreaterOrEqual, rest)
    } else if let Some(rest) = is.strip_prefix('<') {
        (Comparison::Less, rest)
    } else if let Some(rest) = is.strip_prefix('>') {
        (Comparison::Greater, rest)
    } else {
        (Comparison::Equal, is)
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((comparison, number.parse().ok()?))
}

/// A power level as stored: an integer, or (old rooms) a string holding one.
fn level(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// `sender_notification_permission`: the sender's power level reaches `notifications.<key>` (default 50).
fn sender_may_notify(room: &RoomContext<'_>, sender: &str, key: &str) -> bool {
    if room.privileged_creators.contains(&sender) {
        return true;
    }
    let Some(power_levels) = room.power_levels else {
        return false;
    };
    let required = power_levels["notifications"]
        .get(key)
        .and_then(level)
        .unwrap_or(50);
    let sender_level = power_levels["users"]
        .get(sender)
        .and_then(level)
        .or_else(|| power_levels.get("users_default").and_then(level))
        .unwrap_or(0);
    sender_level >= required
}

#[cfg(test)]
mod tests;

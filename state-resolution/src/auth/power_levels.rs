//! Rule 10: `m.room.power_levels` events — content validation and who may change which level.

use std::collections::{BTreeMap, BTreeSet};

use hearth_types::RoomVersionRules;

use crate::error::{AuthRule, Error};
use crate::event::Event;
use crate::power_levels::{LevelField, PowerContext, PowerLevels, UserPower};

/// Checks a new power levels event (rules 10.1–10.10) against the power levels in force.
///
/// "Added, changed or removed" compares the values written in the two events: a level that is absent
/// from one of them has no "current"/"new" value to compare (Synapse's reading, and the one the spec
/// discussion in matrix-spec#1267 assumes); defaults do not take part.
pub(super) fn check_power_levels_change(
    rules: &RoomVersionRules,
    event: &impl Event,
    power: &PowerContext<'_>,
    sender_power: UserPower,
) -> Result<(), Error> {
    // 10.1–10.3
    let new = PowerLevels::validate_new(rules, event.content())?;
    // 10.4 (v12): creators may not be listed.
    if rules.authorization.privileged_creators
        && let Some(creator) = power.creators.iter().find(|c| new.users.contains_key(**c))
    {
        return Err(Error::reject(
            AuthRule::PowerLevelsListCreator,
            format!("room creator {creator} may not appear in users"),
        ));
    }
    // 10.5
    let Some(current) = &power.levels else {
        return Ok(());
    };
    let above_sender = |level: i64| UserPower::Level(level) > sender_power;

    // 10.6: top-level levels.
    for field in LevelField::ALL {
        let (old, new) = (current.fields.get(&field), new.fields.get(&field));
        if old != new
            && (old.is_some_and(|l| above_sender(*l)) || new.is_some_and(|l| above_sender(*l)))
        {
            return Err(Error::reject(
                AuthRule::PowerLevelsChangeAboveSender,
                format!("cannot change `{}` above the sender's level", field.key()),
            ));
        }
    }

    // 10.7–10.8: `events`, and `notifications` where the version limits it.
    let mut maps = vec![("events", &current.events, &new.events)];
    if rules.authorization.limit_notifications_power_levels {
        maps.push(("notifications", &current.notifications, &new.notifications));
    }
    for (name, old_map, new_map) in maps {
        for (key, old, new) in changed_entries(old_map, new_map) {
            if old.is_some_and(above_sender) || new.is_some_and(above_sender) {
                return Err(Error::reject(
                    AuthRule::PowerLevelsEventsChangeAboveSender,
                    format!("cannot change `{name}.{key}` above the sender's level"),
                ));
            }
        }
    }

    // 10.9–10.10: users.
    for (user, old, new) in changed_entries(&current.users, &new.users) {
        let old_forbidden =
            user != event.sender() && old.is_some_and(|l| UserPower::Level(l) >= sender_power);
        if old_forbidden || new.is_some_and(above_sender) {
            return Err(Error::reject(
                AuthRule::PowerLevelsUserChangeAboveSender,
                format!("cannot change the level of {user}"),
            ));
        }
    }
    Ok(())
}

/// Entries added, changed or removed between two level maps, as `(key, old, new)`, in key order.
fn changed_entries<'a>(
    old: &'a BTreeMap<String, i64>,
    new: &'a BTreeMap<String, i64>,
) -> impl Iterator<Item = (&'a str, Option<i64>, Option<i64>)> {
    let keys: BTreeSet<&str> = old.keys().chain(new.keys()).map(String::as_str).collect();
    keys.into_iter().filter_map(|key| {
        let (o, n) = (old.get(key).copied(), new.get(key).copied());
        (o != n).then_some((key, o, n))
    })
}

//! Rule 5: `m.room.member` events — every membership transition.

use std::borrow::Borrow;

use hearth_types::RoomVersionRules;
use serde_json::Value;

use super::third_party_invite::check_third_party_invite;
use crate::content::{JoinRule, Membership, original_creator};
use crate::error::{AuthRule, Error};
use crate::event::{Event, types};
use crate::power_levels::{LevelField, PowerContext};

/// Checks a membership event against the state (rules 5.1–5.8).
pub(super) fn check_member_event<E: Event, S: Event>(
    rules: &RoomVersionRules,
    event: &E,
    create: &S,
    power: &PowerContext<'_>,
    state: &impl Fn(&str, &str) -> Option<S>,
) -> Result<(), Error> {
    let auth = &rules.authorization;
    let content = event.content();
    // 5.1: a state key and a membership are required.
    let (Some(target), Some(_)) = (
        event.state_key(),
        content.get("membership").and_then(Value::as_str),
    ) else {
        return Err(Error::reject(
            AuthRule::MemberMissingMembership,
            "m.room.member needs a state_key and content.membership",
        ));
    };
    let sender = event.sender();
    let membership_of = |user: &str| Membership::of_state(state(types::MEMBER, user).as_ref());
    let join_rule = || JoinRule::of_state(state(types::JOIN_RULES, "").as_ref());

    match Membership::of_content(content) {
        Membership::Join => {
            // 5.3.1: the creator's own join straight after the create event.
            let mut prev_events = event.prev_events();
            let first = prev_events.next();
            let only_prev_is_create = first.is_some_and(|prev| {
                let prev: &str = prev.borrow();
                prev == create.event_id().borrow()
            }) && prev_events.next().is_none();
            if only_prev_is_create && original_creator(rules, create) == Some(target) {
                return Ok(());
            }
            // 5.3.2
            if sender != target {
                return Err(Error::reject(
                    AuthRule::JoinSenderIsNotTarget,
                    format!("{sender} cannot join {target}"),
                ));
            }
            // 5.3.3
            let current = membership_of(target);
            if current == Membership::Ban {
                return Err(Error::reject(
                    AuthRule::JoinWhileBanned,
                    format!("{target} is banned"),
                ));
            }
            let already_invited_or_joined =
                matches!(current, Membership::Invite | Membership::Join);
            match join_rule() {
                // 5.3.4
                JoinRule::Invite if already_invited_or_joined => Ok(()),
                JoinRule::Knock if auth.knocking && already_invited_or_joined => Ok(()),
                // 5.3.5
                JoinRule::Restricted if auth.restricted_join_rule => {
                    check_restricted_join(event, power, &membership_of, already_invited_or_joined)
                }
                JoinRule::KnockRestricted if auth.knock_restricted_join_rule => {
                    check_restricted_join(event, power, &membership_of, already_invited_or_joined)
                }
                // 5.3.6
                JoinRule::Public => Ok(()),
                // 5.3.7
                rule => Err(Error::reject(
                    AuthRule::JoinNotAllowedByJoinRule,
                    format!("join rule {rule:?} does not let {target} join"),
                )),
            }
        }
        Membership::Invite => {
            // 5.4.1: third-party invites.
            if let Some(third_party_invite) = content.get("third_party_invite") {
                if membership_of(target) == Membership::Ban {
                    return Err(Error::reject(
                        AuthRule::ThirdPartyInviteTargetBanned,
                        format!("{target} is banned"),
                    ));
                }
                return check_third_party_invite(event, target, third_party_invite, state);
            }
            // 5.4.2
            if membership_of(sender) != Membership::Join {
                return Err(Error::reject(
                    AuthRule::InviteSenderNotJoined,
                    format!("{sender} is not joined"),
                ));
            }
            // 5.4.3
            if matches!(membership_of(target), Membership::Join | Membership::Ban) {
                return Err(Error::reject(
                    AuthRule::InviteTargetJoinedOrBanned,
                    format!("{target} is joined or banned"),
                ));
            }
            // 5.4.4–5.4.5
            if power
                .user_power(sender)
                .at_least(power.level(LevelField::Invite))
            {
                Ok(())
            } else {
                Err(Error::reject(
                    AuthRule::InviteInsufficientPower,
                    format!("{sender} is below the invite level"),
                ))
            }
        }
        Membership::Leave => {
            let sender_membership = membership_of(sender);
            // 5.5.1: leaving (or rejecting an invite, or rescinding a knock).
            if sender == target {
                let may_leave = matches!(sender_membership, Membership::Invite | Membership::Join)
                    || (auth.knocking && sender_membership == Membership::Knock);
                return if may_leave {
                    Ok(())
                } else {
                    Err(Error::reject(
                        AuthRule::LeaveWithoutMembership,
                        format!("{sender} is not invited, joined or knocking"),
                    ))
                };
            }
            // 5.5.2
            if sender_membership != Membership::Join {
                return Err(Error::reject(
                    AuthRule::KickSenderNotJoined,
                    format!("{sender} is not joined"),
                ));
            }
            let sender_power = power.user_power(sender);
            // 5.5.3
            if membership_of(target) == Membership::Ban
                && !sender_power.at_least(power.level(LevelField::Ban))
            {
                return Err(Error::reject(
                    AuthRule::UnbanInsufficientPower,
                    format!("{sender} is below the ban level"),
                ));
            }
            // 5.5.4–5.5.5
            if sender_power.at_least(power.level(LevelField::Kick))
                && power.user_power(target) < sender_power
            {
                Ok(())
            } else {
                Err(Error::reject(
                    AuthRule::KickInsufficientPower,
                    format!("{sender} may not kick {target}"),
                ))
            }
        }
        Membership::Ban => {
            // 5.6.1
            if membership_of(sender) != Membership::Join {
                return Err(Error::reject(
                    AuthRule::BanSenderNotJoined,
                    format!("{sender} is not joined"),
                ));
            }
            // 5.6.2–5.6.3
            let sender_power = power.user_power(sender);
            if sender_power.at_least(power.level(LevelField::Ban))
                && power.user_power(target) < sender_power
            {
                Ok(())
            } else {
                Err(Error::reject(
                    AuthRule::BanInsufficientPower,
                    format!("{sender} may not ban {target}"),
                ))
            }
        }
        Membership::Knock if auth.knocking => {
            // 5.7.1
            let allowed = match join_rule() {
                JoinRule::Knock => true,
                JoinRule::KnockRestricted => auth.knock_restricted_join_rule,
                _ => false,
            };
            if !allowed {
                return Err(Error::reject(
                    AuthRule::KnockNotAllowedByJoinRule,
                    "the join rule does not allow knocking",
                ));
            }
            // 5.7.2
            if sender != target {
                return Err(Error::reject(
                    AuthRule::KnockSenderIsNotTarget,
                    format!("{sender} cannot knock for {target}"),
                ));
            }
            // 5.7.3–5.7.4
            if matches!(
                membership_of(sender),
                Membership::Ban | Membership::Invite | Membership::Join
            ) {
                Err(Error::reject(
                    AuthRule::KnockInvalidMembership,
                    format!("{sender} is banned, invited or joined"),
                ))
            } else {
                Ok(())
            }
        }
        // 5.8
        _ => Err(Error::reject(
            AuthRule::UnknownMembership,
            "membership unknown in this room version",
        )),
    }
}

/// Rule 5.3.5: joins under `restricted` / `knock_restricted`.
fn check_restricted_join(
    event: &impl Event,
    power: &PowerContext<'_>,
    membership_of: &impl Fn(&str) -> Membership,
    already_invited_or_joined: bool,
) -> Result<(), Error> {
    if already_invited_or_joined {
        return Ok(());
    }
    let authoriser = event
        .content()
        .get("join_authorised_via_users_server")
        .and_then(Value::as_str);
    match authoriser {
        Some(user)
            if membership_of(user) == Membership::Join
                && power
                    .user_power(user)
                    .at_least(power.level(LevelField::Invite)) =>
        {
            Ok(())
        }
        Some(user) => Err(Error::reject(
            AuthRule::RestrictedJoinNotAuthorised,
            format!("{user} is not a joined member able to invite"),
        )),
        None => Err(Error::reject(
            AuthRule::RestrictedJoinNotAuthorised,
            "no join_authorised_via_users_server for an uninvited join",
        )),
    }
}

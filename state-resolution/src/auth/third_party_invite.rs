//! Rule 5.4.1: invites created from a third-party (e.g. e-mail) invite, whose `signed` block must be
//! signed by a key the room's `m.room.third_party_invite` event publishes.

use hearth_crypto::VerifyKey;
use hearth_crypto::signing::verify_json;
use serde_json::Value;

use crate::error::{AuthRule, Error};
use crate::event::{Event, types};

/// Rules 5.4.1.2–5.4.1.8 (the caller has already checked 5.4.1.1, the ban).
pub(super) fn check_third_party_invite<S: Event>(
    event: &impl Event,
    target: &str,
    third_party_invite: &Value,
    state: &impl Fn(&str, &str) -> Option<S>,
) -> Result<(), Error> {
    let malformed = |detail: &str| Error::reject(AuthRule::ThirdPartyInviteMalformed, detail);
    // 5.4.1.2–5.4.1.3
    let signed = third_party_invite
        .get("signed")
        .filter(|signed| signed.is_object())
        .ok_or_else(|| malformed("third_party_invite has no signed object"))?;
    let (Some(mxid), Some(token)) = (
        signed.get("mxid").and_then(Value::as_str),
        signed.get("token").and_then(Value::as_str),
    ) else {
        return Err(malformed("signed needs string mxid and token"));
    };
    // 5.4.1.4
    if mxid != target {
        return Err(malformed("signed.mxid is not the invited user"));
    }
    // 5.4.1.5
    let invite_event = state(types::THIRD_PARTY_INVITE, token).ok_or_else(|| {
        Error::reject(
            AuthRule::ThirdPartyInviteNoMatchingToken,
            format!("no third-party invite with token {token}"),
        )
    })?;
    // 5.4.1.6
    if invite_event.sender() != event.sender() {
        return Err(Error::reject(
            AuthRule::ThirdPartyInviteSenderMismatch,
            "the third-party invite was sent by someone else",
        ));
    }
    // 5.4.1.7–5.4.1.8
    if signed_by_any_public_key(signed, invite_event.content()) {
        Ok(())
    } else {
        Err(Error::reject(
            AuthRule::ThirdPartyInviteBadSignature,
            "no signature in signed verifies with the invite's public keys",
        ))
    }
}

/// The public keys of an `m.room.third_party_invite`: `public_key` and each `public_keys[].public_key`.
fn public_keys(content: &Value) -> Vec<VerifyKey> {
    let single = content.get("public_key").and_then(Value::as_str);
    let listed = content
        .get("public_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.get("public_key").and_then(Value::as_str));
    single
        .into_iter()
        .chain(listed)
        .filter_map(|encoded| {
            // Identity servers publish standard base64; accept the URL-safe alphabet too.
            VerifyKey::from_base64(encoded).ok().or_else(|| {
                hearth_crypto::base64::decode_url_safe(encoded)
                    .ok()
                    .and_then(|bytes| VerifyKey::from_bytes(&bytes).ok())
            })
        })
        .collect()
}

/// Whether any ed25519 signature in `signed.signatures` verifies `signed` with one of the keys.
fn signed_by_any_public_key(signed: &Value, invite_content: &Value) -> bool {
    let keys = public_keys(invite_content);
    let Some(signatures) = signed.get("signatures").and_then(Value::as_object) else {
        return false;
    };
    signatures.iter().any(|(server, by_key)| {
        by_key.as_object().is_some_and(|by_key| {
            by_key
                .keys()
                .filter(|key_id| key_id.starts_with("ed25519:"))
                .any(|key_id| {
                    keys.iter()
                        .any(|key| verify_json(signed, server, key_id, key).is_ok())
                })
        })
    })
}

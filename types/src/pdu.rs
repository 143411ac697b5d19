//! Hashing, signing and verifying PDUs per room version (server-server API, "Signing Events").
//!
//! Everything here works on the event JSON as received or as built, never on a re-serialised typed
//! struct: the only serialisation is the canonical form that hashes and signatures are computed over,
//! so unknown fields always survive and stay covered.
//!
//! The receive path is: [`verify_event_signatures`] (over the redacted event, so it passes for redacted
//! copies too), then [`verify_event_content_hash`]; on [`Error::ContentHashMismatch`] the receiver keeps
//! the redacted copy. [`verify_event`] does both and says which copy to keep.

use hearth_crypto::hashes;
use hearth_crypto::keys::{SigningKey, VerifyKey};
use hearth_crypto::signing::{sign_json, verify_json};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::ids::{EventId, RoomId, ServerName, UserId};
use crate::redaction::redact;
use crate::room_version::RoomVersionRules;

/// Adds the content hash (`hashes.sha256`) to an outgoing event and signs its redacted form as
/// `server_name` with `key`, adding the signature to `signatures` (existing signatures are kept).
///
/// The event must not contain an `event_id` in room versions 3+ (the ID is derived from the signed
/// event with [`compute_event_id`] afterwards). On error the event may have gained its content hash
/// but never a signature.
pub fn hash_and_sign_event(
    event: &mut Value,
    rules: &RoomVersionRules,
    server_name: &ServerName,
    key: &SigningKey,
) -> Result<(), Error> {
    let object = event.as_object().ok_or(Error::NotAnObject)?;
    if object
        .get("content")
        .is_some_and(|content| !content.is_object())
    {
        return Err(Error::InvalidField("content"));
    }
    if object
        .get("signatures")
        .is_some_and(|signatures| !signatures.is_object())
    {
        return Err(Error::InvalidField("signatures"));
    }
    hashes::add_content_hash(event)?;
    let mut redacted = redact(event, rules)?;
    sign_json(&mut redacted, server_name.as_str(), key)?;
    let signatures = redacted
        .as_object_mut()
        .and_then(|object| object.remove("signatures"))
        .ok_or(Error::MissingField("signatures"))?;
    let object = event.as_object_mut().ok_or(Error::NotAnObject)?;
    object.insert("signatures".to_owned(), signatures);
    Ok(())
}

/// The event's reference hash: SHA-256 of the canonical JSON of its redacted form without
/// `signatures` and `unsigned`. Names events in room v3+ and v12 rooms.
pub fn reference_hash(event: &Value, rules: &RoomVersionRules) -> Result<[u8; 32], Error> {
    Ok(hashes::reference_hash(&redact(event, rules)?)?)
}

/// The event's ID under `rules`: the `event_id` field in v1/v2 (which must have the `$opaque:server`
/// form), `$` + the base64 reference hash from v3 (URL-safe from v4).
pub fn compute_event_id(event: &Value, rules: &RoomVersionRules) -> Result<EventId, Error> {
    if !rules.event_id_format.is_hash_based() {
        let field = event
            .get("event_id")
            .ok_or(Error::MissingField("event_id"))?;
        let event_id = field.as_str().ok_or(Error::InvalidField("event_id"))?;
        let event_id = EventId::parse(event_id).map_err(Error::invalid_id("event_id"))?;
        if event_id.server_name().is_none() {
            return Err(Error::InvalidField("event_id"));
        }
        return Ok(event_id);
    }
    let hash = reference_hash(event, rules)?;
    let event_id =
        hearth_crypto::event_id::event_id_from_reference_hash(&hash, rules.event_id_format)?;
    EventId::parse(&event_id).map_err(Error::invalid_id("event_id"))
}

/// The room ID a v12+ create event defines: `!` + its URL-safe reference hash (the create event's own
/// ID with the `!` sigil). The event is redacted with the v12 rules.
pub fn room_id_for_v12_create_event(create_event: &Value) -> Result<RoomId, Error> {
    let event_id = compute_event_id(create_event, &RoomVersionRules::V12)?;
    RoomId::from_create_event_id(&event_id).map_err(Error::invalid_id("event_id"))
}

/// Checks `hashes.sha256` against the event's full content. [`Error::ContentHashMismatch`] means the
/// event must be replaced by its redacted form; a missing or malformed hash is a crypto error.
pub fn verify_event_content_hash(event: &Value) -> Result<(), Error> {
    match hashes::verify_content_hash(event)? {
        true => Ok(()),
        false => Err(Error::ContentHashMismatch),
    }
}

/// The servers whose signatures the spec requires on `event`, and how strictly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredSignatures {
    /// Servers that must have at least one verifiable, valid signature: the sender's server (unless the
    /// event is a third-party-invite membership), the server in a v1/v2 event ID, and (v8+) the server
    /// of `content.join_authorised_via_users_server`.
    pub required: Vec<ServerName>,
    /// Servers whose signatures are checked if present but may be absent: the sender's server on a
    /// third-party invite, which may reach us signed only by the server that completed the invite.
    pub optional: Vec<ServerName>,
}

/// Works out which servers must have signed `event` (server-server API, "Validating hashes and
/// signatures on received events"). Callers use it to fetch the keys before [`verify_event_signatures`].
pub fn required_signatures(
    event: &Value,
    rules: &RoomVersionRules,
) -> Result<RequiredSignatures, Error> {
    let object = event.as_object().ok_or(Error::NotAnObject)?;
    let sender = object
        .get("sender")
        .ok_or(Error::MissingField("sender"))?
        .as_str()
        .ok_or(Error::InvalidField("sender"))?;
    let sender = UserId::parse(sender).map_err(Error::invalid_id("sender"))?;
    let content = object.get("content").and_then(Value::as_object);
    let is_member_event = object.get("type").and_then(Value::as_str) == Some("m.room.member");
    let membership = content
        .and_then(|c| c.get("membership"))
        .and_then(Value::as_str);

    let mut signatures = RequiredSignatures {
        required: Vec::new(),
        optional: Vec::new(),
    };
    let is_third_party_invite = is_member_event
        && membership == Some("invite")
        && content.is_some_and(|c| c.contains_key("third_party_invite"));
    if is_third_party_invite {
        signatures.optional.push(sender.server_name().clone());
    } else {
        signatures.required.push(sender.server_name().clone());
    }
    if !rules.event_id_format.is_hash_based() {
        let event_id = compute_event_id(event, rules)?;
        if let Some(server) = event_id.server_name() {
            push_unique(&mut signatures.required, server);
        }
    }
    if rules.authorization.restricted_join_rule && is_member_event {
        let authoriser = content.and_then(|c| c.get("join_authorised_via_users_server"));
        // An unparsable authoriser cannot have signed anything; the auth rules reject such events.
        if let Some(user) = authoriser
            .and_then(Value::as_str)
            .and_then(|s| UserId::parse(s).ok())
        {
            push_unique(&mut signatures.required, user.server_name());
        }
    }
    signatures
        .optional
        .retain(|server| !signatures.required.contains(server));
    Ok(signatures)
}

fn push_unique(servers: &mut Vec<ServerName>, server: &ServerName) {
    if !servers.contains(server) {
        servers.push(server.clone());
    }
}

/// Verifies the signatures the spec requires on a received event, over its redacted form.
///
/// For each required server, every `ed25519` signature whose key `key_lookup(server, key_id)` returns
/// must verify, and at least one must (keys the lookup does not know are skipped, as the spec says).
/// For room versions that enforce key validity (v5+), the lookup must return only keys valid at the
/// event's `origin_server_ts`. Signatures by other servers are ignored.
pub fn verify_event_signatures<F>(
    event: &Value,
    rules: &RoomVersionRules,
    key_lookup: F,
) -> Result<(), Error>
where
    F: Fn(&ServerName, &str) -> Option<VerifyKey>,
{
    let servers = required_signatures(event, rules)?;
    let redacted = redact(event, rules)?;
    for server in &servers.required {
        verify_server_signature(&redacted, server, &key_lookup)?;
    }
    for server in &servers.optional {
        match verify_server_signature(&redacted, server, &key_lookup) {
            Ok(()) | Err(Error::MissingSignature { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// Checks that `server` validly signed an already-redacted event (spec appendices, "Checking for a
/// signature"): every signature by a key the lookup knows must verify and at least one must exist.
/// Exposed for the auth rules, which ask "is this event validly signed by server X?".
pub fn verify_server_signature<F>(
    redacted_event: &Value,
    server: &ServerName,
    key_lookup: F,
) -> Result<(), Error>
where
    F: Fn(&ServerName, &str) -> Option<VerifyKey>,
{
    let missing = || Error::MissingSignature {
        server: server.to_string(),
    };
    let by_server = signatures_by(redacted_event, server)?.ok_or_else(missing)?;
    let mut verified = 0usize;
    for key_id in by_server
        .keys()
        .filter(|key_id| key_id.starts_with("ed25519:"))
    {
        let Some(key) = key_lookup(server, key_id) else {
            continue;
        };
        verify_json(redacted_event, server.as_str(), key_id, &key).map_err(|_| {
            Error::InvalidSignature {
                server: server.to_string(),
                key_id: key_id.clone(),
            }
        })?;
        verified += 1;
    }
    if verified == 0 {
        return Err(missing());
    }
    Ok(())
}

/// `signatures.<server>` as an object, `None` if absent; an error if `signatures` is malformed.
fn signatures_by<'a>(
    event: &'a Value,
    server: &ServerName,
) -> Result<Option<&'a Map<String, Value>>, Error> {
    let Some(signatures) = event.get("signatures") else {
        return Ok(None);
    };
    let signatures = signatures
        .as_object()
        .ok_or(Error::InvalidField("signatures"))?;
    match signatures.get(server.as_str()) {
        None => Ok(None),
        Some(by_server) => by_server
            .as_object()
            .map(Some)
            .ok_or(Error::InvalidField("signatures")),
    }
}

/// The outcome of checking a received event: which copy of it the server must keep.
#[derive(Clone, Debug, PartialEq)]
pub enum VerifiedEvent {
    /// Signatures and content hash are valid: keep the event as received.
    Valid,
    /// Signatures are valid but the content hash is not: keep this redacted copy instead (spec:
    /// "the receiving server should use the redacted copy it calculated").
    Redacted(Value),
}

/// Signature checks then hash checks, in the spec's order. Signature failures are errors (drop the
/// event); a content-hash mismatch yields the redacted copy to keep.
pub fn verify_event<F>(
    event: &Value,
    rules: &RoomVersionRules,
    key_lookup: F,
) -> Result<VerifiedEvent, Error>
where
    F: Fn(&ServerName, &str) -> Option<VerifyKey>,
{
    verify_event_signatures(event, rules, key_lookup)?;
    match verify_event_content_hash(event) {
        Ok(()) => Ok(VerifiedEvent::Valid),
        Err(Error::ContentHashMismatch) => Ok(VerifiedEvent::Redacted(redact(event, rules)?)),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
#[path = "pdu_tests.rs"]
mod tests;

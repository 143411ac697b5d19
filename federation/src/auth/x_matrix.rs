//! The `X-Matrix` authorization scheme: parsing and formatting the header, building and signing the
//! request object, and verifying an inbound request.
//!
//! The signed object is `{method, uri, origin, destination, content?}` with `uri` the full request target
//! (path and query string, as sent on the request line). Parsing follows RFC 9110 §11.4 as the spec asks:
//! scheme and parameter names are case-insensitive, values are tokens or quoted strings with backslash
//! escapes, and commas may be surrounded by spaces and tabs. For older senders, unquoted values may also
//! contain `:` and `/` (server names with ports, base64 signatures).

use std::fmt;
use std::future::Future;

use hearth_crypto::SigningKey;
use hearth_crypto::VerifyKey;
use hearth_types::{KeyId, ServerName};
use serde_json::{Map, Value};

use crate::Error;

/// The authorization scheme name, as Hearth sends it.
pub const SCHEME: &str = "X-Matrix";

/// A parsed `X-Matrix` header: who claims to send the request, to whom, and the detached signature.
///
/// Invariant: `origin` and `destination` are valid server names and `key` a valid key ID; the signature
/// is kept as received (unpadded base64) and only checked by [`authenticate_request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XMatrix {
    /// The sending server, as it signs (before any delegation).
    pub origin: ServerName,
    /// The receiving server; optional on receipt for pre-v1.3 senders, always sent by Hearth.
    pub destination: Option<ServerName>,
    /// The ID of the origin's key that made `sig`.
    pub key: KeyId,
    /// The signature of the request object, unpadded base64.
    pub sig: String,
}

impl XMatrix {
    /// Parses an `Authorization` header value.
    ///
    /// Missing `origin`, `key` or `sig`, any repeated parameter, and anything outside the grammar are
    /// errors; unknown parameters are ignored. A header with another scheme is
    /// [`Error::MissingAuthorization`], so a caller can try the next `Authorization` header.
    pub fn parse(header: &str) -> Result<Self, Error> {
        let (scheme, rest) = match header.find([' ', '\t']) {
            Some(i) => (&header[..i], &header[i..]),
            None => (header, ""),
        };
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(Error::MissingAuthorization);
        }
        if !rest.starts_with(' ') {
            return Err(malformed("expected a space after the scheme"));
        }
        let params = parse_params(rest.trim_start_matches(' '))?;
        let mut origin = None;
        let mut destination = None;
        let mut key = None;
        let mut sig = None;
        let mut seen_unknown: Vec<String> = Vec::new();
        for (name, value) in params {
            let slot = match name.as_str() {
                "origin" => &mut origin,
                "destination" => &mut destination,
                "key" => &mut key,
                "sig" => &mut sig,
                _ => {
                    if seen_unknown.contains(&name) {
                        return Err(Error::DuplicateAuthorizationParameter(name));
                    }
                    seen_unknown.push(name);
                    continue;
                }
            };
            if slot.is_some() {
                return Err(Error::DuplicateAuthorizationParameter(name));
            }
            *slot = Some(value);
        }
        let origin = origin.ok_or(Error::MissingAuthorizationParameter("origin"))?;
        let key = key.ok_or(Error::MissingAuthorizationParameter("key"))?;
        let sig = sig.ok_or(Error::MissingAuthorizationParameter("sig"))?;
        Ok(Self {
            origin: ServerName::parse(&origin)
                .map_err(|e| malformed(&format!("origin is not a server name: {e}")))?,
            destination: destination
                .map(|d| ServerName::parse(&d))
                .transpose()
                .map_err(|e| malformed(&format!("destination is not a server name: {e}")))?,
            key: KeyId::parse(&key).map_err(|e| malformed(&format!("key is not a key ID: {e}")))?,
            sig,
        })
    }

    /// The header value in the form the spec recommends for compatibility: one space after the scheme,
    /// lower-case names, quoted values, no spaces around commas.
    pub fn to_header_value(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for XMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME} origin={}", Quoted(self.origin.as_str()))?;
        if let Some(destination) = &self.destination {
            write!(f, ",destination={}", Quoted(destination.as_str()))?;
        }
        write!(
            f,
            ",key={},sig={}",
            Quoted(self.key.as_str()),
            Quoted(&self.sig)
        )
    }
}

/// A value written as an RFC 9110 quoted-string (escaping `"` and `\`, which valid values never hold).
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            if c == '"' || c == '\\' {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("\"")
    }
}

fn malformed(reason: &str) -> Error {
    Error::MalformedAuthorization(reason.to_owned())
}

/// RFC 9110 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Characters allowed in an unquoted value: `tchar`, plus `:` and `/` for older senders.
fn is_unquoted_value_char(c: char) -> bool {
    is_tchar(c) || c == ':' || c == '/'
}

/// Parses `#auth-param`: a comma-separated list (empty elements allowed) of `name=value`, with optional
/// spaces/tabs around commas and `=`. Names come back lower-cased, values unescaped.
fn parse_params(input: &str) -> Result<Vec<(String, String)>, Error> {
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    let mut params = Vec::new();
    let skip_ows = |i: &mut usize| {
        while *i < chars.len() && (chars[*i] == ' ' || chars[*i] == '\t') {
            *i += 1;
        }
    };
    loop {
        skip_ows(&mut i);
        if i == chars.len() {
            break;
        }
        if chars[i] == ',' {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_tchar(chars[i]) {
            i += 1;
        }
        if start == i {
            return Err(malformed("expected a parameter name"));
        }
        let name: String = chars[start..i]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        skip_ows(&mut i);
        if chars.get(i) != Some(&'=') {
            return Err(malformed("expected `=` after a parameter name"));
        }
        i += 1;
        skip_ows(&mut i);
        let mut value = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(malformed("unterminated quoted value")),
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => match chars.get(i + 1) {
                        Some(&c)
                            if c == '\t' || c == ' ' || c.is_ascii_graphic() || !c.is_ascii() =>
                        {
                            value.push(c);
                            i += 2;
                        }
                        _ => return Err(malformed("invalid escape in quoted value")),
                    },
                    Some(&c) if c == '\t' || c == ' ' || c.is_ascii_graphic() || !c.is_ascii() => {
                        value.push(c);
                        i += 1;
                    }
                    Some(_) => return Err(malformed("control character in quoted value")),
                }
            }
        } else {
            let value_start = i;
            while i < chars.len() && is_unquoted_value_char(chars[i]) {
                i += 1;
            }
            if value_start == i {
                return Err(malformed("empty parameter value"));
            }
            value = chars[value_start..i].iter().collect();
        }
        params.push((name, value));
        skip_ows(&mut i);
        match chars.get(i) {
            None => break,
            Some(',') => i += 1,
            Some(_) => return Err(malformed("expected `,` between parameters")),
        }
    }
    Ok(params)
}

/// The JSON object a request's signature covers: `method`, `uri` (path and query as sent), `origin`,
/// `destination`, and `content` when the request has a JSON body.
pub fn request_object(
    method: &str,
    uri: &str,
    origin: &ServerName,
    destination: &ServerName,
    content: Option<&Value>,
) -> Value {
    let mut object = Map::new();
    object.insert("method".into(), Value::String(method.to_owned()));
    object.insert("uri".into(), Value::String(uri.to_owned()));
    object.insert("origin".into(), Value::String(origin.as_str().to_owned()));
    object.insert(
        "destination".into(),
        Value::String(destination.as_str().to_owned()),
    );
    if let Some(content) = content {
        object.insert("content".into(), content.clone());
    }
    Value::Object(object)
}

/// Signs an outbound request as `origin` and returns the header to send with it.
///
/// `uri` must be exactly the request target sent on the wire (path with any query string).
pub fn sign_request(
    key: &SigningKey,
    origin: &ServerName,
    destination: &ServerName,
    method: &str,
    uri: &str,
    content: Option<&Value>,
) -> Result<XMatrix, Error> {
    let object = request_object(method, uri, origin, destination, content);
    let sig = hearth_crypto::signing::signature_for(&object, key)?;
    let key_id = KeyId::parse(key.key_id().as_str())
        .map_err(|e| Error::ClientConfig(format!("signing key ID: {e}")))?;
    Ok(XMatrix {
        origin: origin.clone(),
        destination: Some(destination.clone()),
        key: key_id,
        sig,
    })
}

/// Authenticates an inbound request: returns the verified origin, or the reason to answer
/// `401 M_UNAUTHORIZED`.
///
/// `authorization` is the `Authorization` header value, `uri` the request target exactly as received
/// (path and query), `content` the parsed JSON body (`None` for requests without one). `lookup_key` is
/// asked for the origin's *current* key with the header's key ID (keys from `old_verify_keys` do not
/// authenticate requests) and may fetch it; it is called only after the header parsed and the destination
/// matched, so a malformed request costs no key fetch.
pub async fn authenticate_request<F, Fut>(
    method: &str,
    uri: &str,
    content: Option<&Value>,
    authorization: &str,
    our_server_name: &ServerName,
    lookup_key: F,
) -> Result<ServerName, Error>
where
    F: FnOnce(ServerName, KeyId) -> Fut,
    Fut: Future<Output = Option<VerifyKey>>,
{
    let header = XMatrix::parse(authorization)?;
    if let Some(destination) = &header.destination
        && destination != our_server_name
    {
        return Err(Error::DestinationMismatch);
    }
    let key = lookup_key(header.origin.clone(), header.key.clone())
        .await
        .ok_or_else(|| Error::UnknownKey {
            origin: header.origin.to_string(),
            key_id: header.key.to_string(),
        })?;
    verify_signature(method, uri, content, &header, our_server_name, &key)?;
    Ok(header.origin)
}

/// Checks `header.sig` over the request object with `key`; the synchronous core of
/// [`authenticate_request`], for callers that already hold the key.
///
/// The object is built with *our* server name as destination, so a request signed for another server
/// fails even when the header omits `destination`.
pub fn verify_signature(
    method: &str,
    uri: &str,
    content: Option<&Value>,
    header: &XMatrix,
    our_server_name: &ServerName,
    key: &VerifyKey,
) -> Result<(), Error> {
    let bad = || Error::BadSignature {
        origin: header.origin.to_string(),
        key_id: header.key.to_string(),
    };
    let object = request_object(method, uri, &header.origin, our_server_name, content);
    let message =
        hearth_crypto::canonical_json::to_canonical_bytes_without_keys(&object, &["signatures"])
            .map_err(|_| bad())?;
    let signature = hearth_crypto::base64::decode(&header.sig).map_err(|_| bad())?;
    key.verify(&message, &signature).map_err(|_| bad())
}

#[cfg(test)]
#[path = "x_matrix_tests.rs"]
mod tests;

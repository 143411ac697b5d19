//! Event ID formats by room version.
//!
//! Room v1 and v2 event IDs are random and carry the origin server (`$<random>:<server>`). From v3 the ID is
//! the event's reference hash: standard unpadded base64 in v3, URL-safe unpadded base64 from v4 on (so IDs
//! can appear in URLs unescaped). The room-version table in `hearth_types` picks the format.

use crate::Error;
use crate::random::{ALPHANUMERIC, random_string};

/// How a room version names its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventIdFormat {
    /// Room v1/v2: `$<random>:<server name>`.
    V1Random,
    /// Room v3: `$` + unpadded standard base64 of the reference hash.
    Base64,
    /// Room v4+: `$` + unpadded URL-safe base64 of the reference hash.
    UrlSafeBase64,
}

impl EventIdFormat {
    /// Whether IDs in this format are derived from the event's reference hash.
    pub fn is_hash_based(self) -> bool {
        !matches!(self, Self::V1Random)
    }
}

/// A fresh v1/v2-style event ID `$<24 random alphanumerics>:<server_name>`.
///
/// # Panics
/// If the operating system cannot provide randomness.
pub fn random_event_id(server_name: &str) -> String {
    format!("${}:{server_name}", random_string(24, ALPHANUMERIC))
}

/// The event ID for a reference hash in a hash-based `format`; [`Error::EventIdNotHashBased`] for
/// [`EventIdFormat::V1Random`].
pub fn event_id_from_reference_hash(
    reference_hash: &[u8; 32],
    format: EventIdFormat,
) -> Result<String, Error> {
    let encoded = match format {
        EventIdFormat::V1Random => return Err(Error::EventIdNotHashBased),
        EventIdFormat::Base64 => crate::base64::encode(reference_hash),
        EventIdFormat::UrlSafeBase64 => crate::base64::encode_url_safe(reference_hash),
    };
    Ok(format!("${encoded}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_based_formats_differ_only_in_alphabet() {
        let hash = [0xfb; 32];
        let v3 = event_id_from_reference_hash(&hash, EventIdFormat::Base64).ok();
        let v4 = event_id_from_reference_hash(&hash, EventIdFormat::UrlSafeBase64).ok();
        assert_eq!(
            v3.as_deref(),
            Some("$+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s")
        );
        assert_eq!(
            v4.as_deref(),
            Some("$-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s")
        );
        assert!(EventIdFormat::Base64.is_hash_based());
    }

    #[test]
    fn v1_format_has_no_hash_derived_id() {
        assert!(matches!(
            event_id_from_reference_hash(&[0; 32], EventIdFormat::V1Random),
            Err(Error::EventIdNotHashBased)
        ));
        assert!(!EventIdFormat::V1Random.is_hash_based());
    }

    #[test]
    fn random_event_ids_carry_the_server_name_and_are_unique() {
        let a = random_event_id("example.org:8448");
        let b = random_event_id("example.org:8448");
        assert_ne!(a, b);
        assert!(a.starts_with('$') && a.ends_with(":example.org:8448"));
        assert_eq!(a.len(), 1 + 24 + 1 + "example.org:8448".len());
    }
}

//! `KeyId`: a signing-key identifier, `algorithm:version`.

use std::sync::Arc;

use crate::IdError;

/// A key identifier as used in `signatures`, `verify_keys` and device keys: `algorithm:version`,
/// e.g. `ed25519:a_bcD1`.
///
/// Invariants: at most 255 bytes; the algorithm is non-empty and made of `[a-z0-9_.-]`; the version is
/// non-empty and has no NUL. The version is kept lenient because device keys use the device ID
/// (itself opaque) as the version; server key versions (`[a-zA-Z0-9_]`) are checked where server keys
/// are published.
#[derive(Clone)]
pub struct KeyId {
    id: Arc<str>,
}

crate::ids::impl_identifier!(KeyId);

impl KeyId {
    /// Parses `algorithm:version`, splitting at the first colon.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() || s.len() > super::MAX_ID_BYTES {
            return Err(IdError::InvalidLength);
        }
        let (algorithm, version) = s.split_once(':').ok_or(IdError::InvalidCharacter)?;
        if algorithm.is_empty() || version.is_empty() {
            return Err(IdError::InvalidLength);
        }
        let algorithm_ok = algorithm.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
        if !algorithm_ok || version.contains('\0') {
            return Err(IdError::InvalidCharacter);
        }
        Ok(Self { id: Arc::from(s) })
    }

    /// Builds `algorithm:version` from its parts.
    pub fn from_parts(algorithm: &str, version: &str) -> Result<Self, IdError> {
        Self::parse(&format!("{algorithm}:{version}"))
    }

    /// The signing algorithm, e.g. `ed25519`.
    pub fn algorithm(&self) -> &str {
        self.id
            .split_once(':')
            .map_or(&self.id, |(algorithm, _)| algorithm)
    }

    /// The key version: what distinguishes one key of an entity from another.
    pub fn version(&self) -> &str {
        self.id.split_once(':').map_or("", |(_, version)| version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_algorithm_and_version() {
        let key = KeyId::parse("ed25519:a_bcD1").unwrap();
        assert_eq!((key.algorithm(), key.version()), ("ed25519", "a_bcD1"));
        let key = KeyId::from_parts("signed_curve25519", "AAAAHQ").unwrap();
        assert_eq!(key.as_str(), "signed_curve25519:AAAAHQ");
    }

    #[test]
    fn rejects_malformed_key_ids() {
        assert_eq!(KeyId::parse("ed25519"), Err(IdError::InvalidCharacter));
        assert_eq!(KeyId::parse(":1"), Err(IdError::InvalidLength));
        assert_eq!(KeyId::parse("ed25519:"), Err(IdError::InvalidLength));
        assert_eq!(KeyId::parse("Ed25519:1"), Err(IdError::InvalidCharacter));
        assert_eq!(KeyId::parse(""), Err(IdError::InvalidLength));
    }
}

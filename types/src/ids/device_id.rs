//! `DeviceId`: the opaque ID of one login session's device.

use std::sync::Arc;

use crate::IdError;

/// A device ID. The spec leaves device IDs opaque (clients may choose them at login), so the only
/// invariants are 1–255 bytes and no NUL.
#[derive(Clone)]
pub struct DeviceId {
    id: Arc<str>,
}

crate::ids::impl_identifier!(DeviceId);

impl DeviceId {
    /// Accepts any non-empty string of at most 255 bytes without NUL.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() || s.len() > super::MAX_ID_BYTES {
            return Err(IdError::InvalidLength);
        }
        if s.contains('\0') {
            return Err(IdError::InvalidCharacter);
        }
        Ok(Self { id: Arc::from(s) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_opaque_strings_within_bounds() {
        assert_eq!(
            DeviceId::parse("ABCDEFGHIJ").unwrap().as_str(),
            "ABCDEFGHIJ"
        );
        assert!(DeviceId::parse("my phone: 📱").is_ok());
        assert_eq!(DeviceId::parse(""), Err(IdError::InvalidLength));
        assert_eq!(
            DeviceId::parse(&"D".repeat(256)),
            Err(IdError::InvalidLength)
        );
        assert_eq!(DeviceId::parse("a\0b"), Err(IdError::InvalidCharacter));
    }
}

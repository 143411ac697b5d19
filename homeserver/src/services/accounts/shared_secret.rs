//! Synapse-compatible shared-secret registration (`/_synapse/admin/v1/register`): a single-use nonce, then an
//! account request authenticated by HMAC-SHA1 over `nonce \0 user \0 password \0 admin|notadmin` with
//! `[registration] shared_secret` as key. Provisioning scripts and test harnesses (e.g. Complement) use it.

use std::time::{Duration, Instant};

use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{AccountsService, NewAccount, Result};

/// How long a nonce may be used after it was handed out.
const NONCE_LIFETIME: Duration = Duration::from_secs(60);
/// The most outstanding nonces; the oldest go first beyond it.
const MAX_NONCES: usize = 10_000;

/// A shared-secret registration request.
#[derive(Clone, Debug)]
pub struct SharedSecretRequest<'a> {
    /// The nonce from `GET`.
    pub nonce: &'a str,
    /// Localpart of the new user.
    pub username: &'a str,
    /// Password of the new user.
    pub password: &'a str,
    /// Whether the user is a server administrator.
    pub admin: bool,
    /// Display name (defaults to the localpart).
    pub displayname: Option<&'a str>,
    /// Lower-case hex HMAC-SHA1.
    pub mac: &'a str,
}

impl AccountsService {
    /// Whether shared-secret registration is enabled.
    pub fn shared_secret_enabled(&self) -> bool {
        !self.registration.shared_secret.is_empty()
    }

    /// `GET`: a fresh single-use nonce.
    pub fn new_registration_nonce(&self) -> Result<String> {
        self.require_shared_secret()?;
        let nonce = hearth_crypto::random::random_token(24);
        let mut nonces = self.lock_nonces();
        nonces.retain(|_, issued| issued.elapsed() < NONCE_LIFETIME);
        if nonces.len() >= MAX_NONCES
            && let Some(oldest) = nonces
                .iter()
                .min_by_key(|(_, issued)| **issued)
                .map(|(nonce, _)| nonce.clone())
        {
            nonces.remove(&oldest);
        }
        nonces.insert(nonce.clone(), Instant::now());
        Ok(nonce)
    }

    /// `POST`: checks nonce and MAC, then creates the account and logs it in.
    pub async fn register_with_shared_secret(
        &self,
        request: &SharedSecretRequest<'_>,
    ) -> Result<NewAccount> {
        self.require_shared_secret()?;
        let issued = self.lock_nonces().remove(request.nonce);
        if issued.is_none_or(|issued| issued.elapsed() >= NONCE_LIFETIME) {
            return Err(MatrixError::new(ErrorCode::Unknown, "Unrecognised nonce")
                .with_status(400)
                .into());
        }
        if !mac_is_valid(&self.registration.shared_secret, request) {
            return Err(MatrixError::new(ErrorCode::Forbidden, "HMAC incorrect").into());
        }
        let user_id = self
            .create_account(
                &request.username.to_lowercase(),
                Some(request.password),
                request.admin,
                false,
            )
            .await?;
        if let Some(displayname) = request.displayname {
            self.storage
                .set_displayname(user_id.as_str(), Some(displayname))
                .await?;
        }
        let session = self.issue_session(user_id.as_str(), None, None).await?;
        Ok(NewAccount {
            user_id,
            session: Some(session),
        })
    }

    fn require_shared_secret(&self) -> Result<()> {
        if self.shared_secret_enabled() {
            Ok(())
        } else {
            Err(MatrixError::new(
                ErrorCode::Unknown,
                "Shared secret registration is not enabled",
            )
            .with_status(400)
            .into())
        }
    }

    fn lock_nonces(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Instant>> {
        self.nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The message the MAC covers.
fn mac_message(request: &SharedSecretRequest<'_>) -> Vec<u8> {
    let admin = if request.admin { "admin" } else { "notadmin" };
    [request.nonce, request.username, request.password, admin]
        .join("\0")
        .into_bytes()
}

/// Compares the presented hex MAC with the expected one in constant time.
fn mac_is_valid(secret: &str, request: &SharedSecretRequest<'_>) -> bool {
    let Some(presented) = decode_hex(request.mac) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(&mac_message(request));
    mac.verify_slice(&presented).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The hex MAC a client computes; public for tests and tools.
pub fn shared_secret_mac(secret: &str, request: &SharedSecretRequest<'_>) -> String {
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(&mac_message(request));
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mac: &str) -> SharedSecretRequest<'_> {
        SharedSecretRequest {
            nonce: "n",
            username: "u",
            password: "p",
            admin: false,
            displayname: None,
            mac,
        }
    }

    #[test]
    fn mac_matches_hmac_sha1_of_nul_joined_fields() {
        // HMAC-SHA1(key="secret", "n\0u\0p\0notadmin"), computed independently with Python's hmac module.
        let mac = shared_secret_mac("secret", &request(""));
        assert_eq!(mac, "0f2b4751fa14a68d6a6878c313b752580706c394");
        assert!(mac_is_valid("secret", &request(&mac)));
        assert!(!mac_is_valid("other", &request(&mac)));
        assert!(!mac_is_valid("secret", &request("zz")));
        assert!(!mac_is_valid("secret", &request("abc")));
    }
}

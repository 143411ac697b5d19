//! Password hashing for local accounts: argon2id in PHC string format.
//!
//! Parameters follow the OWASP Password Storage Cheat Sheet's first argon2id recommendation:
//! m = 19456 KiB (19 MiB), t = 2 iterations, p = 1 lane, 16-byte random salt, 32-byte output. The PHC
//! string records the parameters, so they can be raised later without invalidating stored hashes:
//! verification always uses the parameters inside the stored string. Hashing takes tens of milliseconds;
//! async callers should run it on a blocking thread.

use crate::Error;
use crate::random::random_bytes;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB (OWASP: 19 MiB).
pub const MEMORY_COST_KIB: u32 = 19_456;
/// Number of passes over memory (OWASP: 2).
pub const TIME_COST: u32 = 2;
/// Degree of parallelism (OWASP: 1).
pub const PARALLELISM: u32 = 1;

/// Hash `password` with argon2id and a fresh random salt, returning a PHC string such as
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// # Panics
/// If the operating system cannot provide randomness for the salt.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let params = Params::new(MEMORY_COST_KIB, TIME_COST, PARALLELISM, None)
        .map_err(|e| Error::PasswordHash(e.to_string()))?;
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::encode_b64(&random_bytes::<16>())
        .map_err(|e| Error::PasswordHash(e.to_string()))?;
    hasher
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::PasswordHash(e.to_string()))
}

/// Whether `password` matches the stored PHC string `phc`.
///
/// The comparison is constant-time (argon2's verifier). A malformed or unsupported hash yields `false`,
/// never an error, so a corrupt row simply fails login.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_password_verifies_and_others_do_not() {
        let hash = hash_password("correct horse battery staple");
        let Ok(hash) = hash else {
            panic!("hashing failed: {hash:?}");
        };
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery staple", &hash));
        assert!(!verify_password("correct horse battery stapl", &hash));
        assert!(!verify_password("", &hash));
    }

    #[test]
    fn same_password_gets_different_salts() {
        let a = hash_password("pw").ok();
        let b = hash_password("pw").ok();
        assert!(a.is_some());
        assert_ne!(a, b);
    }

    #[test]
    fn handles_unicode_and_empty_passwords() {
        for password in ["", "пароль 🔑", "\u{0}"] {
            let hash = hash_password(password).ok();
            assert!(
                hash.as_deref()
                    .is_some_and(|h| verify_password(password, h)),
                "{password:?}"
            );
        }
    }

    #[test]
    fn malformed_hashes_never_verify() {
        for phc in [
            "",
            "plaintext",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$",
            "$2b$12$abcdefghijklmnopqrstuu",
        ] {
            assert!(!verify_password("plaintext", phc), "{phc:?}");
        }
    }
}

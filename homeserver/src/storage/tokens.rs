//! Access tokens. Only the SHA-256 hash of a token is stored, so a leaked database (or backup)
//! does not leak usable credentials; lookups hash the presented token and compare hashes.

use sha2::{Digest, Sha256};

use super::{Result, Storage, StorageError, on_reader, on_writer};

/// SHA-256 of an access token: the only form in which tokens reach the database.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes the token exactly as the client presents it (the bytes of the string).
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Wraps an already computed SHA-256 digest.
    pub fn from_bytes(bytes: [u8; 32]) -> TokenHash {
        TokenHash(bytes)
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash(")?;
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

/// What a caller supplies to store a freshly issued token.
#[derive(Debug, Clone, Copy)]
pub struct NewAccessToken<'a> {
    /// Hash of the token handed to the client.
    pub token_hash: TokenHash,
    /// Owner's full user ID.
    pub user_id: &'a str,
    /// The device the token belongs to; `None` for tokens not bound to a device.
    pub device_id: Option<&'a str>,
    /// Issue time (ms since the epoch).
    pub created_ts: i64,
    /// Expiry (ms since the epoch); `None` for tokens that do not expire.
    pub expires_ts: Option<i64>,
}

/// A stored token joined with the owner's account flags: everything request authentication
/// needs, in one query.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccessToken {
    /// Owner's full user ID.
    pub user_id: String,
    /// The device the token belongs to, if any.
    pub device_id: Option<String>,
    /// Issue time (ms since the epoch).
    pub created_ts: i64,
    /// Expiry (ms since the epoch), if any; see [`AccessToken::is_expired_at`].
    pub expires_ts: Option<i64>,
    /// The owner is a server administrator.
    pub is_admin: bool,
    /// The owner is a guest.
    pub is_guest: bool,
    /// The owner's account is deactivated (its tokens are normally deleted with it).
    pub deactivated: bool,
}

impl AccessToken {
    /// True once `now_ms` has reached the expiry time; such a token must be rejected
    /// (`M_UNKNOWN_TOKEN` with `soft_logout`) even though its row still exists.
    pub fn is_expired_at(&self, now_ms: i64) -> bool {
        self.expires_ts.is_some_and(|expires| now_ms >= expires)
    }
}

impl Storage {
    /// Stores a newly issued token. `Conflict("access token")` if the hash already exists
    /// (a token-generator bug), `NotFound("user or device")` if the owner does not exist.
    pub async fn insert_access_token(&self, new: &NewAccessToken<'_>) -> Result<()> {
        on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(new.token_hash.as_bytes().as_slice())
            .bind(new.user_id)
            .bind(new.device_id)
            .bind(new.created_ts)
            .bind(new.expires_ts)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(|e| StorageError::from_write(e, "access token", "user or device"))
        })?;
        Ok(())
    }

    /// Finds the token with this hash, with its owner's flags. Expiry is not checked here.
    pub async fn lookup_access_token(&self, token_hash: &TokenHash) -> Result<Option<AccessToken>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT t.user_id, t.device_id, t.created_ts, t.expires_ts, \
                        u.is_admin, u.is_guest, u.deactivated \
                 FROM access_tokens t JOIN users u ON u.user_id = t.user_id \
                 WHERE t.token_hash = $1",
            )
            .bind(token_hash.as_bytes().as_slice())
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Deletes one token (logout). Returns whether it existed.
    pub async fn delete_access_token(&self, token_hash: &TokenHash) -> Result<bool> {
        let affected = on_writer!(self, |pool| {
            sqlx::query("DELETE FROM access_tokens WHERE token_hash = $1")
                .bind(token_hash.as_bytes().as_slice())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected > 0)
    }

    /// Deletes every token of a user (logout/all, password reset). Returns how many.
    pub async fn delete_access_tokens_for_user(&self, user_id: &str) -> Result<u64> {
        Ok(on_writer!(self, |pool| {
            sqlx::query("DELETE FROM access_tokens WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Deletes every token bound to one device (re-login with an existing device ID).
    /// Returns how many.
    pub async fn delete_access_tokens_for_device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<u64> {
        Ok(on_writer!(self, |pool| {
            sqlx::query("DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2")
                .bind(user_id)
                .bind(device_id)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_token_with_sha256() {
        // SHA-256("abc") from FIPS 180-2.
        let hash = TokenHash::of("abc");
        assert_eq!(
            format!("{hash:?}"),
            "TokenHash(ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad)"
        );
    }

    #[test]
    fn token_expires_at_its_expiry_time() {
        let token = AccessToken {
            user_id: "@a:x".into(),
            device_id: None,
            created_ts: 0,
            expires_ts: Some(100),
            is_admin: false,
            is_guest: false,
            deactivated: false,
        };
        assert!(!token.is_expired_at(99));
        assert!(token.is_expired_at(100));
        let forever = AccessToken {
            expires_ts: None,
            ..token
        };
        assert!(!forever.is_expired_at(i64::MAX));
    }
}

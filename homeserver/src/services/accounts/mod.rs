//! The accounts service: users, passwords, devices, access tokens, user-interactive auth, profiles, and the
//! ways accounts come to exist (client registration, guest registration, shared-secret registration, JWT login,
//! the admin CLI).
//!
//! Depends on storage only (no other service). Access tokens are 32 random bytes handed to the client once and
//! stored as SHA-256 hashes; passwords are argon2id PHC strings, hashed and verified on the blocking pool so a
//! slow hash never stalls the async workers. OpenID tokens for third parties live in memory (`openid`).

mod devices;
mod error;
mod jwt;
mod login;
mod openid;
mod profile;
mod register;
pub mod shared_secret;
pub mod uia;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_types::{DeviceId, ServerName, UserId};

pub use error::{AccountsError, Result, internal};
pub use hearth_client_api::account::uia::{AuthData, UserIdentifier};
pub use jwt::JwtVerifier;
pub use login::LoginResult;
pub use openid::{OPENID_TOKEN_LIFETIME, OpenIdToken};
pub use profile::Profile;
pub use register::{NewAccount, RegisterRequest};
pub use shared_secret::SharedSecretRequest;

use crate::config::{JwtLoginConfig, RegistrationConfig};
use crate::storage::{NewAccessToken, Storage, StorageError, TokenHash};

/// Longest password accepted (argon2 cost grows with it; Synapse uses the same bound).
pub const MAX_PASSWORD_BYTES: usize = 512;
/// Bytes of entropy of an access token.
const ACCESS_TOKEN_BYTES: usize = 32;
/// Alphabet and length of generated device IDs.
const DEVICE_ID_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DEVICE_ID_LENGTH: usize = 10;

/// The freshly issued credentials of a login or registration.
#[derive(Clone, Debug)]
pub struct Session {
    /// The access token (shown to the client once, never stored).
    pub access_token: String,
    /// The device it belongs to.
    pub device_id: String,
}

/// Users, devices, tokens, UIA and profiles. Build one per server with [`AccountsService::new`] and share it.
#[derive(Debug)]
pub struct AccountsService {
    storage: Storage,
    server_name: ServerName,
    registration: RegistrationConfig,
    jwt: Option<JwtVerifier>,
    uia: uia::UiaSessions,
    nonces: Mutex<HashMap<String, Instant>>,
    /// When each device's `last_seen_*` was last written (see [`AccountsService::device_seen`]).
    seen: Mutex<HashMap<(String, String), Instant>>,
    /// OpenID tokens handed out for third parties (in memory).
    openid: openid::OpenIdTokens,
}

impl AccountsService {
    /// A service over `storage` for users of `server_name`, with registration and JWT login as configured.
    pub fn new(
        storage: Storage,
        server_name: ServerName,
        registration: RegistrationConfig,
        jwt: &JwtLoginConfig,
    ) -> AccountsService {
        AccountsService {
            storage,
            server_name,
            registration,
            jwt: JwtVerifier::from_config(jwt),
            uia: uia::UiaSessions::default(),
            nonces: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
            openid: openid::OpenIdTokens::default(),
        }
    }

    /// A fresh OpenID token for `user` (`POST /user/{userId}/openid/request_token`).
    pub fn request_openid_token(&self, user: &UserId) -> OpenIdToken {
        self.openid.issue(user)
    }

    /// Who requested the OpenID token `token`, while it is valid (`GET /openid/userinfo`).
    pub fn openid_token_owner(&self, token: &str) -> Option<UserId> {
        self.openid.owner(token)
    }

    /// The server users belong to.
    pub fn server_name(&self) -> &ServerName {
        &self.server_name
    }

    /// Resolves what a client typed as "user" (a localpart or a full ID) to a local user ID; `None` for IDs of
    /// other servers or that do not parse.
    pub fn resolve_user(&self, typed: &str) -> Option<UserId> {
        let user_id = if typed.starts_with('@') {
            UserId::parse(typed).ok()?
        } else {
            UserId::parse(&format!("@{}:{}", typed.to_lowercase(), self.server_name)).ok()?
        };
        (user_id.server_name() == &self.server_name).then_some(user_id)
    }

    /// Creates a device (or reuses `device_id` if the user already has it, revoking its old tokens) and issues
    /// a new access token for it.
    pub async fn issue_session(
        &self,
        user_id: &str,
        device_id: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<Session> {
        let device_id = match device_id {
            Some(device_id) => {
                DeviceId::parse(device_id).map_err(|error| {
                    MatrixError::new(
                        ErrorCode::InvalidParam,
                        format!("Invalid device_id: {error}"),
                    )
                })?;
                device_id.to_owned()
            }
            None => hearth_crypto::random::random_string(DEVICE_ID_LENGTH, DEVICE_ID_ALPHABET),
        };
        let now = now_ms();
        if self
            .storage
            .get_device(user_id, &device_id)
            .await?
            .is_some()
        {
            self.storage
                .delete_access_tokens_for_device(user_id, &device_id)
                .await?;
        } else {
            match self
                .storage
                .create_device(user_id, &device_id, display_name, now)
                .await
            {
                Ok(_) | Err(StorageError::Conflict(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        let access_token = hearth_crypto::random::random_token(ACCESS_TOKEN_BYTES);
        self.storage
            .insert_access_token(&NewAccessToken {
                token_hash: TokenHash::of(&access_token),
                user_id,
                device_id: Some(&device_id),
                created_ts: now,
                expires_ts: None,
            })
            .await?;
        Ok(Session {
            access_token,
            device_id,
        })
    }

    /// `/logout`: revokes the token and deletes its device (the spec ties the two together).
    pub async fn logout(
        &self,
        user_id: &UserId,
        device_id: Option<&DeviceId>,
        token_hash: &TokenHash,
    ) -> Result<()> {
        self.storage.delete_access_token(token_hash).await?;
        if let Some(device_id) = device_id {
            match self
                .storage
                .delete_device(user_id.as_str(), device_id.as_str())
                .await
            {
                Ok(()) | Err(StorageError::NotFound(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// `/logout/all`: revokes every token and deletes every device of the user. Returns the deleted devices
    /// (the caller tells the e2ee service, which wakes syncs and tells other servers).
    pub async fn logout_all(&self, user_id: &UserId) -> Result<Vec<String>> {
        self.storage
            .delete_access_tokens_for_user(user_id.as_str())
            .await?;
        self.delete_devices_except(user_id, None).await
    }

    /// Deletes every device of the user but `keep`; returns the ones this call deleted.
    async fn delete_devices_except(
        &self,
        user_id: &UserId,
        keep: Option<&DeviceId>,
    ) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
        for device in self.storage.list_devices(user_id.as_str()).await? {
            if keep.is_some_and(|keep| keep.as_str() == device.device_id) {
                continue;
            }
            match self
                .storage
                .delete_device(user_id.as_str(), &device.device_id)
                .await
            {
                Ok(()) => deleted.push(device.device_id),
                Err(StorageError::NotFound(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(deleted)
    }

    /// `/account/password`: sets a new password after UIA; with `logout_devices`, every other device (and its
    /// tokens) is removed, keeping `keep_device`. Returns the deleted devices.
    pub async fn change_password(
        &self,
        user_id: &UserId,
        new_password: &str,
        logout_devices: bool,
        keep_device: Option<&DeviceId>,
    ) -> Result<Vec<String>> {
        let hash = hash_password(new_password).await?;
        self.storage
            .set_password_hash(user_id.as_str(), Some(&hash))
            .await?;
        if !logout_devices {
            return Ok(Vec::new());
        }
        self.delete_devices_except(user_id, keep_device).await
    }

    /// `/account/deactivate`: the account can never log in again and its ID is never reused.
    pub async fn deactivate(&self, user_id: &UserId, erase: bool) -> Result<()> {
        if erase {
            // `erase`: the profile goes too (it is public data the user asked to remove).
            self.storage.set_displayname(user_id.as_str(), None).await?;
            self.storage.set_avatar_url(user_id.as_str(), None).await?;
        }
        self.storage.deactivate_user(user_id.as_str()).await?;
        Ok(())
    }

    /// Runs user-interactive auth for an operation of the logged-in `user_id`: `m.login.password` with the
    /// user's own password (or `m.login.dummy` for accounts that have no password, e.g. created by JWT login,
    /// whose token is then the only credential). `Ok` once the flow is complete.
    pub async fn authenticate_user(&self, user_id: &UserId, auth: Option<AuthData>) -> Result<()> {
        let has_password = self
            .storage
            .get_user(user_id.as_str())
            .await?
            .is_some_and(|user| user.password_hash.is_some());
        let flows = if has_password {
            vec![vec![uia::PASSWORD]]
        } else {
            vec![vec![uia::DUMMY]]
        };
        let Some(auth) = auth else {
            let (session, released) = self.uia.create(Some(user_id.as_str()));
            self.release_tokens(released).await;
            return Err(uia::challenge(&flows, &session, &[], None));
        };
        let session_id = match auth.session.as_deref() {
            Some(id) => {
                let session = self.uia.get(id).ok_or_else(unknown_session)?;
                if session.user_id.as_deref() != Some(user_id.as_str()) {
                    return Err(MatrixError::new(
                        ErrorCode::Forbidden,
                        "This session belongs to another user",
                    )
                    .into());
                }
                id.to_owned()
            }
            None => {
                let (session, released) = self.uia.create(Some(user_id.as_str()));
                self.release_tokens(released).await;
                session
            }
        };
        let completed = self
            .uia
            .get(&session_id)
            .map(|session| session.completed)
            .unwrap_or_default();
        match auth.kind.as_deref() {
            None => {}
            Some(uia::PASSWORD) if has_password => {
                let claimed = auth
                    .identifier
                    .as_ref()
                    .and_then(|identifier| identifier.user.as_deref())
                    .or(auth.user.as_deref())
                    .and_then(|typed| self.resolve_user(typed));
                let password = auth.password.as_deref().unwrap_or_default();
                let ok = claimed.as_ref() == Some(user_id)
                    && self.check_password(user_id, password).await?;
                if !ok {
                    return Err(uia::challenge(
                        &flows,
                        &session_id,
                        &completed,
                        Some((ErrorCode::Forbidden, "Invalid password")),
                    ));
                }
                self.uia.complete_stage(&session_id, uia::PASSWORD, None);
            }
            Some(uia::DUMMY) if !has_password => {
                self.uia.complete_stage(&session_id, uia::DUMMY, None);
            }
            Some(_) => {
                return Err(uia::challenge(
                    &flows,
                    &session_id,
                    &completed,
                    Some((ErrorCode::Unrecognized, "Unsupported authentication type")),
                ));
            }
        }
        let completed = self
            .uia
            .get(&session_id)
            .map(|session| session.completed)
            .unwrap_or_default();
        if uia::flow_complete(&flows, &completed) {
            self.uia.remove(&session_id);
            Ok(())
        } else {
            Err(uia::challenge(&flows, &session_id, &completed, None))
        }
    }

    /// Whether `password` is the user's password (false for unknown, deactivated or passwordless accounts).
    pub async fn check_password(&self, user_id: &UserId, password: &str) -> Result<bool> {
        let Some(user) = self.storage.get_user(user_id.as_str()).await? else {
            return Ok(false);
        };
        let Some(hash) = user.password_hash else {
            return Ok(false);
        };
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let password = password.to_owned();
        run_argon2(move || hearth_crypto::password::verify_password(&password, &hash)).await
    }

    /// Gives back registration-token uses reserved by abandoned UIA sessions.
    async fn release_tokens(&self, tokens: Vec<String>) {
        for token in tokens {
            if let Err(error) = self
                .storage
                .release_registration_token_reservation(&token)
                .await
            {
                tracing::warn!(%error, "cannot release a registration token reservation");
            }
        }
    }
}

/// Hashes a password with argon2id on the blocking pool.
pub async fn hash_password(password: &str) -> Result<String> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(MatrixError::new(
            ErrorCode::InvalidParam,
            format!("Password is longer than {MAX_PASSWORD_BYTES} bytes"),
        )
        .into());
    }
    let password = password.to_owned();
    run_argon2(move || hearth_crypto::password::hash_password(&password))
        .await?
        .map_err(|error| internal(&error).into())
}

/// Runs one argon2 computation on the blocking pool, at most one per core at a time.
///
/// Each argon2id run holds 19 MiB; unbounded, a burst of logins ran dozens at once and peak RSS reached
/// ~800 MiB (docs/performance.md). Queued callers wait for a permit instead, which also keeps password
/// hashing from starving the blocking pool that other work shares.
async fn run_argon2<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores)
    });
    let _permit = permits.acquire().await.map_err(|error| internal(&error))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| internal(&error).into())
}

fn unknown_session() -> MatrixError {
    MatrixError::new(ErrorCode::Unknown, "Unknown or expired session").with_status(400)
}

/// Current time in ms since the epoch, as storage wants it.
pub fn now_ms() -> i64 {
    i64::try_from(crate::signing_key::now_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod argon2_bound_tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::run_argon2;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn password_hashing_runs_at_most_one_per_core_at_a_time() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = (0..cores * 4).map(|_| {
            let (running, most) = (running.clone(), most.clone());
            tokio::spawn(run_argon2(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            }))
        });
        for job in jobs.collect::<Vec<_>>() {
            assert!(job.await.is_ok_and(|result| result.is_ok()));
        }
        let most = most.load(Ordering::SeqCst);
        assert!(
            most >= 1 && most <= cores,
            "{most} argon2 runs at once on {cores} cores"
        );
    }
}

//! Account creation: `/register` (with its UIA flows), guest accounts, availability and registration-token
//! checks, and [`AccountsService::create_account`] shared with the admin CLI, shared-secret registration and
//! JWT login.
//!
//! Which flow `/register` offers follows `[registration]`: `token_required` → `m.login.registration_token`
//! then `m.login.dummy`, as Synapse orders them and clients such as matrix-nio expect (whatever `open` says); else `open` → `m.login.dummy`; else registration is closed (403). Guests are governed
//! by `guests` alone.

use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_types::UserId;

use super::uia::{self, DUMMY, REGISTRATION_TOKEN};
use super::{AccountsService, AuthData, Result, Session, hash_password, now_ms};
use crate::storage::{NewUser, StorageError};

/// Longest registration token accepted (spec: opaque identifier of at most 64 characters).
const MAX_REGISTRATION_TOKEN_LENGTH: usize = 64;

/// A `/register` call, as the handler parsed it.
#[derive(Clone, Debug, Default)]
pub struct RegisterRequest {
    /// Desired localpart; generated when absent.
    pub username: Option<String>,
    /// Password; an account without one cannot log in with `m.login.password`.
    pub password: Option<String>,
    /// Device to create for the first login.
    pub device_id: Option<String>,
    /// Display name of that device.
    pub initial_device_display_name: Option<String>,
    /// Create the account without logging in.
    pub inhibit_login: bool,
    /// The UIA `auth` object.
    pub auth: Option<AuthData>,
    /// `kind=guest`.
    pub guest: bool,
}

/// A created account and, unless login was inhibited, its first session.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// The new user.
    pub user_id: UserId,
    /// Credentials of the first device.
    pub session: Option<Session>,
}

impl AccountsService {
    /// `POST /register`.
    pub async fn register(&self, request: RegisterRequest) -> Result<NewAccount> {
        if request.guest {
            return self.register_guest(&request).await;
        }
        let flows = self.registration_flows()?;
        let user_id = match request.username.as_deref() {
            Some(username) => self.check_new_localpart(&username.to_lowercase()).await?,
            None => self.generate_user_id().await?,
        };
        if let Some(password) = &request.password
            && password.len() > super::MAX_PASSWORD_BYTES
        {
            return Err(MatrixError::new(ErrorCode::InvalidParam, "Password is too long").into());
        }
        let reserved = self.registration_uia(&flows, request.auth.clone()).await?;
        let created = self
            .create_account(
                user_id.localpart(),
                request.password.as_deref(),
                false,
                false,
            )
            .await;
        match (&created, &reserved) {
            (Ok(_), Some(token)) => {
                if let Err(error) = self
                    .storage
                    .complete_registration_token_reservation(token)
                    .await
                {
                    tracing::warn!(%error, "cannot complete a registration token reservation");
                }
            }
            (Err(_), Some(token)) => self.release_tokens(vec![token.clone()]).await,
            _ => {}
        }
        let user_id = created?;
        self.finish_registration(user_id, &request).await
    }

    /// The UIA flows registration offers, or 403 when it is closed.
    fn registration_flows(&self) -> Result<Vec<Vec<&'static str>>> {
        if self.registration.token_required {
            Ok(vec![vec![REGISTRATION_TOKEN, DUMMY]])
        } else if self.registration.open {
            Ok(vec![vec![DUMMY]])
        } else {
            Err(MatrixError::new(ErrorCode::Forbidden, "Registration is disabled").into())
        }
    }

    /// Runs registration UIA; on success returns the registration token whose use the session reserved.
    async fn registration_uia(
        &self,
        flows: &[Vec<&'static str>],
        auth: Option<AuthData>,
    ) -> Result<Option<String>> {
        let Some(auth) = auth else {
            let (session, released) = self.uia.create(None);
            self.release_tokens(released).await;
            return Err(uia::challenge(flows, &session, &[], None));
        };
        let session_id = match auth.session.as_deref() {
            Some(id) => {
                let session = self.uia.get(id).ok_or_else(super::unknown_session)?;
                if session.user_id.is_some() {
                    return Err(super::unknown_session().into());
                }
                id.to_owned()
            }
            None => {
                let (session, released) = self.uia.create(None);
                self.release_tokens(released).await;
                session
            }
        };
        let completed = |service: &AccountsService| {
            service
                .uia
                .get(&session_id)
                .map(|session| session.completed)
                .unwrap_or_default()
        };
        let offered = |stage: &str| flows.iter().any(|flow| flow.contains(&stage));
        match auth.kind.as_deref() {
            None => {}
            Some(DUMMY) if offered(DUMMY) => self.uia.complete_stage(&session_id, DUMMY, None),
            Some(REGISTRATION_TOKEN) if offered(REGISTRATION_TOKEN) => {
                let already = self
                    .uia
                    .get(&session_id)
                    .and_then(|session| session.reserved_token);
                if already.is_none() {
                    let token = auth.token.as_deref().unwrap_or_default();
                    let valid = !token.is_empty()
                        && token.len() <= MAX_REGISTRATION_TOKEN_LENGTH
                        && self
                            .storage
                            .reserve_registration_token(token, now_ms())
                            .await?;
                    if !valid {
                        return Err(uia::challenge(
                            flows,
                            &session_id,
                            &completed(self),
                            Some((ErrorCode::Unauthorized, "Invalid registration token")),
                        ));
                    }
                    self.uia.complete_stage(
                        &session_id,
                        REGISTRATION_TOKEN,
                        Some(token.to_owned()),
                    );
                }
            }
            Some(_) => {
                return Err(uia::challenge(
                    flows,
                    &session_id,
                    &completed(self),
                    Some((ErrorCode::Unrecognized, "Unsupported authentication type")),
                ));
            }
        }
        if uia::flow_complete(flows, &completed(self)) {
            Ok(self
                .uia
                .remove(&session_id)
                .and_then(|session| session.reserved_token))
        } else {
            Err(uia::challenge(flows, &session_id, &completed(self), None))
        }
    }

    /// `kind=guest`: a generated ID, no password, logged in at once.
    async fn register_guest(&self, request: &RegisterRequest) -> Result<NewAccount> {
        if !self.registration.guests {
            return Err(MatrixError::new(
                ErrorCode::GuestAccessForbidden,
                "Guest registration is disabled",
            )
            .into());
        }
        let user_id = self.generate_user_id().await?;
        self.insert_user(&user_id, None, false, true).await?;
        let request = RegisterRequest {
            inhibit_login: false,
            ..request.clone()
        };
        self.finish_registration(user_id, &request).await
    }

    async fn finish_registration(
        &self,
        user_id: UserId,
        request: &RegisterRequest,
    ) -> Result<NewAccount> {
        let session = if request.inhibit_login {
            None
        } else {
            Some(
                self.issue_session(
                    user_id.as_str(),
                    request.device_id.as_deref(),
                    request.initial_device_display_name.as_deref(),
                )
                .await?,
            )
        };
        Ok(NewAccount { user_id, session })
    }

    /// Creates a local account with `localpart` (checked against the grammar and availability). Used by
    /// `/register`, shared-secret registration, JWT login and the admin CLI.
    pub async fn create_account(
        &self,
        localpart: &str,
        password: Option<&str>,
        admin: bool,
        guest: bool,
    ) -> Result<UserId> {
        let user_id = self.check_new_localpart(localpart).await?;
        let hash = match password {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        self.insert_user(&user_id, hash.as_deref(), admin, guest)
            .await?;
        Ok(user_id)
    }

    async fn insert_user(
        &self,
        user_id: &UserId,
        password_hash: Option<&str>,
        admin: bool,
        guest: bool,
    ) -> Result<()> {
        match self
            .storage
            .create_user(&NewUser {
                user_id: user_id.as_str(),
                password_hash,
                created_ts: now_ms(),
                is_admin: admin,
                is_guest: guest,
                displayname: Some(user_id.localpart()),
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(StorageError::Conflict(_)) => Err(user_in_use().into()),
            Err(error) => Err(error.into()),
        }
    }

    /// Checks that `localpart` makes a valid, unused, non-reserved user ID on this server.
    pub async fn check_new_localpart(&self, localpart: &str) -> Result<UserId> {
        if localpart.starts_with('_') {
            return Err(invalid_username("User IDs may not begin with '_'").into());
        }
        let user_id = UserId::new_for_registration(localpart, &self.server_name).map_err(|_| {
            invalid_username(
                "User IDs may only contain a-z, 0-9, '.', '_', '=', '-', '/' and '+', \
                 and be at most 255 bytes long with the server name",
            )
        })?;
        if self.storage.get_user(user_id.as_str()).await?.is_some() {
            return Err(user_in_use().into());
        }
        Ok(user_id)
    }

    /// `GET /register/available`.
    pub async fn username_available(&self, username: &str) -> Result<()> {
        self.check_new_localpart(&username.to_lowercase())
            .await
            .map(|_| ())
    }

    /// `GET /register/m.login.registration_token/validity`: 403 when registration does not use tokens.
    pub async fn registration_token_valid(&self, token: &str) -> Result<bool> {
        if !self.registration.token_required {
            return Err(MatrixError::new(
                ErrorCode::Forbidden,
                "Registration tokens are not used on this server",
            )
            .into());
        }
        if token.len() > MAX_REGISTRATION_TOKEN_LENGTH {
            return Ok(false);
        }
        Ok(self
            .storage
            .get_registration_token(token)
            .await?
            .is_some_and(|stored| stored.is_valid_at(now_ms())))
    }

    /// A fresh, unused ID with a random numeric-looking localpart.
    async fn generate_user_id(&self) -> Result<UserId> {
        for _ in 0..8 {
            let localpart =
                hearth_crypto::random::random_string(12, "0123456789abcdefghijklmnopqrstuvwxyz");
            match self.check_new_localpart(&localpart).await {
                Ok(user_id) => return Ok(user_id),
                Err(super::AccountsError::Matrix(error))
                    if error.errcode == ErrorCode::UserInUse => {}
                Err(error) => return Err(error),
            }
        }
        Err(super::internal(&"cannot generate an unused user ID").into())
    }
}

fn invalid_username(message: &str) -> MatrixError {
    MatrixError::new(ErrorCode::InvalidUsername, message)
}

fn user_in_use() -> MatrixError {
    MatrixError::new(ErrorCode::UserInUse, "User ID already taken")
}

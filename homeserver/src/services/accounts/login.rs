//! `/login`: the offered login types, `m.login.password` and `org.matrix.login.jwt`.

use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_types::UserId;

use super::{AccountsService, Result, Session, UserIdentifier};

/// `m.login.password`.
pub const PASSWORD_LOGIN: &str = "m.login.password";
/// `org.matrix.login.jwt`.
pub const JWT_LOGIN: &str = "org.matrix.login.jwt";

/// A successful login.
#[derive(Clone, Debug)]
pub struct LoginResult {
    /// Who logged in.
    pub user_id: UserId,
    /// The new credentials.
    pub session: Session,
}

impl AccountsService {
    /// The login types `GET /login` lists.
    pub fn login_types(&self) -> Vec<&'static str> {
        let mut types = vec![PASSWORD_LOGIN];
        if self.jwt.is_some() {
            types.push(JWT_LOGIN);
        }
        types
    }

    /// `m.login.password`: `identifier` (`m.id.user`) or the legacy `user` field, then the password.
    pub async fn login_password(
        &self,
        identifier: Option<&UserIdentifier>,
        legacy_user: Option<&str>,
        password: &str,
        device_id: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<LoginResult> {
        let typed = match identifier {
            Some(identifier) if identifier.kind != "m.id.user" => {
                return Err(MatrixError::new(
                    ErrorCode::Unknown,
                    "Only m.id.user identifiers are supported",
                )
                .with_status(400)
                .into());
            }
            Some(identifier) => identifier.user.as_deref(),
            None => legacy_user,
        };
        let typed = typed
            .ok_or_else(|| MatrixError::new(ErrorCode::MissingParam, "Missing user identifier"))?;
        let forbidden = || MatrixError::new(ErrorCode::Forbidden, "Invalid username or password");
        let user_id = self.resolve_user(typed).ok_or_else(forbidden)?;
        if !self.check_password(&user_id, password).await? {
            return Err(forbidden().into());
        }
        self.login_existing(user_id, device_id, display_name).await
    }

    /// `org.matrix.login.jwt`: a token signed with the configured secret whose `sub` names the user; the
    /// account is created on its first login.
    pub async fn login_jwt(
        &self,
        token: &str,
        device_id: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<LoginResult> {
        let Some(verifier) = &self.jwt else {
            return Err(MatrixError::new(ErrorCode::Unknown, "Unknown login type")
                .with_status(400)
                .into());
        };
        let subject = verifier.subject(token)?;
        let user_id = self.resolve_user(&subject).ok_or_else(|| {
            MatrixError::new(
                ErrorCode::Forbidden,
                "The token's subject is not a local user",
            )
        })?;
        match self.storage.get_user(user_id.as_str()).await? {
            Some(_) => {}
            None => {
                self.create_account(user_id.localpart(), None, false, false)
                    .await?;
            }
        }
        self.login_existing(user_id, device_id, display_name).await
    }

    async fn login_existing(
        &self,
        user_id: UserId,
        device_id: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<LoginResult> {
        let user = self.storage.get_user(user_id.as_str()).await?;
        if user.as_ref().is_none_or(|user| user.deactivated) {
            return Err(MatrixError::new(
                ErrorCode::UserDeactivated,
                "This account has been deactivated",
            )
            .into());
        }
        let session = self
            .issue_session(user_id.as_str(), device_id, display_name)
            .await?;
        Ok(LoginResult { user_id, session })
    }
}

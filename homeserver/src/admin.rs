//! `hearth admin …`: user and registration-token administration straight against the configured database
//! (SQLite or PostgreSQL), safe while the server runs (SQLite waits for the server's writer through its busy
//! timeout; PostgreSQL serialises as usual). Output is a table, or JSON with `--json`.
//!
//! Users are created through [`AccountsService::create_account`], so the CLI enforces the same user-ID grammar,
//! availability check and argon2id hashing as `/register`.

mod media;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use hearth_types::{ServerName, UserId};
use serde_json::{Value, json};

use crate::config::{Config, ConfigDuration};
use crate::services::accounts::{AccountsError, AccountsService, hash_password, now_ms};
use crate::storage::{NewRegistrationToken, RegistrationToken, Storage, StorageError, User};

/// How many users `user list` reads per page.
const LIST_PAGE: u32 = 500;
/// Length of generated passwords and registration tokens.
const GENERATED_SECRET_LENGTH: usize = 20;
const SECRET_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `hearth admin [--json] …`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to administer.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// `hearth admin user|invite`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Local user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Registration tokens (`m.login.registration_token`).
    #[command(subcommand)]
    Invite(InviteCommand),
    /// The media repository: list, delete, quarantine, purge cached remote media.
    #[command(subcommand)]
    Media(media::MediaCommand),
}

/// `hearth admin user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; prints a generated password unless --password is given.
    Create {
        /// Localpart or full user ID.
        user: String,
        /// The password (visible in the process list: prefer the generated one for shared machines).
        #[arg(long)]
        password: Option<String>,
        /// Make the user a server administrator.
        #[arg(long)]
        admin: bool,
    },
    /// List every account.
    List,
    /// Deactivate an account (logs it out everywhere; the ID is never reused).
    Deactivate {
        /// Localpart or full user ID.
        user: String,
    },
    /// Set a new password (generated unless --password is given) and log the user out everywhere.
    ResetPassword {
        /// Localpart or full user ID.
        user: String,
        /// The new password.
        #[arg(long)]
        password: Option<String>,
    },
    /// Make a user a server administrator.
    Promote {
        /// Localpart or full user ID.
        user: String,
    },
    /// Remove a user's administrator rights.
    Demote {
        /// Localpart or full user ID.
        user: String,
    },
}

/// `hearth admin invite …`.
#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Create a registration token.
    Create {
        /// How many registrations it allows (unlimited when absent).
        #[arg(long)]
        uses: Option<u32>,
        /// How long it stays valid, e.g. 7d, 12h (forever when absent).
        #[arg(long)]
        expires: Option<ConfigDuration>,
        /// The token itself (generated when absent; at most 64 of A-Z a-z 0-9 . _ ~ -).
        #[arg(long)]
        token: Option<String>,
    },
    /// List every registration token.
    List,
    /// Delete a registration token.
    Revoke {
        /// The token.
        token: String,
    },
}

/// Runs an admin command against `config`'s database; the exit code says whether it worked.
pub fn run(config: &Config, args: AdminArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hearth: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(config, args)) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("hearth: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(config: &Config, args: AdminArgs) -> Result<String, String> {
    let server_name = ServerName::parse(&config.server_name)
        .map_err(|error| format!("server_name `{}`: {error}", config.server_name))?;
    let storage = Storage::connect(&config.database_url())
        .await
        .map_err(|error| format!("database: {error}"))?;
    let accounts = AccountsService::new(
        storage.clone(),
        server_name.clone(),
        config.registration.clone(),
        &config.login.jwt,
    );
    let admin = Admin {
        storage: &storage,
        accounts: &accounts,
        json: args.json,
    };
    let result = match args.command {
        AdminCommand::User(command) => admin.user(command).await,
        AdminCommand::Invite(command) => admin.invite(command).await,
        AdminCommand::Media(command) => {
            media::execute(config, &storage, &server_name, args.json, command).await
        }
    };
    storage.close().await;
    result
}

struct Admin<'a> {
    storage: &'a Storage,
    accounts: &'a AccountsService,
    json: bool,
}

impl Admin<'_> {
    async fn user(&self, command: UserCommand) -> Result<String, String> {
        match command {
            UserCommand::Create {
                user,
                password,
                admin,
            } => {
                let localpart = self.localpart_of(&user)?;
                let (password, generated) = match password {
                    Some(password) => (password, false),
                    None => (generate_secret(), true),
                };
                let user_id = self
                    .accounts
                    .create_account(&localpart, Some(&password), admin, false)
                    .await
                    .map_err(describe)?;
                Ok(self.render(
                    json!({"user_id": user_id.as_str(), "admin": admin,
                           "password": generated.then_some(&password)}),
                    || {
                        let mut text = format!("created {user_id}\n");
                        if generated {
                            text.push_str(&format!("password: {password}\n"));
                        }
                        text
                    },
                ))
            }
            UserCommand::List => {
                let mut users = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let page = self
                        .storage
                        .list_users(after.as_deref(), LIST_PAGE)
                        .await
                        .map_err(|error| error.to_string())?;
                    let full = page.len() == LIST_PAGE as usize;
                    after = page.last().map(|user| user.user_id.clone());
                    users.extend(page);
                    if !full {
                        break;
                    }
                }
                Ok(
                    self.render(Value::Array(users.iter().map(user_json).collect()), || {
                        users_table(&users)
                    }),
                )
            }
            UserCommand::Deactivate { user } => {
                let user_id = self.existing_user(&user).await?;
                self.storage
                    .deactivate_user(user_id.as_str())
                    .await
                    .map_err(|error| error.to_string())?;
                Ok(self.done(&user_id, "deactivated"))
            }
            UserCommand::ResetPassword { user, password } => {
                let user_id = self.existing_user(&user).await?;
                let (password, generated) = match password {
                    Some(password) => (password, false),
                    None => (generate_secret(), true),
                };
                let hash = hash_password(&password).await.map_err(describe)?;
                self.storage
                    .set_password_hash(user_id.as_str(), Some(&hash))
                    .await
                    .map_err(|error| error.to_string())?;
                self.storage
                    .delete_access_tokens_for_user(user_id.as_str())
                    .await
                    .map_err(|error| error.to_string())?;
                Ok(self.render(
                    json!({"user_id": user_id.as_str(), "password": generated.then_some(&password)}),
                    || {
                        let mut text = format!("password of {user_id} reset; its sessions are logged out\n");
                        if generated {
                            text.push_str(&format!("password: {password}\n"));
                        }
                        text
                    },
                ))
            }
            UserCommand::Promote { user } => self.set_admin(&user, true).await,
            UserCommand::Demote { user } => self.set_admin(&user, false).await,
        }
    }

    async fn set_admin(&self, user: &str, admin: bool) -> Result<String, String> {
        let user_id = self.existing_user(user).await?;
        self.storage
            .set_admin(user_id.as_str(), admin)
            .await
            .map_err(|error| error.to_string())?;
        Ok(self.done(&user_id, if admin { "promoted" } else { "demoted" }))
    }

    async fn invite(&self, command: InviteCommand) -> Result<String, String> {
        match command {
            InviteCommand::Create {
                uses,
                expires,
                token,
            } => {
                let token = match token {
                    Some(token) => {
                        check_token(&token)?;
                        token
                    }
                    None => generate_secret(),
                };
                let now = now_ms();
                let expiry_ts = expires.map(|duration| {
                    now.saturating_add(
                        i64::try_from(duration.as_duration().as_millis()).unwrap_or(i64::MAX),
                    )
                });
                let created = self
                    .storage
                    .create_registration_token(&NewRegistrationToken {
                        token: &token,
                        uses_allowed: uses.map(i64::from),
                        expiry_ts,
                        created_ts: now,
                    })
                    .await
                    .map_err(|error| match error {
                        StorageError::Conflict(_) => {
                            format!("registration token `{token}` already exists")
                        }
                        other => other.to_string(),
                    })?;
                Ok(self.render(token_json(&created, now), || {
                    format!("created registration token {}\n", created.token)
                }))
            }
            InviteCommand::List => {
                let tokens = self
                    .storage
                    .list_registration_tokens()
                    .await
                    .map_err(|error| error.to_string())?;
                let now = now_ms();
                Ok(self.render(
                    Value::Array(tokens.iter().map(|token| token_json(token, now)).collect()),
                    || tokens_table(&tokens, now),
                ))
            }
            InviteCommand::Revoke { token } => {
                self.storage
                    .revoke_registration_token(&token)
                    .await
                    .map_err(|error| match error {
                        StorageError::NotFound(_) => format!("no registration token `{token}`"),
                        other => other.to_string(),
                    })?;
                Ok(self.render(json!({"revoked": token}), || {
                    format!("revoked registration token {token}\n")
                }))
            }
        }
    }

    /// The localpart for a new user from a localpart or a full ID of this server.
    fn localpart_of(&self, typed: &str) -> Result<String, String> {
        if typed.starts_with('@') {
            let user_id = UserId::parse(typed).map_err(|error| format!("`{typed}`: {error}"))?;
            if user_id.server_name() != self.accounts.server_name() {
                return Err(format!(
                    "`{typed}` is not a user of this server ({})",
                    self.accounts.server_name()
                ));
            }
            Ok(user_id.localpart().to_owned())
        } else {
            Ok(typed.to_lowercase())
        }
    }

    async fn existing_user(&self, typed: &str) -> Result<UserId, String> {
        let user_id = self
            .accounts
            .resolve_user(typed)
            .ok_or_else(|| format!("`{typed}` is not a user ID of this server"))?;
        match self.storage.get_user(user_id.as_str()).await {
            Ok(Some(_)) => Ok(user_id),
            Ok(None) => Err(format!("no user {user_id}")),
            Err(error) => Err(error.to_string()),
        }
    }

    fn done(&self, user_id: &UserId, what: &str) -> String {
        self.render(json!({"user_id": user_id.as_str(), "result": what}), || {
            format!("{what} {user_id}\n")
        })
    }

    fn render(&self, value: Value, text: impl FnOnce() -> String) -> String {
        render(self.json, value, text)
    }
}

/// `value` as one line of JSON when `json`, else the text.
fn render(json: bool, value: Value, text: impl FnOnce() -> String) -> String {
    if json { format!("{value}\n") } else { text() }
}

fn describe(error: AccountsError) -> String {
    match error {
        AccountsError::Matrix(error) => format!("{}: {}", error.errcode, error.error),
        AccountsError::AuthRequired(_) => "authentication required".to_owned(),
    }
}

fn generate_secret() -> String {
    hearth_crypto::random::random_string(GENERATED_SECRET_LENGTH, SECRET_ALPHABET)
}

/// Registration tokens use the spec's opaque-identifier grammar, at most 64 characters.
fn check_token(token: &str) -> Result<(), String> {
    let grammar = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'));
    if token.is_empty() || token.len() > 64 || !grammar {
        return Err(format!(
            "`{token}` is not a valid registration token: use 1-64 of A-Z a-z 0-9 . _ ~ -"
        ));
    }
    Ok(())
}

fn user_json(user: &User) -> Value {
    json!({
        "user_id": user.user_id,
        "admin": user.is_admin,
        "guest": user.is_guest,
        "deactivated": user.deactivated,
        "displayname": user.displayname,
        "created_ts": user.created_ts,
    })
}

fn token_json(token: &RegistrationToken, now: i64) -> Value {
    json!({
        "token": token.token,
        "uses_allowed": token.uses_allowed,
        "pending": token.pending,
        "completed": token.completed,
        "expiry_ts": token.expiry_ts,
        "valid": token.is_valid_at(now),
    })
}

/// Left-aligned columns separated by two spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

fn users_table(users: &[User]) -> String {
    let flag = |set: bool| if set { "yes" } else { "no" }.to_owned();
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|user| {
            vec![
                user.user_id.clone(),
                flag(user.is_admin),
                flag(user.is_guest),
                flag(user.deactivated),
                user.displayname.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["USER", "ADMIN", "GUEST", "DEACTIVATED", "DISPLAY NAME"],
        &rows,
    )
}

fn tokens_table(tokens: &[RegistrationToken], now: i64) -> String {
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|token| {
            vec![
                token.token.clone(),
                token
                    .uses_allowed
                    .map_or_else(|| "unlimited".to_owned(), |n| n.to_string()),
                token.completed.to_string(),
                token.pending.to_string(),
                token
                    .expiry_ts
                    .map_or_else(|| "never".to_owned(), |ts| ts.to_string()),
                if token.is_valid_at(now) { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    table(
        &[
            "TOKEN",
            "USES",
            "COMPLETED",
            "PENDING",
            "EXPIRES (ms)",
            "VALID",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let text = table(&["A", "BB"], &[vec!["long".into(), "x".into()]]);
        assert_eq!(text, "A     BB\nlong  x\n");
    }

    #[test]
    fn token_grammar_is_enforced() {
        assert!(check_token("abc-DEF_1.~").is_ok());
        assert!(check_token("").is_err());
        assert!(check_token("has space").is_err());
        assert!(check_token(&"a".repeat(65)).is_err());
    }
}

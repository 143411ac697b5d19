//! Local user accounts: creation, lookup, listing, password, admin flag, profile, deactivation.
//!
//! User IDs are full Matrix IDs (`@alice:example.org`), validated by the caller before they get
//! here; storage compares them byte for byte.

use super::{Result, Storage, StorageError, in_write_tx, on_reader, on_writer};

/// A local account as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    /// Full Matrix user ID; primary key.
    pub user_id: String,
    /// Password hash in PHC string form; `None` for accounts that cannot log in with a password
    /// (guests, deactivated users, SSO-only users later).
    pub password_hash: Option<String>,
    /// When the account was created (ms since the epoch).
    pub created_ts: i64,
    /// Server administrator (admin API and CLI privileges).
    pub is_admin: bool,
    /// Guest account with restricted API access.
    pub is_guest: bool,
    /// Deactivated accounts keep their row (the ID must never be reused) but cannot log in.
    pub deactivated: bool,
    /// Global profile display name.
    pub displayname: Option<String>,
    /// Global profile avatar (`mxc://` URI).
    pub avatar_url: Option<String>,
}

/// What a caller supplies to create an account; everything else starts at its default
/// (not deactivated).
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    /// Full Matrix user ID.
    pub user_id: &'a str,
    /// PHC-format password hash, or `None` for no password login.
    pub password_hash: Option<&'a str>,
    /// Creation time (ms since the epoch).
    pub created_ts: i64,
    /// Whether the account starts as a server administrator.
    pub is_admin: bool,
    /// Whether this is a guest account.
    pub is_guest: bool,
    /// Initial display name (registration defaults it to the localpart).
    pub displayname: Option<&'a str>,
}

const USER_COLUMNS: &str = "user_id, password_hash, created_ts, is_admin, is_guest, deactivated, \
                            displayname, avatar_url";

impl Storage {
    /// Creates an account. Fails with `Conflict("user")` if the ID is taken, including by a
    /// deactivated account.
    pub async fn create_user(&self, new: &NewUser<'_>) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (user_id, password_hash, created_ts, is_admin, is_guest, \
             deactivated, displayname) VALUES ($1, $2, $3, $4, $5, FALSE, $6) \
             RETURNING {USER_COLUMNS}"
        );
        on_writer!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(new.user_id)
                .bind(new.password_hash)
                .bind(new.created_ts)
                .bind(new.is_admin)
                .bind(new.is_guest)
                .bind(new.displayname)
                .fetch_one(pool)
                .await
                .map_err(|e| StorageError::from_write(e, "user", "user"))
        })
    }

    /// Looks an account up by its full user ID.
    pub async fn get_user(&self, user_id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1");
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(user_id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Lists accounts in user-ID order, `limit` at a time, starting after `after` (keyset
    /// pagination: pass the last user ID of the previous page). Includes deactivated accounts.
    pub async fn list_users(&self, after: Option<&str>, limit: u32) -> Result<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE $1 IS NULL OR user_id > $1 \
             ORDER BY user_id LIMIT $2"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?)
        })
    }

    /// Number of accounts, deactivated ones included (for metrics and first-run checks).
    pub async fn count_users(&self) -> Result<i64> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(pool)
                .await?)
        })
    }

    /// Replaces (or with `None`, removes) the password hash. `NotFound("user")` if absent.
    pub async fn set_password_hash(
        &self,
        user_id: &str,
        password_hash: Option<&str>,
    ) -> Result<()> {
        let affected = on_writer!(self, |pool| {
            sqlx::query("UPDATE users SET password_hash = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(password_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        expect_one_row(affected, "user")
    }

    /// Grants or revokes server-admin rights. `NotFound("user")` if absent.
    pub async fn set_admin(&self, user_id: &str, is_admin: bool) -> Result<()> {
        let affected = on_writer!(self, |pool| {
            sqlx::query("UPDATE users SET is_admin = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(is_admin)
                .execute(pool)
                .await?
                .rows_affected()
        });
        expect_one_row(affected, "user")
    }

    /// Sets or clears the global display name. `NotFound("user")` if absent.
    pub async fn set_displayname(&self, user_id: &str, displayname: Option<&str>) -> Result<()> {
        let affected = on_writer!(self, |pool| {
            sqlx::query("UPDATE users SET displayname = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(displayname)
                .execute(pool)
                .await?
                .rows_affected()
        });
        expect_one_row(affected, "user")
    }

    /// Sets or clears the global avatar URL. `NotFound("user")` if absent.
    pub async fn set_avatar_url(&self, user_id: &str, avatar_url: Option<&str>) -> Result<()> {
        let affected = on_writer!(self, |pool| {
            sqlx::query("UPDATE users SET avatar_url = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(avatar_url)
                .execute(pool)
                .await?
                .rows_affected()
        });
        expect_one_row(affected, "user")
    }

    /// Deactivates an account in one transaction: marks it deactivated, removes its password
    /// hash, and deletes all its devices and access tokens (logging out everywhere). The row
    /// itself stays so the user ID is never handed out again. Idempotent for an already
    /// deactivated account; `NotFound("user")` if absent.
    pub async fn deactivate_user(&self, user_id: &str) -> Result<()> {
        in_write_tx!(self, |tx| {
            let affected = sqlx::query(
                "UPDATE users SET deactivated = TRUE, password_hash = NULL WHERE user_id = $1",
            )
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            expect_one_row(affected, "user")?;
            sqlx::query("DELETE FROM access_tokens WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM devices WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }
}

/// Turns an UPDATE/DELETE row count into `NotFound(what)` when nothing matched.
pub(super) fn expect_one_row(affected: u64, what: &'static str) -> Result<()> {
    if affected == 0 {
        Err(StorageError::NotFound(what))
    } else {
        Ok(())
    }
}

//! Seeding users with a device and an access token directly through storage, so these tests do not depend on
//! the registration endpoints.

use hearth::storage::{NewAccessToken, NewUser, Storage, TokenHash};

/// Creates `user_id` with device `DEV` and access token `token`.
pub async fn user_with_token(storage: &Storage, user_id: &str, token: &str) {
    storage
        .create_user(&NewUser {
            user_id,
            password_hash: None,
            created_ts: 1,
            is_admin: false,
            is_guest: false,
            displayname: None,
        })
        .await
        .unwrap();
    storage
        .create_device(user_id, "DEV", None, 1)
        .await
        .unwrap();
    storage
        .insert_access_token(&NewAccessToken {
            token_hash: TokenHash::of(token),
            user_id,
            device_id: Some("DEV"),
            created_ts: 1,
            expires_ts: None,
        })
        .await
        .unwrap();
}

//! OpenID tokens (`POST /user/{userId}/openid/request_token`): short-lived bearer tokens a user hands to a
//! third party (an integration manager, a widget), which proves who issued it by asking this server's
//! federation API (`GET /_matrix/federation/v1/openid/userinfo`). Such a token grants nothing else.
//!
//! Kept in memory, bounded: a restart forgets them (their holders ask again, as on expiry).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hearth_crypto::random::random_token;
use hearth_types::UserId;

/// How long a token is valid (Synapse's default, one hour).
pub const OPENID_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Most tokens held at once; past it, expired ones go first, then the oldest.
const MAX_TOKENS: usize = 10_000;

/// A token as `request_token` answers it.
#[derive(Debug, Clone)]
pub struct OpenIdToken {
    /// The bearer token.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// The live tokens, by value, with their owner and expiry.
#[derive(Debug, Default)]
pub(super) struct OpenIdTokens {
    tokens: Mutex<HashMap<String, (UserId, Instant)>>,
}

impl OpenIdTokens {
    /// A fresh token for `user`.
    pub(super) fn issue(&self, user: &UserId) -> OpenIdToken {
        let access_token = random_token(32);
        let now = Instant::now();
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, (_, expires)| *expires > now);
        }
        if tokens.len() >= MAX_TOKENS
            && let Some(oldest) = tokens
                .iter()
                .min_by_key(|(_, (_, expires))| *expires)
                .map(|(token, _)| token.clone())
        {
            tokens.remove(&oldest);
        }
        tokens.insert(
            access_token.clone(),
            (user.clone(), now + OPENID_TOKEN_LIFETIME),
        );
        OpenIdToken {
            access_token,
            expires_in: OPENID_TOKEN_LIFETIME.as_secs(),
        }
    }

    /// The owner of `token` if it was issued here and has not expired.
    pub(super) fn owner(&self, token: &str) -> Option<UserId> {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        match tokens.get(token) {
            Some((user, expires)) if *expires > Instant::now() => Some(user.clone()),
            Some(_) => {
                tokens.remove(token);
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_owner_until_it_expires_and_unknown_tokens_name_nobody() {
        let tokens = OpenIdTokens::default();
        let alice = UserId::parse("@alice:hearth.test").unwrap();
        let issued = tokens.issue(&alice);
        assert_eq!(issued.expires_in, 3600);
        assert_eq!(tokens.owner(&issued.access_token), Some(alice.clone()));
        assert_ne!(tokens.issue(&alice).access_token, issued.access_token);
        assert_eq!(tokens.owner("not-a-token"), None);
        tokens
            .tokens
            .lock()
            .unwrap()
            .get_mut(&issued.access_token)
            .unwrap()
            .1 = Instant::now() - Duration::from_secs(1);
        assert_eq!(tokens.owner(&issued.access_token), None);
    }
}

//! User-interactive authentication (spec, "User-Interactive Authentication API"): sessions, stages and the
//! 401 challenge bodies.
//!
//! Sessions live in memory: they last minutes, and a restart only makes a client start the dance again. A
//! session records the stages completed so far, the user it was started for (a session begun by one user cannot
//! be finished by another) and a registration-token use it reserved (given back when the session expires).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hearth_client_api::error::ErrorCode;
use serde_json::{Value, json};

use super::error::AccountsError;

/// How long a session stays usable after it was created.
const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// The most sessions kept at once; beyond it the oldest are dropped, so anonymous `/register` calls cannot
/// grow memory without bound.
const MAX_SESSIONS: usize = 10_000;

/// Stage types Hearth implements.
pub const DUMMY: &str = "m.login.dummy";
/// Password re-authentication of the logged-in user.
pub const PASSWORD: &str = "m.login.password";
/// A registration token from `hearth admin invite create`.
pub const REGISTRATION_TOKEN: &str = "m.login.registration_token";

/// One in-progress session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Stage types completed, in order.
    pub completed: Vec<String>,
    /// The user the session authenticates (for endpoints of a logged-in user).
    pub user_id: Option<String>,
    /// A registration token whose use this session reserved.
    pub reserved_token: Option<String>,
    created: Instant,
}

/// All sessions of this process.
#[derive(Debug, Default)]
pub struct UiaSessions {
    sessions: Mutex<HashMap<String, Session>>,
}

impl UiaSessions {
    /// Creates a session bound to `user_id` (or to nobody, for registration) and returns its ID. Expired
    /// sessions are swept here; their reserved registration tokens are returned for release.
    pub fn create(&self, user_id: Option<&str>) -> (String, Vec<String>) {
        let id = hearth_crypto::random::random_token(18);
        let mut sessions = self.lock();
        let released = sweep(&mut sessions);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, session)| session.created)
                .map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                completed: Vec::new(),
                user_id: user_id.map(str::to_owned),
                reserved_token: None,
                created: Instant::now(),
            },
        );
        (id, released)
    }

    /// The session with this ID, if it exists and has not expired.
    pub fn get(&self, id: &str) -> Option<Session> {
        let sessions = self.lock();
        sessions
            .get(id)
            .filter(|session| session.created.elapsed() < SESSION_LIFETIME)
            .cloned()
    }

    /// Records a completed stage (and optionally a reserved token) on a session.
    pub fn complete_stage(&self, id: &str, stage: &str, reserved_token: Option<String>) {
        if let Some(session) = self.lock().get_mut(id) {
            if !session.completed.iter().any(|done| done == stage) {
                session.completed.push(stage.to_owned());
            }
            if reserved_token.is_some() {
                session.reserved_token = reserved_token;
            }
        }
    }

    /// Ends a session (its operation succeeded or failed for good) and returns it.
    pub fn remove(&self, id: &str) -> Option<Session> {
        self.lock().remove(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Drops expired sessions; returns the registration tokens they had reserved.
fn sweep(sessions: &mut HashMap<String, Session>) -> Vec<String> {
    let mut released = Vec::new();
    sessions.retain(|_, session| {
        let alive = session.created.elapsed() < SESSION_LIFETIME;
        if !alive && let Some(token) = session.reserved_token.take() {
            released.push(token);
        }
        alive
    });
    released
}

/// Whether some flow is fully covered by `completed`.
pub fn flow_complete(flows: &[Vec<&'static str>], completed: &[String]) -> bool {
    flows.iter().any(|flow| {
        flow.iter()
            .all(|stage| completed.iter().any(|c| c == stage))
    })
}

/// The 401 challenge: what is needed, what is done, and optionally why the last attempt failed.
pub fn challenge(
    flows: &[Vec<&'static str>],
    session: &str,
    completed: &[String],
    failure: Option<(ErrorCode, &str)>,
) -> AccountsError {
    let flows: Vec<Value> = flows
        .iter()
        .map(|stages| json!({ "stages": stages }))
        .collect();
    let mut body = json!({
        "flows": flows,
        "params": {},
        "session": session,
        "completed": completed,
    });
    if let Some((code, message)) = failure {
        body["errcode"] = json!(code.as_str());
        body["error"] = json!(message);
    }
    AccountsError::AuthRequired(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_is_complete_when_all_its_stages_are() {
        let flows = vec![vec![DUMMY], vec![PASSWORD, REGISTRATION_TOKEN]];
        assert!(flow_complete(&flows, &[DUMMY.to_owned()]));
        assert!(!flow_complete(&flows, &[PASSWORD.to_owned()]));
        assert!(flow_complete(
            &flows,
            &[REGISTRATION_TOKEN.to_owned(), PASSWORD.to_owned()]
        ));
    }

    #[test]
    fn sessions_record_stages_once() {
        let sessions = UiaSessions::default();
        let (id, _) = sessions.create(Some("@a:x"));
        sessions.complete_stage(&id, DUMMY, None);
        sessions.complete_stage(&id, DUMMY, None);
        let session = sessions.get(&id).unwrap();
        assert_eq!(session.completed, vec![DUMMY.to_owned()]);
        assert_eq!(session.user_id.as_deref(), Some("@a:x"));
        assert!(sessions.remove(&id).is_some());
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn challenge_has_errcode_only_after_a_failed_stage() {
        let AccountsError::AuthRequired(body) = challenge(&[vec![DUMMY]], "s", &[], None) else {
            panic!("challenge");
        };
        assert!(body.get("errcode").is_none());
        assert_eq!(body["flows"][0]["stages"][0], DUMMY);
        let AccountsError::AuthRequired(body) = challenge(
            &[vec![PASSWORD]],
            "s",
            &[],
            Some((ErrorCode::Forbidden, "no")),
        ) else {
            panic!("challenge");
        };
        assert_eq!(body["errcode"], "M_FORBIDDEN");
    }
}

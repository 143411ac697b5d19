//! An owned [`Event`] for unit tests, and a tiny room builder that fills in auth events.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::event::Event;

/// A test PDU with every field the traits read.
#[derive(Clone, Debug)]
pub(crate) struct TestEvent {
    pub(crate) event_id: String,
    pub(crate) room_id: Option<String>,
    pub(crate) sender: String,
    pub(crate) event_type: String,
    pub(crate) state_key: Option<String>,
    pub(crate) content: Value,
    pub(crate) prev_events: Vec<String>,
    pub(crate) auth_events: Vec<String>,
    pub(crate) origin_server_ts: i64,
    pub(crate) depth: i64,
    pub(crate) redacts: Option<String>,
    pub(crate) rejected: bool,
}

impl TestEvent {
    /// A state event in `!room:x` with no prev or auth events.
    pub(crate) fn state(
        id: &str,
        event_type: &str,
        state_key: &str,
        sender: &str,
        content: Value,
    ) -> Self {
        Self {
            event_id: id.to_owned(),
            room_id: Some("!room:x".to_owned()),
            sender: sender.to_owned(),
            event_type: event_type.to_owned(),
            state_key: Some(state_key.to_owned()),
            content,
            prev_events: Vec::new(),
            auth_events: Vec::new(),
            origin_server_ts: 0,
            depth: 0,
            redacts: None,
            rejected: false,
        }
    }

    /// A message event.
    pub(crate) fn message(id: &str, event_type: &str, sender: &str, content: Value) -> Self {
        Self {
            state_key: None,
            ..Self::state(id, event_type, "", sender, content)
        }
    }
}

impl Event for TestEvent {
    type Id = String;

    fn event_id(&self) -> &String {
        &self.event_id
    }
    fn room_id(&self) -> Option<&str> {
        self.room_id.as_deref()
    }
    fn sender(&self) -> &str {
        &self.sender
    }
    fn event_type(&self) -> &str {
        &self.event_type
    }
    fn state_key(&self) -> Option<&str> {
        self.state_key.as_deref()
    }
    fn content(&self) -> &Value {
        &self.content
    }
    fn prev_events(&self) -> impl Iterator<Item = &String> {
        self.prev_events.iter()
    }
    fn auth_events(&self) -> impl Iterator<Item = &String> {
        self.auth_events.iter()
    }
    fn origin_server_ts(&self) -> i64 {
        self.origin_server_ts
    }
    fn depth(&self) -> i64 {
        self.depth
    }
    fn redacts(&self) -> Option<&str> {
        self.redacts.as_deref()
    }
    fn rejected(&self) -> bool {
        self.rejected
    }
}

/// A room state for auth tests: `(type, state_key) -> event`.
#[derive(Clone, Debug, Default)]
pub(crate) struct TestState(pub(crate) BTreeMap<(String, String), TestEvent>);

impl TestState {
    /// Adds (or replaces) a state event.
    pub(crate) fn with(mut self, event: TestEvent) -> Self {
        let key = (
            event.event_type.clone(),
            event.state_key.clone().unwrap_or_default(),
        );
        self.0.insert(key, event);
        self
    }

    /// A lookup closure over this state, as the check functions take it.
    pub(crate) fn lookup<'a>(&'a self) -> impl Fn(&str, &str) -> Option<&'a TestEvent> + 'a {
        |event_type, state_key| self.0.get(&(event_type.to_owned(), state_key.to_owned()))
    }
}

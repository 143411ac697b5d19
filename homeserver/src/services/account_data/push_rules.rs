//! Push rules (`/pushrules/…`): the spec's default rule set, created for a user on first read, and the edits the
//! client makes to it. The rule set lives in the user's `m.push_rules` global account data (`{"global": …}`), so
//! every edit reaches the user's other clients through /sync. Edits are read-modify-write under the user's edit
//! lock, so concurrent edits never lose one another. Evaluation is `hearth_client_api::push` (used by /sync's
//! unread counts).
//!
//! Rule order inside a kind is priority order. User-defined rules go before the server-default rules of their
//! kind (for `override`, after `.m.rule.master`, which always comes first), unless `before`/`after` say where.

use serde_json::{Map, Value, json};

use super::{AccountDataService, UserDataError};

/// The account data type holding the rule set.
const PUSH_RULES_TYPE: &str = "m.push_rules";
/// The rule kinds, in priority order.
pub const KINDS: [&str; 5] = ["override", "content", "room", "sender", "underride"];

/// Where a new user rule goes, relative to an existing user rule of the same kind.
#[derive(Clone, Copy, Debug)]
pub enum Placement<'a> {
    /// Highest priority among user rules (the default).
    First,
    /// Just before the named rule.
    Before(&'a str),
    /// Just after the named rule.
    After(&'a str),
}

impl AccountDataService {
    /// The whole rule set, `{"global": {"override": […], …}}`; the defaults are stored on first read.
    pub async fn push_rules(&self, user_id: &str) -> Result<Map<String, Value>, UserDataError> {
        match self.get(user_id, None, PUSH_RULES_TYPE).await {
            Ok(rules) => Ok(rules),
            Err(UserDataError::NotFound(_)) => {
                // Creating the defaults is a write: under the user's edit lock, so it cannot overwrite an edit.
                let _edit = self.edit_lock(user_id).await;
                self.push_rules_for_edit(user_id).await
            }
            Err(error) => Err(error),
        }
    }

    /// [`Self::push_rules`] for a caller that holds the user's edit lock.
    async fn push_rules_for_edit(
        &self,
        user_id: &str,
    ) -> Result<Map<String, Value>, UserDataError> {
        match self.get(user_id, None, PUSH_RULES_TYPE).await {
            Ok(rules) => Ok(rules),
            Err(UserDataError::NotFound(_)) => {
                let rules = default_push_rules(user_id);
                self.set(user_id, None, PUSH_RULES_TYPE, &rules).await?;
                Ok(rules)
            }
            Err(error) => Err(error),
        }
    }

    /// One rule; `NotFound` if the scope, kind or rule is unknown.
    pub async fn push_rule(
        &self,
        user_id: &str,
        scope: &str,
        kind: &str,
        rule_id: &str,
    ) -> Result<Value, UserDataError> {
        let mut rules = self.push_rules(user_id).await?;
        let list = rule_list(&mut rules, scope, kind)?;
        list.iter()
            .find(|rule| rule_id_of(rule) == Some(rule_id))
            .cloned()
            .ok_or_else(rule_not_found)
    }

    /// Creates or replaces a user-defined rule from a `PUT` body (`actions`, and `conditions` or `pattern`
    /// depending on the kind).
    pub async fn put_push_rule(
        &self,
        user_id: &str,
        scope: &str,
        kind: &str,
        rule_id: &str,
        body: &Map<String, Value>,
        placement: Placement<'_>,
    ) -> Result<(), UserDataError> {
        if rule_id.starts_with('.') {
            return Err(UserDataError::InvalidParam(
                "Rule IDs starting with '.' are reserved for server-default rules".to_owned(),
            ));
        }
        if rule_id.is_empty() || rule_id.contains('/') || rule_id.contains('\\') {
            return Err(UserDataError::InvalidParam("Invalid rule ID".to_owned()));
        }
        let rule = new_rule(kind, rule_id, body)?;
        let _edit = self.edit_lock(user_id).await;
        let mut rules = self.push_rules_for_edit(user_id).await?;
        let list = rule_list(&mut rules, scope, kind)?;
        let existing = list
            .iter()
            .position(|rule| rule_id_of(rule) == Some(rule_id));
        if let Some(index) = existing {
            list.remove(index);
        }
        let index = match placement {
            Placement::First => list
                .iter()
                .position(|rule| rule_id_of(rule) != Some(".m.rule.master"))
                .unwrap_or(list.len()),
            Placement::Before(anchor) | Placement::After(anchor) => {
                if anchor.starts_with('.') {
                    return Err(UserDataError::InvalidParam(
                        "before/after cannot name a server-default rule".to_owned(),
                    ));
                }
                let at = list
                    .iter()
                    .position(|rule| rule_id_of(rule) == Some(anchor))
                    .ok_or_else(|| {
                        UserDataError::NotFound(format!(
                            "no rule {anchor} to place the rule next to"
                        ))
                    })?;
                if matches!(placement, Placement::After(_)) {
                    at + 1
                } else {
                    at
                }
            }
        };
        list.insert(index, rule);
        self.set(user_id, None, PUSH_RULES_TYPE, &rules).await
    }

    /// Deletes a user-defined rule; server-default rules can only be disabled.
    pub async fn delete_push_rule(
        &self,
        user_id: &str,
        scope: &str,
        kind: &str,
        rule_id: &str,
    ) -> Result<(), UserDataError> {
        let _edit = self.edit_lock(user_id).await;
        let mut rules = self.push_rules_for_edit(user_id).await?;
        let list = rule_list(&mut rules, scope, kind)?;
        let index = list
            .iter()
            .position(|rule| rule_id_of(rule) == Some(rule_id))
            .ok_or_else(rule_not_found)?;
        if rule_id.starts_with('.') {
            return Err(UserDataError::InvalidParam(
                "Server-default rules cannot be deleted".to_owned(),
            ));
        }
        list.remove(index);
        self.set(user_id, None, PUSH_RULES_TYPE, &rules).await
    }

    /// Reads one attribute (`enabled` or `actions`) of a rule, as the GET answers it.
    pub async fn push_rule_attribute(
        &self,
        user_id: &str,
        scope: &str,
        kind: &str,
        rule_id: &str,
        attribute: &str,
    ) -> Result<Value, UserDataError> {
        check_attribute(attribute)?;
        let rule = self.push_rule(user_id, scope, kind, rule_id).await?;
        let value = rule.get(attribute).cloned().unwrap_or(Value::Null);
        Ok(json!({ attribute: value }))
    }

    /// Sets one attribute of a rule from a PUT body: `{"enabled": bool}` or `{"actions": [...]}`.
    pub async fn set_push_rule_attribute(
        &self,
        user_id: &str,
        scope: &str,
        kind: &str,
        rule_id: &str,
        attribute: &str,
        body: &Map<String, Value>,
    ) -> Result<(), UserDataError> {
        check_attribute(attribute)?;
        let value = body
            .get(attribute)
            .ok_or_else(|| UserDataError::BadJson(format!("missing `{attribute}`")))?;
        match attribute {
            "enabled" if !value.is_boolean() => {
                return Err(UserDataError::BadJson(
                    "`enabled` must be a boolean".to_owned(),
                ));
            }
            "actions" => check_actions(value)?,
            _ => {}
        }
        let _edit = self.edit_lock(user_id).await;
        let mut rules = self.push_rules_for_edit(user_id).await?;
        let list = rule_list(&mut rules, scope, kind)?;
        let rule = list
            .iter_mut()
            .find(|rule| rule_id_of(rule) == Some(rule_id))
            .and_then(Value::as_object_mut)
            .ok_or_else(rule_not_found)?;
        rule.insert(attribute.to_owned(), value.clone());
        self.set(user_id, None, PUSH_RULES_TYPE, &rules).await
    }
}

fn rule_not_found() -> UserDataError {
    UserDataError::NotFound("Unknown push rule".to_owned())
}

fn rule_id_of(rule: &Value) -> Option<&str> {
    rule.get("rule_id").and_then(Value::as_str)
}

fn check_attribute(attribute: &str) -> Result<(), UserDataError> {
    if attribute == "enabled" || attribute == "actions" {
        Ok(())
    } else {
        Err(UserDataError::NotFound(format!(
            "Unknown push rule attribute {attribute}"
        )))
    }
}

/// The mutable rule list of `kind` in `scope`; `NotFound` for anything but `global` and the five kinds.
fn rule_list<'a>(
    rules: &'a mut Map<String, Value>,
    scope: &str,
    kind: &str,
) -> Result<&'a mut Vec<Value>, UserDataError> {
    if scope != "global" || !KINDS.contains(&kind) {
        return Err(UserDataError::NotFound(format!(
            "Unknown push rule scope or kind {scope}/{kind}"
        )));
    }
    let ruleset = rules
        .entry("global")
        .or_insert_with(|| Value::Object(Map::new()));
    if !ruleset.is_object() {
        *ruleset = Value::Object(Map::new());
    }
    let list = ruleset
        .as_object_mut()
        .ok_or_else(|| UserDataError::internal("push rule set is not an object"))?
        .entry(kind)
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    list.as_array_mut()
        .ok_or_else(|| UserDataError::internal("push rule list is not an array"))
}

/// Actions are an array of strings or objects (`set_tweak`); anything else is `M_BAD_JSON`.
fn check_actions(actions: &Value) -> Result<(), UserDataError> {
    let valid = actions.as_array().is_some_and(|actions| {
        actions
            .iter()
            .all(|action| action.is_string() || action.is_object())
    });
    if valid {
        Ok(())
    } else {
        Err(UserDataError::BadJson(
            "`actions` must be an array of strings and objects".to_owned(),
        ))
    }
}

/// Builds a user rule of `kind` from a PUT body.
fn new_rule(kind: &str, rule_id: &str, body: &Map<String, Value>) -> Result<Value, UserDataError> {
    let actions = body
        .get("actions")
        .ok_or_else(|| UserDataError::BadJson("missing `actions`".to_owned()))?;
    check_actions(actions)?;
    let mut rule = Map::new();
    rule.insert("rule_id".to_owned(), json!(rule_id));
    rule.insert("default".to_owned(), json!(false));
    rule.insert("enabled".to_owned(), json!(true));
    rule.insert("actions".to_owned(), actions.clone());
    match kind {
        "override" | "underride" => {
            let conditions = body.get("conditions").cloned().unwrap_or(json!([]));
            let valid = conditions
                .as_array()
                .is_some_and(|conditions| conditions.iter().all(Value::is_object));
            if !valid {
                return Err(UserDataError::BadJson(
                    "`conditions` must be an array of objects".to_owned(),
                ));
            }
            rule.insert("conditions".to_owned(), conditions);
        }
        "content" => {
            let pattern = body.get("pattern").and_then(Value::as_str).ok_or_else(|| {
                UserDataError::BadJson("content rules need a `pattern`".to_owned())
            })?;
            rule.insert("pattern".to_owned(), json!(pattern));
        }
        "room" | "sender" => {}
        _ => {
            return Err(UserDataError::NotFound(format!(
                "Unknown push rule kind {kind}"
            )));
        }
    }
    Ok(Value::Object(rule))
}

/// The spec's default rule set for `user_id` (see [`hearth_client_api::push::default_rules`]).
pub fn default_push_rules(user_id: &str) -> Map<String, Value> {
    hearth_client_api::push::default_rules(user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_name_the_user_and_keep_master_first_and_disabled() {
        let rules = default_push_rules("@alice:hearth.test");
        let overrides = rules["global"]["override"].as_array().unwrap();
        assert_eq!(overrides[0]["rule_id"], ".m.rule.master");
        assert_eq!(overrides[0]["enabled"], false);
        let invite = overrides
            .iter()
            .find(|rule| rule["rule_id"] == ".m.rule.invite_for_me")
            .unwrap();
        assert_eq!(invite["conditions"][2]["pattern"], "@alice:hearth.test");
        assert!(
            rules["global"]["underride"]
                .as_array()
                .unwrap()
                .iter()
                .all(|rule| rule["default"] == true)
        );
        for kind in KINDS {
            assert!(rules["global"][kind].is_array(), "{kind} present");
        }
    }

    #[test]
    fn content_rules_need_a_pattern_and_actions_must_be_an_array() {
        let body = json!({"actions": ["notify"]});
        assert!(new_rule("content", "x", body.as_object().unwrap()).is_err());
        let body = json!({"actions": "notify", "pattern": "cake"});
        assert!(new_rule("content", "x", body.as_object().unwrap()).is_err());
        let body = json!({"actions": ["notify"], "pattern": "cake"});
        let rule = new_rule("content", "x", body.as_object().unwrap()).unwrap();
        assert_eq!(rule["pattern"], "cake");
        assert_eq!(rule["default"], false);
    }
}

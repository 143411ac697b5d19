//! The inbound federation service as the [`RoomImport`] of remote joins.

use hearth_types::RoomVersionRules;
use serde_json::Value;

use super::RoomImport;
use crate::services::federation::FederationService;
use crate::services::outbound::BoxFuture;
use crate::services::rooms::{RemoteOutcome, RoomError};

impl RoomImport for FederationService {
    fn import_joined_room<'a>(
        &'a self,
        room_id: &'a str,
        rules: &'static RoomVersionRules,
        join_event: Value,
        state: Vec<Value>,
        auth_chain: Vec<Value>,
    ) -> BoxFuture<'a, Result<(), RoomError>> {
        Box::pin(async move {
            match self
                .import_send_join(room_id, rules, join_event, state, auth_chain)
                .await
            {
                Ok(RemoteOutcome::Accepted | RemoteOutcome::AlreadyKnown) => Ok(()),
                Ok(RemoteOutcome::SoftFailed(reason) | RemoteOutcome::Rejected(reason)) => Err(
                    RoomError::Forbidden(format!("the join fails the room's rules: {reason}")),
                ),
                Err(error) => Err(RoomError::Remote(format!("the room's state: {error}"))),
            }
        })
    }
}

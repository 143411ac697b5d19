// Edits (m.replace), reactions (m.annotation) and redactions through matrix-js-sdk: each is a real event, stored
// (fetched back with GET /event) and delivered to the other member's /sync.

import assert from "node:assert/strict";

import { scenario, startHearth } from "./harness.mjs";
import { SHARED_ROOM, aliceAndBob, sdk, until, waitForTimelineEvent } from "./sdk.mjs";

const SEND = "PUT /rooms/{id}/send/{type}/{txnId}";
const GET_EVENT = "GET /rooms/{id}/event/{eventId}";

scenario("js_sdk_edit_is_stored_and_delivered_as_an_m_replace_event", {
    needs: [...SHARED_ROOM, SEND, GET_EVENT],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    const { event_id: original } = await alice.sendTextMessage(roomId, "see you at 5");
    const editContent = {
        "msgtype": "m.text",
        "body": "* see you at 6",
        "m.new_content": { msgtype: "m.text", body: "see you at 6" },
        "m.relates_to": { rel_type: sdk.RelationType.Replace, event_id: original },
    };
    const { event_id: edit } = await alice.sendEvent(roomId, sdk.EventType.RoomMessage, editContent);

    const delivered = await waitForTimelineEvent(bob, roomId, edit);
    assert.deepEqual(delivered.getWireContent(), editContent);
    // The SDK applies the edit to the original it already showed, as Element does.
    const shown = await until(bob, () => {
        const event = bob.getRoom(roomId).findEventById(original);
        return event?.replacingEventId() === edit && event;
    }, "the original replaced by the edit");
    assert.equal(shown.getContent().body, "see you at 6");

    const stored = await bob.fetchRoomEvent(roomId, edit);
    assert.equal(stored.type, "m.room.message");
    assert.equal(stored.sender, alice.getUserId());
    assert.deepEqual(stored.content, editContent);
});

scenario("js_sdk_reaction_is_stored_and_delivered_as_an_m_annotation_event", {
    needs: [...SHARED_ROOM, SEND, GET_EVENT],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    const { event_id: message } = await alice.sendTextMessage(roomId, "lunch?");
    const reactionContent = { "m.relates_to": { rel_type: "m.annotation", event_id: message, key: "👍" } };
    const { event_id: reaction } = await bob.sendEvent(roomId, sdk.EventType.Reaction, reactionContent);

    const delivered = await waitForTimelineEvent(alice, roomId, reaction);
    assert.equal(delivered.getType(), "m.reaction");
    assert.equal(delivered.getSender(), bob.getUserId());
    assert.deepEqual(delivered.getContent(), reactionContent);

    const stored = await alice.fetchRoomEvent(roomId, reaction);
    assert.equal(stored.content["m.relates_to"].key, "👍");
});

scenario("js_sdk_redacted_message_reaches_the_other_user_without_its_content", {
    needs: [...SHARED_ROOM, SEND, "PUT /rooms/{id}/redact/{eventId}/{txnId}", GET_EVENT,
        "redacted content stripped with unsigned.redacted_because"],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    const { event_id: secret } = await alice.sendTextMessage(roomId, "my password is hunter2");
    const shown = await waitForTimelineEvent(bob, roomId, secret);

    const { event_id: redaction } = await alice.redactEvent(roomId, secret, undefined, { reason: "oops" });
    await until(bob, () => shown.isRedacted(), "the redaction");
    assert.deepEqual(shown.getContent(), {});

    const stored = await bob.fetchRoomEvent(roomId, secret);
    assert.deepEqual(stored.content, {});
    assert.equal(stored.unsigned.redacted_because.event_id, redaction);
});

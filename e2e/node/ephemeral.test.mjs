// Typing notifications and read receipts through matrix-js-sdk: what one member does shows in the other's client.

import assert from "node:assert/strict";

import { scenario, startHearth } from "./harness.mjs";
import { SHARED_ROOM, aliceAndBob, sdk, until, waitForTimelineEvent } from "./sdk.mjs";

scenario("js_sdk_typing_notification_reaches_the_other_user", {
    needs: [...SHARED_ROOM, "PUT /rooms/{id}/typing/{userId}", "GET /sync (ephemeral m.typing)"],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    const aliceTyping = (typing) => () => bob.getRoom(roomId)?.getMember(alice.getUserId())?.typing === typing;

    await alice.sendTyping(roomId, true, 30_000);
    await until(bob, aliceTyping(true), "alice typing");

    await alice.sendTyping(roomId, false);
    await until(bob, aliceTyping(false), "alice stop typing");
});

scenario("js_sdk_read_receipt_reaches_the_other_user", {
    needs: [...SHARED_ROOM, "PUT /rooms/{id}/send/m.room.message/{txnId}",
        "POST /rooms/{id}/receipt/m.read/{eventId}", "GET /sync (ephemeral m.receipt)"],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    const { event_id: message } = await alice.sendTextMessage(roomId, "did you read this?");
    const event = await waitForTimelineEvent(bob, roomId, message);

    const bobRead = () => alice.getRoom(roomId)?.getEventReadUpTo(bob.getUserId()) === message;
    await bob.sendReadReceipt(event, sdk.ReceiptType.Read);
    await until(alice, bobRead, "bob's read receipt");
    assert.ok(alice.getRoom(roomId).getUsersReadUpTo(alice.getRoom(roomId).findEventById(message))
        .includes(bob.getUserId()));
});

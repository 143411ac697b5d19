// Rooms through matrix-js-sdk: create, invite, join, exchange messages, page back through 200 messages, leave.

import assert from "node:assert/strict";

import { scenario, startHearth } from "./harness.mjs";
import {
    SHARED_ROOM,
    aliceAndBob,
    aliceAndBobInRoom,
    runningUser,
    waitForMember,
    waitForMembership,
    waitForTimelineEvent,
} from "./sdk.mjs";

const SEND = "PUT /rooms/{id}/send/m.room.message/{txnId}";
const HISTORY_LENGTH = 200;

scenario("js_sdk_user_creates_room_invites_and_the_invited_user_joins", {
    needs: SHARED_ROOM,
}, async (t) => {
    const server = await startHearth(t);
    const alice = await runningUser(t, server, "alice");
    const bob = await runningUser(t, server, "bob");
    const roomId = await aliceAndBobInRoom(alice, bob, "Planning");
    const room = bob.getRoom(roomId);
    assert.equal(room.name, "Planning");
    assert.deepEqual(room.getJoinedMembers().map((m) => m.userId).sort(), [alice.getUserId(), bob.getUserId()].sort());
});

scenario("js_sdk_two_users_exchange_messages_and_each_sees_the_others", {
    needs: [...SHARED_ROOM, SEND],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    const { event_id: hello } = await alice.sendTextMessage(roomId, "hello bob");
    const seen = await waitForTimelineEvent(bob, roomId, hello);
    assert.equal(seen.getSender(), alice.getUserId());
    assert.deepEqual(seen.getContent(), { msgtype: "m.text", body: "hello bob" });

    const { event_id: reply } = await bob.sendTextMessage(roomId, "hi alice");
    const seenReply = await waitForTimelineEvent(alice, roomId, reply);
    assert.equal(seenReply.getSender(), bob.getUserId());
    assert.equal(seenReply.getContent().body, "hi alice");
});

scenario("js_sdk_user_pages_back_through_200_messages_of_history", {
    needs: [...SHARED_ROOM, SEND, "GET /sync (timeline limited with prev_batch)",
        "GET /rooms/{id}/messages (dir=b, from, limit)"],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    let lastId;
    for (let index = 0; index < HISTORY_LENGTH; index++) {
        ({ event_id: lastId } = await alice.sendTextMessage(roomId, `message ${index}`));
    }
    await waitForTimelineEvent(bob, roomId, lastId);
    const room = bob.getRoom(roomId);
    const bodies = () => room.getLiveTimeline().getEvents()
        .filter((e) => e.getType() === "m.room.message").map((e) => e.getContent().body);
    // scrollback() is Element's "load older messages": GET /messages backwards from the timeline's start token.
    for (let page = 0; page < HISTORY_LENGTH && bodies().length < HISTORY_LENGTH; page++) {
        const before = room.getLiveTimeline().getEvents().length;
        await bob.scrollback(room, 50);
        if (room.getLiveTimeline().getEvents().length === before) break;
    }
    assert.deepEqual(bodies(), Array.from({ length: HISTORY_LENGTH }, (_, i) => `message ${i}`));
});

scenario("js_sdk_leaving_user_sees_the_room_as_left_and_the_other_sees_the_leave", {
    needs: [...SHARED_ROOM, "POST /rooms/{id}/leave", "GET /sync (rooms.leave)"],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    await bob.leave(roomId);
    await waitForMembership(bob, roomId, "leave");
    await waitForMember(alice, roomId, bob.getUserId(), "leave");
});

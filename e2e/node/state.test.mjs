// Room state, profiles and account data through matrix-js-sdk: name/topic/avatar URL changes reach the other
// member, a profile shows in member events, and a DM marked in m.direct reaches the user's other device.

import assert from "node:assert/strict";

import { scenario, startHearth } from "./harness.mjs";
import {
    ACCOUNTS,
    SHARED_ROOM,
    aliceAndBob,
    makeClient,
    password,
    registerDummy,
    runningUser,
    sdk,
    startAndWaitPrepared,
    until,
    waitForMembership,
    within,
} from "./sdk.mjs";

scenario("js_sdk_room_name_topic_and_avatar_url_changes_reach_the_other_member", {
    needs: [...SHARED_ROOM, "PUT /rooms/{id}/state/{type}/{stateKey}"],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    const avatar = `mxc://${server.serverName}/RoomAvatar123`;
    await alice.setRoomName(roomId, "Weekend trip");
    await alice.setRoomTopic(roomId, "Who brings the tent?");
    await alice.sendStateEvent(roomId, sdk.EventType.RoomAvatar, { url: avatar }, "");

    const current = () => {
        const room = bob.getRoom(roomId);
        const state = room?.getLiveTimeline().getState(sdk.EventTimeline.FORWARDS);
        const topic = state?.getStateEvents(sdk.EventType.RoomTopic, "")?.getContent().topic;
        return room?.name === "Weekend trip" && topic === "Who brings the tent?" && room.getMxcAvatarUrl() === avatar;
    };
    await until(bob, current, "the new name, topic and avatar");
});

scenario("js_sdk_profile_display_name_and_avatar_url_show_in_member_events", {
    needs: [...SHARED_ROOM, "PUT /profile/{userId}/displayname", "PUT /profile/{userId}/avatar_url",
        "GET /profile/{userId}", "profile changes propagated to the user's m.room.member events"],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    const avatar = `mxc://${server.serverName}/AliceFace`;
    await alice.setDisplayName("Alice Liddell");
    await alice.setAvatarUrl(avatar);

    const profile = await bob.getProfileInfo(alice.getUserId());
    assert.deepEqual([profile.displayname, profile.avatar_url], ["Alice Liddell", avatar]);
    const updated = () => {
        const member = bob.getRoom(roomId)?.getMember(alice.getUserId());
        return member?.name === "Alice Liddell" && member.getMxcAvatarUrl() === avatar;
    };
    await until(bob, updated, "alice's member event with her profile");
});

scenario("js_sdk_direct_chat_marked_in_m_direct_reaches_the_users_other_device", {
    needs: [...ACCOUNTS, "POST /login (m.login.password)", "POST /createRoom (is_direct, invite, trusted_private_chat)",
        "PUT /user/{userId}/account_data/m.direct", "GET /sync (account_data, invite state)"],
}, async (t) => {
    const server = await startHearth(t);
    const secret = password();
    const credentials = await registerDummy(server, "alice", secret);
    const alice = makeClient(server, credentials);
    t.after(() => alice.stopClient());
    await startAndWaitPrepared(alice);
    const bob = await runningUser(t, server, "bob");

    const { room_id: dm } = await alice.createRoom({
        is_direct: true, invite: [bob.getUserId()], preset: sdk.Preset.TrustedPrivateChat,
    });
    await within(alice.setAccountData(sdk.EventType.Direct, { [bob.getUserId()]: [dm] }), "setAccountData(m.direct)");

    // bob's invite is flagged as direct, which is how Element files it under People.
    const invited = await waitForMembership(bob, dm, "invite");
    assert.equal(invited.getMember(bob.getUserId())?.events.member?.getContent().is_direct, true);

    // A second device of alice gets the DM list in its first sync.
    const login = await makeClient(server).loginRequest({
        type: "m.login.password", identifier: { type: "m.id.user", user: "alice" }, password: secret,
    });
    const otherDevice = makeClient(server, login);
    t.after(() => otherDevice.stopClient());
    await startAndWaitPrepared(otherDevice);
    assert.deepEqual(otherDevice.getAccountData(sdk.EventType.Direct)?.getContent(), { [bob.getUserId()]: [dm] });
});

// A restart loses nothing: a client resuming /sync from a token issued before the server stopped gets every
// message sent before and after the restart, once each, in order.

import assert from "node:assert/strict";

import { scenario, startHearth } from "./harness.mjs";
import { SHARED_ROOM, aliceAndBob, makeClient, WAIT_MS } from "./sdk.mjs";

scenario("js_sdk_sync_from_a_token_issued_before_restart_loses_nothing", {
    needs: [...SHARED_ROOM, "PUT /rooms/{id}/send/m.room.message/{txnId}",
        "sync tokens and access tokens that survive a restart"],
}, async (t) => {
    const server = await startHearth(t);
    const { alice, bob, roomId } = await aliceAndBob(t, server);
    bob.stopClient();
    // bob's last sync token, as a client app would have persisted it.
    const raw = makeClient(server, { user_id: bob.getUserId(), access_token: bob.getAccessToken(), device_id: bob.getDeviceId() });
    const tokenBefore = (await raw.http.authedRequest("GET", "/sync", { timeout: "0" })).next_batch;

    const before = [];
    for (let i = 0; i < 3; i++) before.push((await alice.sendTextMessage(roomId, `before restart ${i}`)).event_id);
    alice.stopClient();
    await server.restart();
    const after = [];
    for (let i = 0; i < 2; i++) after.push((await alice.sendTextMessage(roomId, `after restart ${i}`)).event_id);

    const filter = JSON.stringify({ room: { timeline: { limit: 50 } } });
    const received = [];
    let since = tokenBefore;
    const deadline = Date.now() + WAIT_MS;
    while (!(before.concat(after)).every((id) => received.includes(id))) {
        assert.ok(Date.now() < deadline, `messages missing after restart; got ${received.join(", ")}`);
        const response = await raw.http.authedRequest("GET", "/sync", { since, timeout: "2000", filter });
        const timeline = response.rooms?.join?.[roomId]?.timeline;
        assert.ok(!timeline?.limited, "5 messages fit in a timeline of 50: nothing may be skipped");
        received.push(...(timeline?.events ?? []).filter((e) => e.type === "m.room.message").map((e) => e.event_id));
        since = response.next_batch;
    }
    assert.deepEqual(received.filter((id) => before.includes(id) || after.includes(id)), [...before, ...after]);
});

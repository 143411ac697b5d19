// Accounts through matrix-js-sdk: registration (open, and with an invite token through user-interactive auth),
// password login on a second device, whoami.

import assert from "node:assert/strict";

import { scenario, startHearth } from "./harness.mjs";
import { makeClient, password, registerDummy, registerInteractive } from "./sdk.mjs";

scenario("js_sdk_user_registers_with_dummy_auth_when_registration_is_open", {
    needs: ["POST /register (m.login.dummy)", "GET /account/whoami"],
}, async (t) => {
    const server = await startHearth(t);
    const registered = await registerDummy(server, "alice");
    assert.equal(registered.user_id, server.userId("alice"));
    assert.ok(registered.access_token && registered.device_id);
    const whoami = await makeClient(server, registered).whoami();
    assert.equal(whoami.user_id, server.userId("alice"));
    assert.equal(whoami.device_id, registered.device_id);
});

scenario("js_sdk_user_registers_with_invite_token_from_admin_cli", {
    needs: ["hearth admin invite create --json", "POST /register (401 with flows and session)",
        "POST /register (m.login.registration_token)", "GET /account/whoami"],
}, async (t) => {
    const server = await startHearth(t, { registrationOpen: false, tokenRequired: true });
    const token = await server.createInviteToken(1);
    // The first request gets a 401 naming the flows and a session; the stages are then completed in turn.
    const request = { username: "carol", password: password(), initial_device_display_name: "carol's js-sdk" };
    const registered = await registerInteractive(server, request, { stage: "m.login.registration_token", token });
    assert.equal(registered.user_id, server.userId("carol"));
    assert.equal((await makeClient(server, registered).whoami()).user_id, server.userId("carol"));
});

scenario("js_sdk_user_logs_in_with_password_on_a_second_device", {
    needs: ["POST /register (m.login.dummy)", "GET /login (flows)", "POST /login (m.login.password, m.id.user)",
        "GET /account/whoami"],
}, async (t) => {
    const server = await startHearth(t);
    const secret = password();
    const registered = await registerDummy(server, "alice", secret);
    const client = makeClient(server);
    const flows = await client.loginFlows();
    assert.ok(flows.flows.some((flow) => flow.type === "m.login.password"), JSON.stringify(flows));
    const login = await client.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: "alice" },
        password: secret,
        initial_device_display_name: "second device",
    });
    assert.equal(login.user_id, server.userId("alice"));
    assert.notEqual(login.device_id, registered.device_id);
    assert.equal((await makeClient(server, login).whoami()).device_id, login.device_id);
});

// Discovery and Element Web's start-up as matrix-js-sdk performs them: .well-known, /versions, and startClient's
// sequence versions → capabilities → push rules → filter → sync until the client is PREPARED and SYNCING.

import assert from "node:assert/strict";

import { scenario, startHearth } from "./harness.mjs";
import { makeClient, registerDummy, sdk, waitFor } from "./sdk.mjs";

scenario("js_sdk_autodiscovery_finds_homeserver_through_well_known_and_versions", {
    needs: ["GET /.well-known/matrix/client", "GET /_matrix/client/versions"],
}, async (t) => {
    const server = await startHearth(t);
    // findClientConfig fetches .well-known, then checks /versions lists a spec version the SDK supports.
    const config = await sdk.AutoDiscovery.findClientConfig(server.baseUrl);
    assert.equal(config["m.homeserver"].state, sdk.AutoDiscovery.SUCCESS, JSON.stringify(config));
    assert.equal(config["m.homeserver"].base_url, server.baseUrl);
});

scenario("js_sdk_reads_server_versions_and_finds_a_supported_spec_version", {
    needs: ["GET /_matrix/client/versions"],
}, async (t) => {
    const server = await startHearth(t);
    const client = makeClient(server);
    const versions = await client.getVersions();
    assert.ok(versions.versions.includes("v1.1"), JSON.stringify(versions));
    assert.equal(await client.isVersionSupported("v1.1"), true);
});

scenario("element_startup_sequence_reaches_prepared_and_syncing", {
    needs: ["POST /register (m.login.dummy)", "GET /capabilities", "GET /pushrules/ (the spec's default rules)",
        "POST /user/{userId}/filter", "GET /sync (initial with the filter, then long-poll)"],
}, async (t) => {
    const server = await startHearth(t);
    const credentials = await registerDummy(server, "alice");
    const requests = [];
    const recordingFetch = (url, init) => {
        requests.push(`${init?.method ?? "GET"} ${new URL(url).pathname}`);
        return fetch(url, init);
    };
    const client = makeClient(server, credentials, { fetchFn: recordingFetch });
    t.after(() => client.stopClient());

    const states = [];
    const syncing = waitFor(client, sdk.ClientEvent.Sync, (state) => {
        states.push(state);
        if (state === "ERROR") throw new Error(`sync failed; requests so far: ${requests.join(", ")}`);
        return state === "SYNCING";
    }, "the client reach SYNCING");
    await client.startClient({ initialSyncLimit: 20 });
    await syncing;

    assert.deepEqual(states.slice(0, 2), ["PREPARED", "SYNCING"]);
    const firstIndex = (pattern) => requests.findIndex((request) => pattern.test(request));
    const order = {
        versions: firstIndex(/^GET \/_matrix\/client\/versions$/),
        capabilities: firstIndex(/^GET \/_matrix\/client\/v3\/capabilities$/),
        pushrules: firstIndex(/^GET \/_matrix\/client\/v3\/pushrules\/$/),
        filter: firstIndex(/^POST \/_matrix\/client\/v3\/user\/[^/]+\/filter$/),
        sync: firstIndex(/^GET \/_matrix\/client\/v3\/sync$/),
    };
    for (const [name, index] of Object.entries(order)) {
        assert.ok(index >= 0, `${name} was never requested; requests: ${requests.join(", ")}`);
    }
    assert.ok(order.versions < order.pushrules && order.pushrules < order.filter && order.filter < order.sync,
        `start-up order versions → pushrules → filter → sync; requests: ${requests.join(", ")}`);
    // The push rules the server gave are the spec's defaults, which Element shows in its settings.
    const rules = client.pushRules?.global;
    assert.ok(rules?.override?.some((rule) => rule.rule_id === ".m.rule.master"), "default override rules");
    assert.ok(rules?.underride?.some((rule) => rule.rule_id === ".m.rule.message"), "default underride rules");
});

// matrix-js-sdk helpers shared by the scenarios: accounts, running clients, and bounded waits on client events.
//
// The scenarios talk to Hearth only through matrix-js-sdk, as Element Web does; these helpers add nothing to the
// protocol, they only make failures readable and every wait finite.

import { randomBytes } from "node:crypto";

import * as sdk from "matrix-js-sdk";
import { logger as sdkModuleLogger } from "matrix-js-sdk/lib/logger.js";

export { sdk };

// The SDK logs every request at debug level; keep test output to its errors (HEARTH_E2E_SDK_LOG=1: everything).
const VERBOSE = process.env.HEARTH_E2E_SDK_LOG === "1";
if (!VERBOSE) sdkModuleLogger.setLevel("error", false);
const quiet = () => {};
/** The logger given to every client: errors only, unless HEARTH_E2E_SDK_LOG=1. */
const clientLogger = VERBOSE ? undefined : {
    trace: quiet, debug: quiet, info: quiet, warn: quiet,
    error: (...args) => console.error("matrix-js-sdk:", ...args),
    getChild: () => clientLogger,
};

/** What most scenarios use to get two logged-in users; listed in their `needs`. */
export const ACCOUNTS = ["POST /register (m.login.dummy)"];
/** A room alice made and bob joined, with both clients syncing; listed in `needs` of scenarios using it. */
export const SHARED_ROOM = [...ACCOUNTS, "GET /capabilities", "GET /pushrules/", "POST /user/{userId}/filter",
    "GET /sync", "POST /createRoom", "POST /rooms/{id}/invite", "POST /join/{id}"];

/** How long a scenario waits for one thing to show up in a client. */
export const WAIT_MS = 20_000;

/** A fresh random password. */
export const password = () => randomBytes(18).toString("base64url");

/** A matrix-js-sdk client for `server`, logged in when `credentials` are given. */
export function makeClient(server, credentials = {}, options = {}) {
    return sdk.createClient({
        baseUrl: server.baseUrl,
        userId: credentials.user_id,
        accessToken: credentials.access_token,
        deviceId: credentials.device_id,
        localTimeoutMs: 30_000,
        logger: clientLogger,
        ...options,
    });
}

/** Registers `localpart` with m.login.dummy; resolves to the registration response (user_id, access_token, …). */
export async function registerDummy(server, localpart, secret = password()) {
    const anonymous = makeClient(server);
    return anonymous.registerRequest({
        username: localpart,
        password: secret,
        initial_device_display_name: `${localpart}'s matrix-js-sdk`,
        auth: { type: "m.login.dummy" },
    });
}

/**
 * Resolves with the first value `check(...args)` returns truthy for an `event` emitted by `emitter`; checks `now()`
 * first so something that already happened counts. Rejects naming `what` after `ms`.
 */
export function waitFor(emitter, event, check, what, { now = () => undefined, ms = WAIT_MS } = {}) {
    return new Promise((resolve, reject) => {
        const immediate = now();
        if (immediate) return resolve(immediate);
        const timer = setTimeout(() => {
            emitter.off(event, listener);
            reject(new Error(`did not see ${what} within ${ms} ms`));
        }, ms);
        function listener(...args) {
            let found;
            try {
                found = check(...args);
            } catch (error) {
                clearTimeout(timer);
                emitter.off(event, listener);
                return reject(error);
            }
            if (found) {
                clearTimeout(timer);
                emitter.off(event, listener);
                resolve(found);
            }
        }
        emitter.on(event, listener);
    });
}

/** Starts syncing and resolves once the client reports PREPARED (its first /sync is processed). */
export async function startAndWaitPrepared(client, options = {}) {
    const prepared = waitFor(client, sdk.ClientEvent.Sync, (state) => {
        if (state === "ERROR") throw new Error(`first sync failed for ${client.getUserId()}`);
        return state === "PREPARED";
    }, `${client.getUserId()} reach PREPARED`);
    await client.startClient({ initialSyncLimit: 20, ...options });
    await prepared;
}

/** A registered, running client (startClient done, PREPARED). Stopped by `t.after`. */
export async function runningUser(t, server, localpart) {
    const credentials = await registerDummy(server, localpart);
    const client = makeClient(server, credentials);
    t.after(() => client.stopClient());
    await startAndWaitPrepared(client);
    return client;
}

/**
 * Resolves with the first truthy `check()`, evaluated now and after each /sync response the client processes;
 * rejects naming `what` after `ms`. Checking client state after every sync (rather than listening for one specific
 * SDK event) is robust against the order in which the SDK emits its events.
 */
export function until(client, check, what, ms = WAIT_MS) {
    return waitFor(client, sdk.ClientEvent.Sync, (state) => {
        if (state === "ERROR") throw new Error(`/sync failed while waiting for ${what}`);
        return check();
    }, what, { now: check, ms });
}

/** Resolves with the room once `client` has it with membership `membership`. */
export function waitForMembership(client, roomId, membership) {
    return until(client, () => {
        const room = client.getRoom(roomId);
        return room?.getMyMembership() === membership ? room : undefined;
    }, `${roomId} as ${membership} for ${client.getUserId()}`);
}

/** Resolves with the MatrixEvent `eventId` once it is in `client`'s live timeline of `roomId`. */
export function waitForTimelineEvent(client, roomId, eventId) {
    return until(client, () => client.getRoom(roomId)?.getLiveTimeline().getEvents().find((e) => e.getId() === eventId),
        `event ${eventId} in ${client.getUserId()}'s timeline`);
}

/** Resolves once `client` sees `userId` with membership `membership` in `roomId`. */
export function waitForMember(client, roomId, userId, membership) {
    return until(client, () => client.getRoom(roomId)?.getMember(userId)?.membership === membership,
        `${userId} as ${membership} in ${roomId} for ${client.getUserId()}`);
}

/** alice creates a private room, invites bob; bob joins from the invite his sync delivered; alice sees the join. */
export async function aliceAndBobInRoom(alice, bob, name = "e2e room") {
    const { room_id: roomId } = await alice.createRoom({ name, preset: sdk.Preset.PrivateChat });
    await waitForMembership(alice, roomId, "join");
    await alice.invite(roomId, bob.getUserId());
    await waitForMembership(bob, roomId, "invite");
    await bob.joinRoom(roomId);
    await waitForMembership(bob, roomId, "join");
    await waitForMember(alice, roomId, bob.getUserId(), "join");
    return roomId;
}

/** `promise`, or a rejection naming `what` when it takes longer than `ms` (for SDK calls that wait on /sync). */
export function within(promise, what, ms = WAIT_MS) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** alice and bob registered, running, and both in a private room alice made; `{ alice, bob, roomId }`. */
export async function aliceAndBob(t, server) {
    const alice = await runningUser(t, server, "alice");
    const bob = await runningUser(t, server, "bob");
    const roomId = await aliceAndBobInRoom(alice, bob);
    return { alice, bob, roomId };
}

/**
 * Registers through user-interactive auth the way Element's InteractiveAuth does: the first request without auth
 * gets a 401 with flows and a session; then each stage of the first flow that contains `stage` is completed in
 * turn (`m.login.registration_token` with `token`, `m.login.dummy`), until the server answers 200.
 */
export async function registerInteractive(server, request, { stage, token }) {
    const anonymous = makeClient(server);
    let challenge;
    try {
        return await anonymous.registerRequest(request);
    } catch (error) {
        if (!(error instanceof sdk.MatrixError) || error.httpStatus !== 401) throw error;
        challenge = error.data;
    }
    const flow = challenge.flows?.find((candidate) => candidate.stages.includes(stage));
    if (!flow) throw new Error(`no registration flow offers ${stage}: ${JSON.stringify(challenge.flows)}`);
    const auth = {
        "m.login.registration_token": { type: "m.login.registration_token", token },
        "m.login.dummy": { type: "m.login.dummy" },
    };
    let completed = challenge.completed ?? [];
    for (let step = 0; step <= flow.stages.length; step++) {
        const next = flow.stages.find((s) => !completed.includes(s));
        if (!next) break;
        if (!auth[next]) throw new Error(`the registration flow needs stage ${next}, which the test cannot do`);
        try {
            return await anonymous.registerRequest({ ...request, auth: { ...auth[next], session: challenge.session } });
        } catch (error) {
            if (!(error instanceof sdk.MatrixError) || error.httpStatus !== 401 || error.data?.errcode) throw error;
            completed = error.data.completed ?? [];
        }
    }
    throw new Error(`registration did not finish after the stages ${flow.stages.join(", ")}`);
}

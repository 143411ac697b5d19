// Server-side key backup with matrix-js-sdk's Rust crypto (matrix-sdk-crypto-wasm, the crypto Element uses), the way
// Element sets up "recovery": cross-signing, secret storage with a recovery key, a key backup; then a new device of
// the same user enters the recovery key, restores the backup and decrypts the room's history.
//
// The server never sees plaintext: it stores the encrypted backup (/room_keys), the secret-storage account data and
// the ciphertext of the messages; only the clients' crypto can read them.

import assert from "node:assert/strict";

import { decodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/index.js";

import { scenario, startHearth } from "./harness.mjs";
import { ACCOUNTS, makeClient, password, registerDummy, sdk, startAndWaitPrepared, until, waitForMember,
    waitForMembership, within } from "./sdk.mjs";

const BACKUP = [...ACCOUNTS, "POST /keys/upload", "POST /keys/query", "POST /keys/claim",
    "PUT /sendToDevice/{type}/{txnId}", "POST /keys/device_signing/upload", "POST /keys/signatures/upload",
    "PUT /user/{userId}/account_data/{type}", "POST /room_keys/version", "GET /room_keys/version",
    "PUT /room_keys/keys", "GET /room_keys/keys", "POST /login"];
// Key uploads wait a random delay (up to 10 s in the SDK's backup loop), and several round trips follow.
const BACKUP_WAIT_MS = 60_000;
const ENCRYPTION = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };

/**
 * A client with Rust crypto (in-memory store) for `credentials`, started and PREPARED; `recoveryKey()` answers the
 * secret-storage key prompts (what a user types into Element's "Enter your recovery key"). Stopped by `t.after`.
 */
async function cryptoClient(t, server, credentials, recoveryKey = () => undefined) {
    const client = makeClient(server, credentials, {
        cryptoCallbacks: {
            getSecretStorageKey: async ({ keys }) => {
                const key = recoveryKey();
                if (!key) throw new Error("no recovery key to give");
                return [Object.keys(keys)[0], key];
            },
        },
    });
    t.after(() => client.stopClient());
    await client.initRustCrypto({ useIndexedDB: false });
    await startAndWaitPrepared(client);
    return client;
}

/** Resolves with the decrypted body of `eventId` once `client` has decrypted it in `roomId`. */
function decryptedBody(client, roomId, eventId, ms = BACKUP_WAIT_MS) {
    return until(client, () => {
        const event = client.getRoom(roomId)?.findEventById(eventId);
        if (!event || event.isBeingDecrypted() || event.isDecryptionFailure()) return undefined;
        return event.getClearContent()?.body;
    }, `${client.getUserId()} decrypting ${eventId}`, ms);
}

/** Resolves once `client`'s crypto has taken the room's m.room.encryption state (it then encrypts there). */
async function encryptionEnabled(client, roomId) {
    const deadline = Date.now() + BACKUP_WAIT_MS;
    while (!(await client.getCrypto().isEncryptionEnabledInRoom(roomId))) {
        if (Date.now() > deadline) throw new Error(`${client.getUserId()} never saw ${roomId} as encrypted`);
        await new Promise((done) => setTimeout(done, 200));
    }
}

/** Polls the server's backup (GET /room_keys/keys) until it holds keys of `sessions` sessions in `roomId`. */
async function backupHoldsSessions(client, version, roomId, sessions) {
    const deadline = Date.now() + BACKUP_WAIT_MS;
    for (;;) {
        const keys = await client.http.authedRequest(sdk.Method.Get, "/room_keys/keys", { version });
        const held = Object.keys(keys.rooms?.[roomId]?.sessions ?? {}).length;
        if (held >= sessions) return held;
        if (Date.now() > deadline) throw new Error(`the backup holds ${held} of ${sessions} sessions of ${roomId}`);
        await new Promise((done) => setTimeout(done, 500));
    }
}

scenario("js_sdk_rust_crypto_key_backup_restores_history_on_a_new_device_with_the_recovery_key", {
    needs: BACKUP,
}, async (t) => {
    const server = await startHearth(t);
    const secret = password();
    let recovery;
    const alice = await cryptoClient(t, server, await registerDummy(server, "alice", secret),
        () => recovery?.privateKey);
    const bob = await cryptoClient(t, server, await registerDummy(server, "bob"));
    const aliceCrypto = alice.getCrypto();

    // Element's "set up recovery": cross-signing keys (UIA with the password), secret storage under a new
    // recovery key, and a new key backup whose decryption key goes into secret storage.
    await within(aliceCrypto.bootstrapCrossSigning({
        authUploadDeviceSigningKeys: async (makeRequest) => {
            await makeRequest({ type: "m.login.password", password: secret,
                identifier: { type: "m.id.user", user: alice.getUserId() } });
        },
    }), "bootstrapCrossSigning", BACKUP_WAIT_MS);
    recovery = await aliceCrypto.createRecoveryKeyFromPassphrase();
    await within(aliceCrypto.bootstrapSecretStorage({ createSecretStorageKey: async () => recovery,
        setupNewKeyBackup: true }), "bootstrapSecretStorage", BACKUP_WAIT_MS);
    const version = await aliceCrypto.getActiveSessionBackupVersion();
    assert.ok(version, "a key backup is active");
    assert.ok((await aliceCrypto.getCrossSigningStatus()).privateKeysInSecretStorage);

    // An encrypted room with messages from both users, decrypted by alice's first device.
    const { room_id: roomId } = await alice.createRoom({ name: "backed up", preset: sdk.Preset.PrivateChat,
        initial_state: [ENCRYPTION] });
    await waitForMembership(alice, roomId, "join");
    await alice.invite(roomId, bob.getUserId());
    await waitForMembership(bob, roomId, "invite");
    await bob.joinRoom(roomId);
    await waitForMember(alice, roomId, bob.getUserId(), "join");
    await encryptionEnabled(alice, roomId);
    await encryptionEnabled(bob, roomId);
    const { event_id: fromBob } = await bob.sendTextMessage(roomId, "bob's secret for the backup");
    const { event_id: fromAlice } = await alice.sendTextMessage(roomId, "alice's own secret");
    assert.equal(await decryptedBody(alice, roomId, fromBob), "bob's secret for the backup");
    assert.equal(await decryptedBody(bob, roomId, fromAlice), "alice's own secret");
    const stored = await alice.http.authedRequest(sdk.Method.Get,
        `/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(fromBob)}`);
    assert.equal(stored.type, "m.room.encrypted", "the server only holds ciphertext");

    // Both megolm sessions (bob's and alice's outbound one) reach the server-side backup.
    await backupHoldsSessions(alice, version, roomId, 2);

    // A new device: login, then the recovery key as a user types it, restore, and the history decrypts.
    const login = await makeClient(server).loginRequest({ type: "m.login.password", password: secret,
        identifier: { type: "m.id.user", user: alice.getUserId() }, initial_device_display_name: "alice's laptop" });
    assert.notEqual(login.device_id, alice.getDeviceId());
    let typedRecoveryKey;
    const laptop = await cryptoClient(t, server, login, () => typedRecoveryKey);
    typedRecoveryKey = decodeRecoveryKey(recovery.encodedPrivateKey);
    await waitForMembership(laptop, roomId, "join");
    const laptopCrypto = laptop.getCrypto();
    await within(laptopCrypto.loadSessionBackupPrivateKeyFromSecretStorage(), "loading the backup key from 4S",
        BACKUP_WAIT_MS);
    const restored = await within(laptopCrypto.restoreKeyBackup(), "restoreKeyBackup", BACKUP_WAIT_MS);
    assert.ok(restored.imported >= 2, `imported ${restored.imported} of ${restored.total} keys`);
    assert.equal(await decryptedBody(laptop, roomId, fromBob), "bob's secret for the backup");
    assert.equal(await decryptedBody(laptop, roomId, fromAlice), "alice's own secret");
});

"""End-to-end encryption through matrix-nio with its own Olm/Megolm (the vodozemac wheel): device keys, one-time
key claims and to-device room keys carried by Hearth, and each client decrypting the others' messages.

The server never sees plaintext here: alice and bob encrypt with nio's crypto, Hearth stores and relays keys and
ciphertext, and the assertions check that the receiving client decrypted what the sender wrote.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from hearth_harness import HearthServer
from nio_session import ACCOUNTS, REQUEST_TIMEOUT_SECONDS, SYNC_WAIT_SECONDS, expect, password, sync_until

E2EE = (
    *ACCOUNTS,
    "POST /keys/upload",
    "POST /keys/query",
    "POST /keys/claim",
    "PUT /sendToDevice/{type}/{txnId}",
    "GET /sync (to_device, device_lists, device_one_time_keys_count)",
    "GET /rooms/{id}/joined_members",
)
ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


def e2ee_config() -> AsyncClientConfig:
    """nio with its crypto on, bounded retries and request time."""
    return AsyncClientConfig(max_timeouts=3, request_timeout=REQUEST_TIMEOUT_SECONDS, encryption_enabled=True,
                             store_sync_tokens=False)


async def keys_housekeeping(client: AsyncClient) -> None:
    """What nio's sync_forever does between syncs: upload, query and claim keys as the client's state asks."""
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    await client.send_to_device_messages()


async def e2ee_sync_until(client: AsyncClient, check, what: str, timeout: float = SYNC_WAIT_SECONDS):
    """Syncs (with nio's key housekeeping after each /sync, as a real client runs it) until `check(response)` is
    truthy; returns that value. Every /sync is bounded; the whole wait is bounded by `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        assert remaining > 0, f"{client.user_id} did not see {what} within {timeout}s"
        response = await sync_until(client, lambda r: r, what, timeout=remaining)
        await keys_housekeeping(client)
        found = check(response)
        if found:
            return found


async def raw_event(client: AsyncClient, room_id: str, event_id: str) -> dict:
    """The event as the server stores it (GET /rooms/{id}/event/{eventId}), without nio's decryption."""
    path = Api._build_path(["rooms", room_id, "event", event_id], {"access_token": client.access_token})
    response = await client.send("GET", path)
    try:
        assert response.status == 200, f"GET event {event_id}: {response.status}"
        return await response.json()
    finally:
        response.release()


async def e2ee_register(server: HearthServer, localpart: str, store: Path, secret: str) -> AsyncClient:
    """Registers `localpart` with an encrypting nio client whose crypto store lives in `store`; uploads its keys."""
    store.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(server.base_url, "", store_path=str(store), config=e2ee_config())
    response = await client.register(localpart, secret, device_name=f"{localpart}'s first device")
    assert client.access_token, f"register {localpart}: {response}"
    assert client.should_upload_keys
    await client.keys_upload()
    return client


async def e2ee_login(server: HearthServer, localpart: str, store: Path, secret: str) -> AsyncClient:
    """Logs `localpart` in on a new device with its own crypto store; uploads the new device's keys."""
    store.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(server.base_url, server.user_id(localpart), store_path=str(store), config=e2ee_config())
    expect(await client.login(secret, device_name=f"{localpart}'s new device"), LoginResponse, f"login {localpart}")
    await client.keys_upload()
    return client


def decrypted_text(client: AsyncClient, room_id: str, body: str):
    """A check for e2ee_sync_until: the decrypted m.text with `body` in the room's timeline of a response."""
    def check(response: SyncResponse):
        room = response.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if isinstance(event, RoomMessageText) and event.body == body:
                return event
            if isinstance(event, MegolmEvent):
                raise AssertionError(f"{client.user_id} could not decrypt {event.event_id} ({event.session_id})")
        return None
    return check


async def send_encrypted(client: AsyncClient, room_id: str, body: str) -> str:
    """Sends an m.text encrypted with the room's megolm session (sharing it with every device first)."""
    response = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body},
                                      ignore_unverified_devices=True)
    return expect(response, RoomSendResponse, f"send {body!r}").event_id


async def encrypted_room(alice: AsyncClient, bob: AsyncClient) -> str:
    """alice creates an encrypted room and invites bob, who joins; both have synced and queried keys after."""
    created = expect(await alice.room_create(name="secret", initial_state=[ENCRYPTION_STATE]),
                     RoomCreateResponse, "create the encrypted room")
    room_id = created.room_id
    await e2ee_sync_until(alice, lambda r: room_id in r.rooms.join, "her encrypted room")
    expect(await alice.room_invite(room_id, bob.user_id), RoomInviteResponse, "invite bob")
    await e2ee_sync_until(bob, lambda r: room_id in r.rooms.invite, "the invite")
    expect(await bob.join(room_id), JoinResponse, "bob joins")
    await e2ee_sync_until(bob, lambda r: room_id in r.rooms.join, "the room he joined")
    await e2ee_sync_until(alice, lambda r: bob.user_id in alice.rooms[room_id].users, "bob's join")
    assert alice.rooms[room_id].encrypted and bob.rooms[room_id].encrypted
    return room_id


@pytest.fixture
async def e2ee_pair(hearth: HearthServer, tmp_path: Path):
    """alice and bob, each with an encrypting nio client (own crypto store) and uploaded device keys."""
    secrets = {"alice": password(), "bob": password()}
    alice = await e2ee_register(hearth, "alice", tmp_path / "alice-store", secrets["alice"])
    bob = await e2ee_register(hearth, "bob", tmp_path / "bob-store", secrets["bob"])
    yield alice, bob, secrets
    await alice.close()
    await bob.close()


@pytest.mark.needs(*E2EE)
async def test_two_users_in_an_encrypted_room_decrypt_each_others_messages(e2ee_pair):
    alice, bob, _ = e2ee_pair
    room_id = await encrypted_room(alice, bob)

    event_id = await send_encrypted(alice, room_id, "the secret is 42")
    stored = await raw_event(bob, room_id, event_id)
    assert stored["type"] == "m.room.encrypted", "the server only ever holds ciphertext"
    assert "the secret" not in str(stored)
    seen = await e2ee_sync_until(bob, decrypted_text(bob, room_id, "the secret is 42"), "alice's encrypted message")
    assert seen.decrypted and seen.sender == alice.user_id

    await send_encrypted(bob, room_id, "got it")
    seen = await e2ee_sync_until(alice, decrypted_text(alice, room_id, "got it"), "bob's encrypted reply")
    assert seen.decrypted and seen.sender == bob.user_id


@pytest.mark.needs(*E2EE, "POST /login", "GET /sync (device_lists.changed after a new device uploads keys)")
async def test_a_device_that_logs_in_later_gets_the_keys_of_new_messages(e2ee_pair, hearth, tmp_path):
    alice, bob, secrets = e2ee_pair
    room_id = await encrypted_room(alice, bob)
    await send_encrypted(alice, room_id, "before the new device")
    await e2ee_sync_until(bob, decrypted_text(bob, room_id, "before the new device"), "the first message")

    bob_tablet = await e2ee_login(hearth, "bob", tmp_path / "bob-tablet-store", secrets["bob"])
    try:
        # alice's client learns of bob's new device from device_lists.changed and queries its keys.
        await e2ee_sync_until(
            alice,
            lambda r: any(d.id == bob_tablet.device_id for d in alice.device_store.active_user_devices(bob.user_id)),
            "bob's new device",
        )
        await e2ee_sync_until(bob_tablet, lambda r: room_id in r.rooms.join, "the room on the new device")
        await send_encrypted(alice, room_id, "after the new device")
        seen = await e2ee_sync_until(bob_tablet, decrypted_text(bob_tablet, room_id, "after the new device"),
                                     "the message on the new device")
        assert seen.decrypted
        # bob's first device still decrypts too.
        await e2ee_sync_until(bob, decrypted_text(bob, room_id, "after the new device"), "the message on bob's phone")
    finally:
        await bob_tablet.close()

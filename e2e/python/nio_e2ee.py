"""matrix-nio with its crypto on (the vodozemac wheel): making encrypting clients, nio's key housekeeping between
syncs, encrypted rooms and checks that a client decrypted a message. Shared by the same-server scenarios
(test_e2ee.py) and the cross-server ones (test_e2ee_federation.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

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
from nio_session import ACCOUNTS, REQUEST_TIMEOUT_SECONDS, SYNC_WAIT_SECONDS, expect, sync_until

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
    return await e2ee_login_at(server.base_url, server.user_id(localpart), store, secret)


async def e2ee_login_at(base_url: str, user_id: str, store: Path, secret: str) -> AsyncClient:
    """Logs `user_id` in on a new device of the server at `base_url` (any homeserver: Hearth or a Synapse peer)
    with its own crypto store; uploads the new device's keys."""
    store.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(base_url, user_id, store_path=str(store), config=e2ee_config())
    expect(await client.login(secret, device_name=f"{user_id}'s new device"), LoginResponse, f"login {user_id}")
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


async def encrypted_room(alice: AsyncClient, bob: AsyncClient, timeout: float = SYNC_WAIT_SECONDS) -> str:
    """alice creates an encrypted room and invites bob (of her server or another), who joins; both have synced and
    queried keys after. `timeout` bounds each wait (federation round trips take longer)."""
    created = expect(await alice.room_create(name="secret", initial_state=[ENCRYPTION_STATE]),
                     RoomCreateResponse, "create the encrypted room")
    room_id = created.room_id
    await e2ee_sync_until(alice, lambda r: room_id in r.rooms.join, "her encrypted room", timeout)
    expect(await alice.room_invite(room_id, bob.user_id), RoomInviteResponse, "invite bob")
    await e2ee_sync_until(bob, lambda r: room_id in r.rooms.invite, "the invite", timeout)
    expect(await bob.join(room_id), JoinResponse, "bob joins")
    await e2ee_sync_until(bob, lambda r: room_id in r.rooms.join, "the room he joined", timeout)
    await e2ee_sync_until(alice, lambda r: bob.user_id in alice.rooms[room_id].users, "bob's join", timeout)
    assert alice.rooms[room_id].encrypted, f"{alice.user_id} sees {room_id} as encrypted"
    await e2ee_sync_until(bob, lambda r: bob.rooms[room_id].encrypted, "the room's encryption state", timeout)
    return room_id

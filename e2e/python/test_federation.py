"""Federation with a real Synapse on loopback: a Synapse user joins a room on Hearth by its alias, and both sides
exchange messages, each seeing the other's in /sync.

Hearth runs with `HearthOptions(federation=True)` (server_name 127.0.0.1:<federation port>, self-signed TLS,
loopback allowed); Synapse is the `synapse_peer` fixture (e2e/python/synapse_peer.py).
"""

import asyncio

import pytest
from nio import AsyncClient, JoinResponse, LoginResponse, RoomCreateResponse, RoomGetStateResponse, RoomPreset

from hearth_harness import HearthOptions
from nio_session import client_config, expect, first, password, register, send_text, sync_until, timeline

FEDERATION_WAIT_SECONDS = 60.0


@pytest.mark.needs("GET /query/directory", "GET /make_join", "PUT /v2/send_join", "PUT /send/{txnId} (inbound)",
                   "outbound federation sender", "Synapse from scripts/requirements-synapse.txt")
async def test_synapse_user_joins_a_hearth_room_by_alias_and_both_exchange_messages(hearth_factory, synapse_peer):
    hearth = hearth_factory(HearthOptions(federation=True))
    peer = synapse_peer()

    alice = await register(hearth, "alice")
    created = expect(await alice.room_create(alias="lobby", name="Lobby", preset=RoomPreset.public_chat),
                     RoomCreateResponse, "create the public room")
    room_id = created.room_id
    await sync_until(alice, lambda r: room_id in r.rooms.join, "her new room")

    secret = password()
    peer.register_with_shared_secret("bob", secret)
    bob = AsyncClient(peer.base_url, f"@bob:{peer.server_name}", config=client_config())
    try:
        expect(await bob.login(secret), LoginResponse, "bob logs in on Synapse")
        joined = expect(await bob.join(f"#lobby:{hearth.server_name}"), JoinResponse, "bob joins by alias")
        assert joined.room_id == room_id

        # Hearth accepted the join that came through make_join/send_join: alice sees it.
        await sync_until(
            alice,
            lambda r: first(timeline(r, room_id), type="m.room.member", state_key=bob.user_id,
                            content={"membership": "join"}),
            "bob's join", timeout=FEDERATION_WAIT_SECONDS,
        )

        # Synapse → Hearth: a transaction with bob's message.
        from_bob = await send_text(bob, room_id, "hello from synapse")
        seen = await sync_until(alice, lambda r: first(timeline(r, room_id), event_id=from_bob),
                                "bob's message", timeout=FEDERATION_WAIT_SECONDS)
        assert seen["sender"] == bob.user_id
        assert seen["content"]["body"] == "hello from synapse"

        # Hearth → Synapse: the outbound sender delivers alice's reply.
        from_alice = await send_text(alice, room_id, "hello from hearth")
        seen = await sync_until(bob, lambda r: first(timeline(r, room_id), event_id=from_alice),
                                "alice's reply", timeout=FEDERATION_WAIT_SECONDS)
        assert seen["sender"] == alice.user_id
        assert seen["content"]["body"] == "hello from hearth"

        # Synapse's view of the room state equals Hearth's.
        await assert_same_state(alice, bob, room_id)
    finally:
        await bob.close()
        await alice.close()


async def state_entries(client: AsyncClient, room_id: str) -> set[tuple[str, str, str]]:
    """The room's current state through `client`'s server: (type, state_key, event_id) of every entry."""
    response = expect(await client.room_get_state(room_id), RoomGetStateResponse, f"GET /state as {client.user_id}")
    return {(e["type"], e["state_key"], e["event_id"]) for e in response.events}


async def assert_same_state(first_client: AsyncClient, second_client: AsyncClient, room_id: str) -> None:
    """Both clients' servers report the same current state (allowing the servers a moment to settle)."""
    deadline = asyncio.get_running_loop().time() + FEDERATION_WAIT_SECONDS
    while True:
        first_state = await state_entries(first_client, room_id)
        second_state = await state_entries(second_client, room_id)
        if first_state == second_state or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(1)
    assert first_state == second_state, (f"only on {first_client.user_id}'s server: {first_state - second_state}; "
                                         f"only on {second_client.user_id}'s: {second_state - first_state}")

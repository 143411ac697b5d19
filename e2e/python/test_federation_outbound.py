"""Federation with a real Synapse and between two Hearths: joining remote rooms, inviting remote users, messages
both ways, leaving. Every user is a matrix-nio client of its own server; the servers talk over TLS on loopback.
"""

from __future__ import annotations

import pytest
from nio import AsyncClient, JoinResponse, RoomCreateResponse, RoomInviteResponse, RoomLeaveResponse, RoomVisibility

from hearth_harness import HearthOptions
from nio_session import ACCOUNTS, client_config, expect, first, register, send_text, sync_until, timeline

FEDERATION = (*ACCOUNTS, "federation: make_join/send_join, /send, /invite, /query/directory")
# Federation round trips (key fetches, joins) take a few seconds on a loaded 2-core machine.
FEDERATION_WAIT = 60.0


async def synapse_client(peer, localpart: str) -> AsyncClient:
    """A nio client logged in to the Synapse peer as a freshly registered `localpart`."""
    token = peer.register_and_login(localpart, "correct horse battery staple")
    client = AsyncClient(peer.base_url, f"@{localpart}:{peer.server_name}", config=client_config())
    client.access_token = token
    client.user_id = f"@{localpart}:{peer.server_name}"
    return client


async def exchange_messages(first_client: AsyncClient, second_client: AsyncClient, room_id: str) -> None:
    """Each sends one message and sees the other's in /sync."""
    hello = await send_text(first_client, room_id, f"hello from {first_client.user_id}")
    seen = await sync_until(second_client, lambda r: first(timeline(r, room_id), event_id=hello),
                            f"{first_client.user_id}'s message", timeout=FEDERATION_WAIT)
    assert seen["sender"] == first_client.user_id
    reply = await send_text(second_client, room_id, f"hello from {second_client.user_id}")
    seen = await sync_until(first_client, lambda r: first(timeline(r, room_id), event_id=reply),
                            f"{second_client.user_id}'s reply", timeout=FEDERATION_WAIT)
    assert seen["sender"] == second_client.user_id
    assert seen["content"]["body"] == f"hello from {second_client.user_id}"


async def join_by_alias_and_chat(owner: AsyncClient, owner_server: str, joiner: AsyncClient) -> str:
    """`owner` makes a public room with an alias; `joiner` (on another server) joins by alias; both chat."""
    created = expect(await owner.room_create(visibility=RoomVisibility.public, alias="federated",
                                             name="Federated room"), RoomCreateResponse, "createRoom")
    room_id = created.room_id
    joined = expect(await joiner.join(f"#federated:{owner_server}"), JoinResponse, "remote join by alias")
    assert joined.room_id == room_id
    # The owner's server sees the remote join arrive.
    await sync_until(owner, lambda r: any(e.get("type") == "m.room.member" and e.get("state_key") == joiner.user_id
                                          and e["content"].get("membership") == "join"
                                          for e in timeline(r, room_id)),
                     "the remote join", timeout=FEDERATION_WAIT)
    await sync_until(joiner, lambda r: room_id in r.rooms.join, "the joined room", timeout=FEDERATION_WAIT)
    await exchange_messages(owner, joiner, room_id)
    return room_id


@pytest.mark.needs(*FEDERATION, "Synapse peer")
async def test_hearth_user_joins_a_synapse_room_by_alias_and_both_see_each_others_messages(hearth_factory, synapse_peer):
    hearth = hearth_factory(HearthOptions(federation=True))
    peer = synapse_peer()
    sam = await synapse_client(peer, "sam")
    alice = await register(hearth, "alice")
    try:
        await join_by_alias_and_chat(sam, peer.server_name, alice)
    finally:
        await alice.close()
        await sam.close()


@pytest.mark.needs(*FEDERATION, "Synapse peer", "POST /rooms/{id}/leave")
async def test_hearth_user_invites_a_synapse_user_to_a_dm_they_chat_and_leave(hearth_factory, synapse_peer):
    hearth = hearth_factory(HearthOptions(federation=True))
    peer = synapse_peer()
    sam = await synapse_client(peer, "sam")
    alice = await register(hearth, "alice")
    try:
        created = expect(await alice.room_create(is_direct=True, invite=[sam.user_id]), RoomCreateResponse,
                         "createRoom with a remote invite")
        room_id = created.room_id
        await sync_until(sam, lambda r: room_id in r.rooms.invite, "the invite", timeout=FEDERATION_WAIT)
        expect(await sam.join(room_id), JoinResponse, "Synapse user accepts the invite")
        await sync_until(sam, lambda r: room_id in r.rooms.join, "the joined DM", timeout=FEDERATION_WAIT)
        await exchange_messages(alice, sam, room_id)

        expect(await sam.room_leave(room_id), RoomLeaveResponse, "Synapse user leaves")
        await sync_until(alice, lambda r: any(e.get("state_key") == sam.user_id
                                              and e["content"].get("membership") == "leave"
                                              for e in timeline(r, room_id)),
                         "sam's leave", timeout=FEDERATION_WAIT)
    finally:
        await alice.close()
        await sam.close()


@pytest.mark.needs(*FEDERATION, "Synapse peer", "POST /rooms/{id}/leave")
async def test_hearth_user_leaves_a_synapse_room_and_synapse_sees_the_leave(hearth_factory, synapse_peer):
    hearth = hearth_factory(HearthOptions(federation=True))
    peer = synapse_peer()
    sam = await synapse_client(peer, "sam")
    alice = await register(hearth, "alice")
    try:
        room_id = await join_by_alias_and_chat(sam, peer.server_name, alice)
        expect(await alice.room_leave(room_id), RoomLeaveResponse, "Hearth user leaves the remote room")
        await sync_until(sam, lambda r: any(e.get("state_key") == alice.user_id
                                            and e["content"].get("membership") == "leave"
                                            for e in timeline(r, room_id)),
                         "alice's leave", timeout=FEDERATION_WAIT)
    finally:
        await alice.close()
        await sam.close()


@pytest.mark.needs(*FEDERATION)
async def test_two_hearth_servers_federate_a_join_by_alias_and_messages_both_ways(hearth_factory):
    first_server = hearth_factory(HearthOptions(federation=True))
    second_server = hearth_factory(HearthOptions(federation=True))
    alice = await register(first_server, "alice")
    bob = await register(second_server, "bob")
    try:
        await join_by_alias_and_chat(alice, first_server.server_name, bob)
    finally:
        await alice.close()
        await bob.close()


@pytest.mark.needs(*FEDERATION)
async def test_hearth_user_invites_a_user_of_another_hearth_who_joins_and_chats(hearth_factory):
    first_server = hearth_factory(HearthOptions(federation=True))
    second_server = hearth_factory(HearthOptions(federation=True))
    alice = await register(first_server, "alice")
    bob = await register(second_server, "bob")
    try:
        created = expect(await alice.room_create(name="cross-server"), RoomCreateResponse, "createRoom")
        room_id = created.room_id
        expect(await alice.room_invite(room_id, bob.user_id), RoomInviteResponse, "remote invite")
        await sync_until(bob, lambda r: room_id in r.rooms.invite, "the invite", timeout=FEDERATION_WAIT)
        expect(await bob.join(room_id), JoinResponse, "accepting a remote invite")
        await sync_until(bob, lambda r: room_id in r.rooms.join, "the joined room", timeout=FEDERATION_WAIT)
        await exchange_messages(alice, bob, room_id)
    finally:
        await alice.close()
        await bob.close()

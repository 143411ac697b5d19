"""Federation under partition and outage, with a real Synapse and between two Hearths (issue 5, scenarios 4 and 5).

Scenario 4: both sides change the room's state while they cannot reach each other, so the DAG really forks; once
they talk again, state resolution must give both the same current state — the one resolution v2 (v2.1 for room
v12) says wins. The fork is made deterministic by taking servers down rather than by racing them:

    the second server stops → the first side changes the state (its sender cannot deliver and backs off)
    the first server stops, the second starts → the second side changes the state (it cannot deliver either)
    the first server starts → its queue reaches the second, which answers with its own change

Each change is therefore made without knowledge of the other, with the fork point as its only prev event.

Scenario 5: the peer goes down; the Hearth user keeps sending (every send answers at once: nothing waits for the
dead server); the peer comes back with the same data and receives every queued message, in order, within a bound.

Every client is matrix-nio on its own server; each server's view of the room is read through its client API
(GET /rooms/{id}/state, /messages, /sync). Hearth rooms are v12 (state resolution v2.1), Synapse rooms v10 (v2).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import pytest
from nio import (
    AsyncClient,
    JoinedRoomsResponse,
    JoinResponse,
    RoomBanResponse,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomMessagesResponse,
    RoomPutStateResponse,
    RoomVisibility,
)

from hearth_harness import HearthOptions, HearthServer
from nio_session import ACCOUNTS, expect, first, register, send_text, sync_until, timeline
from test_federation_outbound import synapse_client

RESILIENCE = (*ACCOUNTS, "federation: make_join/send_join, /send, /query/directory",
              "state resolution of forked remote events, soft fail", "outbound queue retry after an outage",
              "GET /rooms/{id}/state")
# Bound for one side to see what the other did once both are up (a transaction after a backoff, key fetches).
CONVERGENCE_WAIT = 90.0
# A local send must not wait for a dead peer: far below one outbound request timeout (60 s).
LOCAL_SEND_BOUND = 3.0

StateMap = dict[tuple[str, str], tuple[str, str]]


class Side:
    """One server of the pair and how to make users on it (Hearth: m.login.dummy; Synapse: shared secret)."""

    def __init__(self, server, is_synapse: bool) -> None:
        self.server = server
        self.is_synapse = is_synapse

    @property
    def name(self) -> str:
        return self.server.server_name

    async def user(self, localpart: str) -> AsyncClient:
        if self.is_synapse:
            return await synapse_client(self.server, localpart)
        return await register(self.server, localpart)


async def sides(pair: str, hearth_factory, synapse_peer) -> tuple[Side, Side]:
    """The room's home (always Hearth for `hearth-hearth`) and its peer, both started."""
    hearth = Side(hearth_factory(HearthOptions(federation=True)), is_synapse=False)
    if pair == "hearth-synapse":
        return hearth, Side(synapse_peer(), is_synapse=True)
    if pair == "synapse-hearth":
        return Side(synapse_peer(), is_synapse=True), hearth
    return hearth, Side(hearth_factory(HearthOptions(federation=True)), is_synapse=False)


async def current_state(client: AsyncClient, room_id: str) -> StateMap:
    """The room's current state on the client's server: (type, state_key) → (event_id, canonical content)."""
    response = expect(await client.room_get_state(room_id), RoomGetStateResponse, f"state of {client.user_id}")
    return {(e["type"], e["state_key"]): (e["event_id"], json.dumps(e["content"], sort_keys=True))
            for e in response.events}


async def state_event_id(client: AsyncClient, room_id: str, event_type: str, state_key: str = "") -> str | None:
    """The event ID of one entry of the current state on the client's server (None when absent)."""
    entry = (await current_state(client, room_id)).get((event_type, state_key))
    return entry[0] if entry else None


async def wait_until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = CONVERGENCE_WAIT) -> None:
    """Polls `check` once a second until it holds; fails with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(1.0)


async def set_power_level(client: AsyncClient, room_id: str, user_id: str, level: int) -> str:
    """Changes one user's power level (read, modify, write); returns the new power levels event's ID."""
    current = expect(await client.room_get_state_event(room_id, "m.room.power_levels"), RoomGetStateEventResponse,
                     "read power levels")
    content = dict(current.content)
    content["users"] = {**content.get("users", {}), user_id: level}
    put = expect(await client.room_put_state(room_id, "m.room.power_levels", content), RoomPutStateResponse,
                 f"power level {level} for {user_id}")
    return put.event_id


async def public_room_with_remote_member(home: Side, owner: AsyncClient, remote: AsyncClient, alias: str) -> str:
    """`owner` makes a public room with an alias; `remote` (the other server) joins by alias; both see it."""
    created = expect(await owner.room_create(visibility=RoomVisibility.public, alias=alias, name=alias),
                     RoomCreateResponse, "createRoom")
    room_id = created.room_id
    joined = expect(await remote.join(f"#{alias}:{home.name}"), JoinResponse, "remote join by alias")
    assert joined.room_id == room_id
    await wait_until("the remote join on the room's server",
                     lambda: _is_joined(owner, room_id, remote.user_id))
    return room_id


async def _is_joined(client: AsyncClient, room_id: str, user_id: str) -> bool:
    entry = (await current_state(client, room_id)).get(("m.room.member", user_id))
    return entry is not None and json.loads(entry[1]).get("membership") == "join"


async def fork(first: Side, first_change: Callable[[], Awaitable[str]],
               second: Side, second_change: Callable[[], Awaitable[str]]) -> tuple[str, str]:
    """Makes each side's change while the other server is down (see the module comment); returns both event IDs
    once both servers run again."""
    second.server.stop()
    first_event = await first_change()
    first.server.stop()
    second.server.start()
    second_event = await second_change()
    first.server.start()
    return first_event, second_event


async def converge(home_client: AsyncClient, peer_client: AsyncClient, room_id: str, what: str) -> StateMap:
    """Each side sends a message after the fork (its prev events then merge the branches) and sees the other's;
    then both current states must be identical. Returns that state."""
    for sender_client, reader in ((home_client, peer_client), (peer_client, home_client)):
        event_id = await send_text(sender_client, room_id, f"after the fork, from {sender_client.user_id}")
        await sync_until(reader, lambda r, e=event_id: first(timeline(r, room_id), event_id=e),
                         f"{sender_client.user_id}'s message after the fork", timeout=CONVERGENCE_WAIT)
    home_state: StateMap = {}
    peer_state: StateMap = {}

    async def same() -> bool:
        nonlocal home_state, peer_state
        home_state = await current_state(home_client, room_id)
        peer_state = await current_state(peer_client, room_id)
        return home_state == peer_state

    try:
        await wait_until(f"identical current state on both servers ({what})", same, timeout=30.0)
    except AssertionError:
        only_home = {k: v for k, v in home_state.items() if peer_state.get(k) != v}
        only_peer = {k: v for k, v in peer_state.items() if home_state.get(k) != v}
        raise AssertionError(f"{what}: the servers disagree; home has {only_home}, peer has {only_peer}") from None
    return home_state


PAIRS = ["hearth-synapse", "hearth-hearth"]


@pytest.mark.needs(*RESILIENCE, "Synapse peer")
@pytest.mark.parametrize("pair", PAIRS)
async def test_power_levels_change_and_ban_made_apart_resolve_to_the_same_state_on_both(
        pair, hearth_factory, synapse_peer):
    home, peer = await sides(pair, hearth_factory, synapse_peer)
    alice = await home.user("alice")
    carol = await home.user("carol")
    bob = await peer.user("bob")
    try:
        room_id = await public_room_with_remote_member(home, alice, bob, "powerban")
        expect(await carol.join(room_id), JoinResponse, "carol joins")
        promoted = await set_power_level(alice, room_id, bob.user_id, 50)
        # The fork point: the peer has bob's promotion and carol's join.
        carol_join = await state_event_id(alice, room_id, "m.room.member", carol.user_id)
        await wait_until("bob's promotion and carol's join on the peer",
                         lambda: _has_state(bob, room_id, {("m.room.power_levels", ""): promoted,
                                                           ("m.room.member", carol.user_id): carol_join}))

        async def demote_bob() -> str:
            return await set_power_level(alice, room_id, bob.user_id, 0)

        async def ban_carol() -> str:
            expect(await bob.room_ban(room_id, carol.user_id, "made while apart"), RoomBanResponse, "bob bans carol")
            return await state_event_id(bob, room_id, "m.room.member", carol.user_id)

        demotion, ban = await fork(home, demote_bob, peer, ban_carol)
        assert ban != carol_join, "the ban is in the peer's state before the servers meet again"

        state = await converge(alice, bob, room_id, "power levels vs ban")
        # Resolution: both are power events; alice (creator / PL 100) outranks bob (50), so her power levels are
        # applied first, and bob's ban, checked after them, fails (he is at 0 now). Carol stays joined.
        assert state[("m.room.power_levels", "")][0] == demotion
        assert json.loads(state[("m.room.power_levels", "")][1])["users"][bob.user_id] == 0
        assert state[("m.room.member", carol.user_id)][0] == carol_join
        assert json.loads(state[("m.room.member", carol.user_id)][1])["membership"] == "join"
        assert ban not in {event_id for event_id, _ in state.values()}
    finally:
        for client in (alice, carol, bob):
            await client.close()


@pytest.mark.needs(*RESILIENCE, "Synapse peer")
@pytest.mark.parametrize("pair", ["synapse-hearth", "hearth-hearth"])
async def test_join_rules_change_and_join_made_apart_resolve_to_the_same_state_on_both(
        pair, hearth_factory, synapse_peer):
    home, peer = await sides(pair, hearth_factory, synapse_peer)
    alice = await home.user("alice")
    bob = await peer.user("bob")
    dave = await peer.user("dave")
    try:
        room_id = await public_room_with_remote_member(home, alice, bob, "rulesjoin")

        async def invite_only() -> str:
            put = expect(await alice.room_put_state(room_id, "m.room.join_rules", {"join_rule": "invite"}),
                         RoomPutStateResponse, "join rules to invite")
            return put.event_id

        async def dave_joins() -> str:
            # The peer is in the room and it is public there: dave joins through his own server alone.
            expect(await dave.join(room_id), JoinResponse, "dave joins the public room")
            return await state_event_id(bob, room_id, "m.room.member", dave.user_id)

        rules, dave_join = await fork(home, invite_only, peer, dave_joins)
        assert dave_join is not None, "dave's join is in the peer's state before the servers meet again"

        state = await converge(alice, bob, room_id, "join rules vs join")
        # Resolution: the join rules change is a power event and is applied first; dave's join, checked after
        # it, fails (the room is invite-only and he was not invited). Dave is not a member on either server.
        assert state[("m.room.join_rules", "")][0] == rules
        assert json.loads(state[("m.room.join_rules", "")][1]) == {"join_rule": "invite"}
        assert ("m.room.member", dave.user_id) not in state
        assert dave_join not in {event_id for event_id, _ in state.values()}
        # His own server agrees: the room is not among his joined rooms any more.
        joined = expect(await dave.joined_rooms(), JoinedRoomsResponse, "dave's joined rooms")
        assert room_id not in joined.rooms
    finally:
        for client in (alice, bob, dave):
            await client.close()


async def _has_state(client: AsyncClient, room_id: str, expected: dict[tuple[str, str], str]) -> bool:
    state = await current_state(client, room_id)
    return all(state.get(key, ("",))[0] == event_id for key, event_id in expected.items())


@pytest.mark.needs(*RESILIENCE, "Synapse peer", "GET /rooms/{id}/messages")
@pytest.mark.parametrize("pair", PAIRS)
async def test_messages_sent_while_the_peer_is_down_arrive_in_order_when_it_returns(
        pair, hearth_factory, synapse_peer):
    home, peer = await sides(pair, hearth_factory, synapse_peer)
    alice = await home.user("alice")
    bob = await peer.user("bob")
    try:
        room_id = await public_room_with_remote_member(home, alice, bob, "outage")
        before = await send_text(alice, room_id, "before the outage")
        await sync_until(bob, lambda r: first(timeline(r, room_id), event_id=before), "the first message",
                         timeout=CONVERGENCE_WAIT)

        peer.server.stop()
        bodies = [f"sent while the peer is down #{i}" for i in range(12)]
        slowest = 0.0
        for body in bodies:
            started = time.monotonic()
            await send_text(alice, room_id, body)
            slowest = max(slowest, time.monotonic() - started)
            await asyncio.sleep(0.5)
        assert slowest < LOCAL_SEND_BOUND, f"a local send took {slowest:.1f}s while the peer was down"
        # Hearth keeps serving its own users meanwhile.
        history = expect(await alice.room_messages(room_id, limit=len(bodies)), RoomMessagesResponse, "history")
        assert [e.source["content"]["body"] for e in reversed(history.chunk)] == bodies

        peer.server.start()
        returned = time.monotonic()

        async def arrived() -> bool:
            response = expect(await bob.room_messages(room_id, limit=50), RoomMessagesResponse, "peer history")
            seen = [e.source["content"].get("body") for e in reversed(response.chunk)
                    if e.source.get("type") == "m.room.message"]
            return seen[-len(bodies):] == bodies

        await wait_until("every queued message on the peer, in order", arrived)
        assert time.monotonic() - returned < CONVERGENCE_WAIT
    finally:
        await alice.close()
        await bob.close()

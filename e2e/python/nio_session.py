"""matrix-nio helpers shared by the scenarios: making clients, checking responses, and bounded /sync waits.

The scenarios speak to Hearth only through nio's AsyncClient, as a bot or client written by others would; these
helpers add nothing to the protocol, they only make failures readable and every wait finite.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    RegisterResponse,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomSendResponse,
    SyncResponse,
)

from hearth_harness import HearthServer

# What most scenarios use to get two logged-in users; listed in their `needs` markers.
ACCOUNTS = ("POST /register (m.login.dummy)",)
# A room alice made and bob joined; listed in the `needs` markers of scenarios that use `alice_and_bob_in_room`.
SHARED_ROOM = (*ACCOUNTS, "POST /createRoom", "POST /rooms/{id}/invite", "POST /join/{id}", "GET /sync")

SYNC_WAIT_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 30.0

T = TypeVar("T")


def client_config() -> AsyncClientConfig:
    """Bounded retries and request time, so a dead server fails a test instead of hanging it."""
    return AsyncClientConfig(max_timeouts=3, request_timeout=REQUEST_TIMEOUT_SECONDS, encryption_enabled=False)


def new_client(server: HearthServer, localpart: str = "") -> AsyncClient:
    """An AsyncClient for `server` (not logged in)."""
    user = server.user_id(localpart) if localpart else ""
    return AsyncClient(server.base_url, user, config=client_config())


def expect(response: Any, kind: type[T], action: str) -> T:
    """`response` if it is a `kind`; otherwise fails with what nio got back (error code, message, HTTP status)."""
    if not isinstance(response, kind):
        transport = getattr(response, "transport_response", None)
        http = f"HTTP {transport.status} {transport.method} {transport.url.path}" if transport is not None else ""
        got = f"{type(response).__name__} {getattr(response, 'status_code', '')} {getattr(response, 'message', '')}"
        raise AssertionError(f"{action}: expected {kind.__name__}, got {got.strip()} ({http})")
    return response


def password() -> str:
    """A fresh random password."""
    return secrets.token_urlsafe(18)


async def register(server: HearthServer, localpart: str, secret: str | None = None) -> AsyncClient:
    """Registers `localpart` with m.login.dummy (open registration) and returns the logged-in client."""
    client = new_client(server)
    response = await client.register(localpart, secret or password(), device_name=f"{localpart}'s nio")
    expect(response, RegisterResponse, f"register {localpart}")
    assert client.access_token, "registration logged the client in"
    return client


async def sync_until(client: AsyncClient, check: Callable[[SyncResponse], Any], what: str,
                     timeout: float = SYNC_WAIT_SECONDS, sync_filter: dict | None = None) -> Any:
    """Long-polls /sync from the client's last token until `check(response)` is truthy; returns that value.

    Fails the test with `what` when `timeout` seconds pass first. Each /sync asks the server to hold the request for
    at most 2 s, so the loop also proves that an idle long-poll returns.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        assert remaining > 0, f"{client.user_id} did not see {what} in /sync within {timeout}s"
        response = await asyncio.wait_for(
            client.sync(timeout=int(min(2.0, remaining) * 1000), since=client.next_batch, sync_filter=sync_filter),
            timeout=remaining + REQUEST_TIMEOUT_SECONDS,
        )
        expect(response, SyncResponse, f"/sync of {client.user_id}")
        found = check(response)
        if found:
            return found


def timeline(response: SyncResponse, room_id: str) -> list[dict]:
    """The raw JSON of the joined room's timeline events in this /sync response (empty when it is absent)."""
    room = response.rooms.join.get(room_id)
    return [event.source for event in room.timeline.events] if room else []


def state_events(response: SyncResponse, room_id: str) -> list[dict]:
    """Raw state events of a joined room in this /sync response: the `state` block and the timeline's state."""
    room = response.rooms.join.get(room_id)
    if not room:
        return []
    return [e.source for e in room.state] + [e for e in timeline(response, room_id) if "state_key" in e]


def first(events: list[dict], **match: Any) -> dict | None:
    """The first event whose top-level fields equal `match` (content fields as `content={...}` subsets)."""
    for event in events:
        if all(_matches(event.get(key), value) for key, value in match.items()):
            return event
    return None


def _matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(_matches(actual.get(k), v) for k, v in expected.items())
    return actual == expected


async def send_text(client: AsyncClient, room_id: str, body: str) -> str:
    """Sends an m.text message and returns its event ID."""
    response = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body})
    return expect(response, RoomSendResponse, f"send {body!r}").event_id


async def put_global_account_data(client: AsyncClient, event_type: str, content: dict) -> None:
    """PUT /user/{userId}/account_data/{type} through nio's own request path (nio has no wrapper for it)."""
    path = Api._build_path(["user", client.user_id, "account_data", event_type],
                           {"access_token": client.access_token})
    response = await client.send("PUT", path, json.dumps(content), headers={"Content-Type": "application/json"})
    try:
        assert response.status == 200, f"PUT account data {event_type}: {response.status} {await response.text()}"
    finally:
        response.release()


async def alice_and_bob_in_room(alice: AsyncClient, bob: AsyncClient, name: str = "e2e room") -> str:
    """alice creates a private room and invites bob; bob sees the invite in /sync and joins; alice sees the join.

    Returns the room ID once both clients' sync tokens are past bob's join.
    """
    created = expect(await alice.room_create(name=name), RoomCreateResponse, "create room")
    room_id = created.room_id
    await sync_until(alice, lambda r: room_id in r.rooms.join, "her new room")
    expect(await alice.room_invite(room_id, bob.user_id), RoomInviteResponse, "invite bob")
    await sync_until(bob, lambda r: room_id in r.rooms.invite, "the invite")
    expect(await bob.join(room_id), JoinResponse, "bob joins")
    await sync_until(bob, lambda r: room_id in r.rooms.join, "the room he joined")
    await sync_until(
        alice,
        lambda r: first(timeline(r, room_id), type="m.room.member", state_key=bob.user_id,
                        content={"membership": "join"}),
        "bob's join",
    )
    return room_id

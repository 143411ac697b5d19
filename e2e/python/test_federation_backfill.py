"""Backfill over federation (issue scenario 6): a Hearth user joins a room that another server has held for 500
messages and pages back through all of them with /messages — Hearth fetches the history it never received with
GET /_matrix/federation/v1/backfill from the room's server (a real Synapse, then another Hearth), checks it and
returns it in order, exactly once, down to the room's creation.
"""

from __future__ import annotations

import pytest
from nio import (
    AsyncClient,
    JoinResponse,
    MessageDirection,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomVisibility,
)

from hearth_harness import HearthOptions
from nio_session import expect, register, send_text, sync_until, timeline
from test_federation_outbound import FEDERATION, FEDERATION_WAIT, synapse_client

HISTORY_LENGTH = 500
PAGE = 50
BACKFILL = (*FEDERATION, "GET /rooms/{id}/messages (dir=b)", "outbound GET /backfill")


async def room_with_history(owner: AsyncClient, alias: str) -> str:
    """`owner` creates a public room (history shared with members) with `alias` and sends HISTORY_LENGTH messages."""
    created = expect(await owner.room_create(visibility=RoomVisibility.public, alias=alias, name="Long history",
                                             preset=RoomPreset.public_chat), RoomCreateResponse, "createRoom")
    for index in range(HISTORY_LENGTH):
        await send_text(owner, created.room_id, f"message {index}")
    return created.room_id


async def join_and_page_back(joiner: AsyncClient, alias: str, room_id: str) -> None:
    """`joiner` joins by alias and pages back from its first sync to the room's creation: every message body, in
    order, exactly once; the history never shows up as new in /sync."""
    expect(await joiner.join(alias), JoinResponse, "remote join by alias")
    response = await sync_until(joiner, lambda r: r if room_id in r.rooms.join else None, "the joined room",
                                timeout=FEDERATION_WAIT)
    token = response.rooms.join[room_id].timeline.prev_batch
    assert token, "sync gave no prev_batch to page back from"
    newest = [e["content"]["body"] for e in timeline(response, room_id) if e["type"] == "m.room.message"]
    assert not newest, f"history before the join must not arrive through /sync: {newest[:5]}"

    older: list[str] = []
    kinds: list[str] = []
    for _ in range(HISTORY_LENGTH):  # a bound, never reached: at most one page per message
        page = expect(await joiner.room_messages(room_id, start=token, direction=MessageDirection.back, limit=PAGE),
                      RoomMessagesResponse, "GET /messages")
        kinds.extend(e.source["type"] for e in page.chunk)
        older.extend(e.source["content"]["body"] for e in page.chunk
                     if e.source["type"] == "m.room.message" and "body" in e.source.get("content", {}))
        if not page.end:
            break
        assert page.end != token, "a page that does not move"
        token = page.end
    else:
        pytest.fail("pagination did not end")
    history = list(reversed(older))
    assert history == [f"message {i}" for i in range(HISTORY_LENGTH)], (
        f"{len(history)} bodies; first {history[:3]}, last {history[-3:]}")
    assert kinds and kinds[-1] == "m.room.create", f"paged down to the creation, ended at {kinds[-1:]}"

    # What was backfilled is history, not news.
    sync = await joiner.sync(timeout=0, since=joiner.next_batch)
    assert not [e for e in timeline(sync, room_id) if e["type"] == "m.room.message"]


@pytest.mark.needs(*BACKFILL, "Synapse peer")
async def test_hearth_user_pages_back_through_500_messages_of_a_synapse_room_over_federation(hearth_factory,
                                                                                              synapse_peer):
    hearth = hearth_factory(HearthOptions(federation=True))
    peer = synapse_peer()
    sam = await synapse_client(peer, "sam")
    alice = await register(hearth, "alice")
    try:
        room_id = await room_with_history(sam, "history")
        await join_and_page_back(alice, f"#history:{peer.server_name}", room_id)
    finally:
        await alice.close()
        await sam.close()


@pytest.mark.needs(*BACKFILL)
async def test_hearth_user_pages_back_through_500_messages_of_another_hearths_room_over_federation(hearth_factory):
    first_server = hearth_factory(HearthOptions(federation=True))
    second_server = hearth_factory(HearthOptions(federation=True))
    alice = await register(first_server, "alice")
    bob = await register(second_server, "bob")
    try:
        room_id = await room_with_history(alice, "history")
        await join_and_page_back(bob, f"#history:{first_server.server_name}", room_id)
    finally:
        await alice.close()
        await bob.close()


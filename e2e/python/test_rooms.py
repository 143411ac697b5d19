"""Rooms through matrix-nio: create, invite, join, exchange messages, page back through history, leave."""

import pytest
from nio import (
    MessageDirection,
    RoomCreateResponse,
    RoomLeaveResponse,
    RoomMessagesResponse,
)

from nio_session import (
    ACCOUNTS,
    SHARED_ROOM,
    alice_and_bob_in_room,
    expect,
    first,
    send_text,
    sync_until,
    timeline,
)

HISTORY_LENGTH = 200


@pytest.mark.needs(*SHARED_ROOM)
async def test_user_creates_room_invites_and_the_invited_user_joins(alice, bob):
    room_id = await alice_and_bob_in_room(alice, bob, name="Planning")
    assert room_id.startswith("!")
    # bob's client built the room from /sync: the name alice gave it and both members.
    room = bob.rooms[room_id]
    assert room.name == "Planning"
    assert set(room.users) == {alice.user_id, bob.user_id}


@pytest.mark.needs(*SHARED_ROOM, "PUT /rooms/{id}/send/m.room.message/{txnId}")
async def test_two_users_exchange_messages_and_each_sees_the_others_in_sync(alice, bob, room_id):
    hello = await send_text(alice, room_id, "hello bob")
    seen = await sync_until(bob, lambda r: first(timeline(r, room_id), event_id=hello), "alice's message")
    assert seen["sender"] == alice.user_id
    assert seen["content"] == {"msgtype": "m.text", "body": "hello bob"}

    reply = await send_text(bob, room_id, "hi alice")
    seen = await sync_until(alice, lambda r: first(timeline(r, room_id), event_id=reply), "bob's reply")
    assert seen["sender"] == bob.user_id
    assert seen["content"]["body"] == "hi alice"


@pytest.mark.needs(*SHARED_ROOM, "PUT /rooms/{id}/send/m.room.message/{txnId}",
                   "GET /sync (timeline limited with prev_batch)", "GET /rooms/{id}/messages (dir=b, from, limit)")
async def test_user_pages_back_through_200_messages_of_history(alice, bob, room_id):
    for index in range(HISTORY_LENGTH):
        await send_text(alice, room_id, f"message {index}")
    last = f"message {HISTORY_LENGTH - 1}"
    # bob's incremental sync carries the newest messages with a prev_batch token to page back from.
    response = await sync_until(
        bob, lambda r: r if first(timeline(r, room_id), content={"body": last}) else None, "the last message")
    room = response.rooms.join[room_id]
    newest = [e["content"]["body"] for e in timeline(response, room_id) if e["type"] == "m.room.message"]
    if len(newest) < HISTORY_LENGTH:
        assert room.timeline.limited, "a timeline without all messages must say it is limited"
    token = room.timeline.prev_batch
    assert token, "sync gave no prev_batch to paginate from"

    older: list[str] = []
    for _ in range(HISTORY_LENGTH):  # at most one page per message: a bound, never reached
        page = expect(await bob.room_messages(room_id, start=token, direction=MessageDirection.back, limit=50),
                      RoomMessagesResponse, "GET /messages")
        older.extend(e.source["content"]["body"] for e in page.chunk
                     if e.source["type"] == "m.room.message" and "body" in e.source.get("content", {}))
        if not page.chunk or not page.end or page.end == token:
            break
        token = page.end
    history = list(reversed(older)) + newest
    assert history == [f"message {i}" for i in range(HISTORY_LENGTH)]


@pytest.mark.needs(*SHARED_ROOM, "POST /rooms/{id}/leave", "GET /sync (rooms.leave)")
async def test_leaving_user_gets_the_room_under_leave_and_the_other_sees_the_leave(alice, bob, room_id):
    expect(await bob.room_leave(room_id), RoomLeaveResponse, "leave")
    await sync_until(bob, lambda r: room_id in r.rooms.leave, "the room under rooms.leave")
    await sync_until(
        alice,
        lambda r: first(timeline(r, room_id), type="m.room.member", state_key=bob.user_id,
                        content={"membership": "leave"}),
        "bob's leave",
    )


@pytest.mark.needs(*ACCOUNTS, "POST /createRoom (name, topic)", "GET /sync")
async def test_created_room_starts_with_its_name_topic_and_creator_as_member(alice):
    created = expect(await alice.room_create(name="Lobby", topic="Say hi"), RoomCreateResponse, "create")
    await sync_until(alice, lambda r: created.room_id in r.rooms.join, "the new room")
    room = alice.rooms[created.room_id]
    assert room.name == "Lobby"
    assert room.topic == "Say hi"
    assert set(room.users) == {alice.user_id}

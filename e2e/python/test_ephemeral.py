"""Typing notifications and read receipts through matrix-nio: what one member does appears in the other's /sync
(`rooms.join.<id>.ephemeral`), and the fully-read marker in room account data."""

import pytest
from nio import (
    ReceiptEvent,
    ReceiptType,
    RoomReadMarkersResponse,
    RoomTypingResponse,
    TypingNoticeEvent,
    UpdateReceiptMarkerResponse,
)

from nio_session import SHARED_ROOM, expect, send_text, sync_until


def ephemeral(response, room_id: str) -> list:
    room = response.rooms.join.get(room_id)
    return room.ephemeral if room else []


def typing_users(response, room_id: str) -> list[str] | None:
    """Who the latest m.typing event in this response says is typing; None when it has none."""
    notices = [e for e in ephemeral(response, room_id) if isinstance(e, TypingNoticeEvent)]
    return notices[-1].users if notices else None


@pytest.mark.needs(*SHARED_ROOM, "PUT /rooms/{id}/typing/{userId}", "GET /sync (ephemeral m.typing)")
async def test_typing_notification_reaches_the_other_users_sync(alice, bob, room_id):
    expect(await alice.room_typing(room_id, True, timeout=30_000), RoomTypingResponse, "start typing")
    await sync_until(bob, lambda r: alice.user_id in (typing_users(r, room_id) or []), "alice typing")

    expect(await alice.room_typing(room_id, False), RoomTypingResponse, "stop typing")
    await sync_until(bob, lambda r: typing_users(r, room_id) == [], "alice no longer typing")


@pytest.mark.needs(*SHARED_ROOM, "POST /rooms/{id}/receipt/m.read/{eventId}", "GET /sync (ephemeral m.receipt)")
async def test_read_receipt_reaches_the_other_users_sync(alice, bob, room_id):
    message = await send_text(alice, room_id, "did you read this?")
    expect(await bob.update_receipt_marker(room_id, message, ReceiptType.read), UpdateReceiptMarkerResponse,
           "read receipt")

    def bobs_receipt(response):
        return any(
            receipt.event_id == message and receipt.user_id == bob.user_id and receipt.receipt_type == "m.read"
            for event in ephemeral(response, room_id) if isinstance(event, ReceiptEvent)
            for receipt in event.receipts
        )

    await sync_until(alice, bobs_receipt, "bob's read receipt")


@pytest.mark.needs(*SHARED_ROOM, "POST /rooms/{id}/read_markers", "GET /sync (room account_data m.fully_read)")
async def test_fully_read_marker_is_synced_as_room_account_data(alice, bob, room_id):
    message = await send_text(alice, room_id, "a long read")
    expect(await bob.room_read_markers(room_id, fully_read_event=message, read_event=message),
           RoomReadMarkersResponse, "read markers")

    def fully_read(response):
        room = response.rooms.join.get(room_id)
        return room and any(getattr(e, "event_id", None) == message for e in room.account_data)

    await sync_until(bob, fully_read, "his m.fully_read marker")

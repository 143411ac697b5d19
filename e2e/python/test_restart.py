"""A restart loses nothing: sync tokens, access tokens and messages survive stopping the server mid-conversation."""

import pytest
from nio import WhoamiResponse

from nio_session import SHARED_ROOM, expect, send_text, sync_until, timeline


@pytest.mark.needs(*SHARED_ROOM, "PUT /rooms/{id}/send/m.room.message/{txnId}",
                   "sync tokens and access tokens that survive a restart")
async def test_sync_from_a_token_issued_before_restart_loses_nothing(hearth, alice, bob, room_id):
    before = [await send_text(alice, room_id, f"before restart {i}") for i in range(3)]
    token_before_restart = bob.next_batch
    assert token_before_restart

    hearth.restart()

    expect(await alice.whoami(), WhoamiResponse, "alice's access token after the restart")
    after = [await send_text(alice, room_id, f"after restart {i}") for i in range(2)]

    # bob resumes from the token the server gave him before it stopped.
    bob.next_batch = token_before_restart
    received: list[str] = []

    def everything(response):
        room = response.rooms.join.get(room_id)
        assert not (room and room.timeline.limited), "5 messages fit in a timeline of 50: nothing may be skipped"
        received.extend(e["event_id"] for e in timeline(response, room_id) if e["type"] == "m.room.message")
        return set(before + after) <= set(received)

    await sync_until(bob, everything, "all five messages", sync_filter={"room": {"timeline": {"limit": 50}}})
    assert [e for e in received if e in before + after] == before + after, "each message once, in order"

"""Room state and profiles through matrix-nio: name, topic and avatar URL changes reach the other member; a user's
display name and avatar URL are stored and show up in their member event."""

import pytest
from nio import (
    ProfileGetResponse,
    ProfileSetAvatarResponse,
    ProfileSetDisplayNameResponse,
    RoomGetStateEventResponse,
    RoomPutStateResponse,
)

from nio_session import SHARED_ROOM, expect, first, state_events, sync_until


@pytest.mark.needs(*SHARED_ROOM, "PUT /rooms/{id}/state/{type}/{stateKey}", "GET /rooms/{id}/state/{type}/{stateKey}")
async def test_room_name_topic_and_avatar_url_changes_reach_the_other_member(alice, bob, room_id, hearth):
    avatar = f"mxc://{hearth.server_name}/RoomAvatar123"
    changes = {
        "m.room.name": {"name": "Weekend trip"},
        "m.room.topic": {"topic": "Who brings the tent?"},
        "m.room.avatar": {"url": avatar},
    }
    for event_type, content in changes.items():
        expect(await alice.room_put_state(room_id, event_type, content), RoomPutStateResponse, event_type)

    seen: dict[str, dict] = {}

    def all_changes(response):
        for event_type, content in changes.items():
            event = first(state_events(response, room_id), type=event_type, state_key="", content=content)
            if event:
                seen[event_type] = event
        return len(seen) == len(changes)

    await sync_until(bob, all_changes, "the new name, topic and avatar")
    assert all(event["sender"] == alice.user_id for event in seen.values())
    room = bob.rooms[room_id]
    assert (room.name, room.topic, room.room_avatar_url) == ("Weekend trip", "Who brings the tent?", avatar)

    for event_type, content in changes.items():
        stored = expect(await bob.room_get_state_event(room_id, event_type), RoomGetStateEventResponse, event_type)
        assert stored.content == content


@pytest.mark.needs(*SHARED_ROOM, "PUT /profile/{userId}/displayname", "PUT /profile/{userId}/avatar_url",
                   "GET /profile/{userId}", "profile changes propagated to the user's m.room.member events")
async def test_profile_display_name_and_avatar_url_are_stored_and_shown_in_member_events(alice, bob, room_id,
                                                                                         hearth):
    avatar = f"mxc://{hearth.server_name}/AliceFace"
    expect(await alice.set_displayname("Alice Liddell"), ProfileSetDisplayNameResponse, "set displayname")
    expect(await alice.set_avatar(avatar), ProfileSetAvatarResponse, "set avatar")

    profile = expect(await bob.get_profile(alice.user_id), ProfileGetResponse, "get profile")
    assert (profile.displayname, profile.avatar_url) == ("Alice Liddell", avatar)

    await sync_until(
        bob,
        lambda r: first(state_events(r, room_id), type="m.room.member", state_key=alice.user_id,
                        content={"membership": "join", "displayname": "Alice Liddell", "avatar_url": avatar}),
        "alice's member event with her new profile",
    )

"""Account data through matrix-nio: a direct chat marked in `m.direct` is stored and synced to every device."""

import pytest
from nio import DirectRoomsResponse, InviteMemberEvent, LoginResponse, RoomCreateResponse, RoomPreset

from nio_session import ACCOUNTS, expect, new_client, password, put_global_account_data, register, sync_until

DM_NEEDS = (*ACCOUNTS, "POST /login (m.login.password)", "POST /createRoom (is_direct, invite, trusted_private_chat)",
            "PUT /user/{userId}/account_data/m.direct", "GET /user/{userId}/account_data/m.direct",
            "GET /sync (account_data, invite state)")


def m_direct(response) -> dict | None:
    """The content of the m.direct account data event in this /sync response, if it has one."""
    for event in response.account_data_events:
        if getattr(event, "type", None) == "m.direct":
            return event.content
    return None


@pytest.mark.needs(*DM_NEEDS)
async def test_direct_chat_is_marked_in_m_direct_and_synced_to_the_users_other_device(hearth, bob):
    secret = password()
    alice = await register(hearth, "alice", secret)
    other_device = new_client(hearth, "alice")
    try:
        created = expect(
            await alice.room_create(is_direct=True, invite=[bob.user_id], preset=RoomPreset.trusted_private_chat),
            RoomCreateResponse, "create DM")
        dm = created.room_id
        await put_global_account_data(alice, "m.direct", {bob.user_id: [dm]})

        stored = expect(await alice.list_direct_rooms(), DirectRoomsResponse, "GET m.direct")
        assert stored.rooms == {bob.user_id: [dm]}

        # bob's invite is flagged as direct in the stripped state of his membership.
        invite = await sync_until(bob, lambda r: r.rooms.invite.get(dm), "the DM invite")
        # (nio moves an invite member event's content out of `source`, so read its parsed `content`.)
        member = next(e for e in invite.invite_state
                      if isinstance(e, InviteMemberEvent) and e.state_key == bob.user_id)
        assert member.content.get("is_direct") is True

        # A fresh device of alice gets the account data in its initial sync.
        expect(await other_device.login(secret), LoginResponse, "login on a second device")
        content = await sync_until(other_device, m_direct, "m.direct")
        assert content == {bob.user_id: [dm]}
    finally:
        await other_device.close()
        await alice.close()

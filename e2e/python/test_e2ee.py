"""End-to-end encryption through matrix-nio with its own Olm/Megolm (the vodozemac wheel): device keys, one-time
key claims and to-device room keys carried by Hearth, and each client decrypting the others' messages.

The server never sees plaintext here: alice and bob encrypt with nio's crypto, Hearth stores and relays keys and
ciphertext, and the assertions check that the receiving client decrypted what the sender wrote.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth_harness import HearthServer
from nio_e2ee import (
    E2EE,
    decrypted_text,
    e2ee_login,
    e2ee_register,
    e2ee_sync_until,
    encrypted_room,
    raw_event,
    send_encrypted,
)
from nio_session import password


@pytest.fixture
async def e2ee_pair(hearth: HearthServer, tmp_path: Path):
    """alice and bob, each with an encrypting nio client (own crypto store) and uploaded device keys."""
    secrets = {"alice": password(), "bob": password()}
    alice = await e2ee_register(hearth, "alice", tmp_path / "alice-store", secrets["alice"])
    bob = await e2ee_register(hearth, "bob", tmp_path / "bob-store", secrets["bob"])
    yield alice, bob, secrets
    await alice.close()
    await bob.close()


@pytest.mark.needs(*E2EE)
async def test_two_users_in_an_encrypted_room_decrypt_each_others_messages(e2ee_pair):
    alice, bob, _ = e2ee_pair
    room_id = await encrypted_room(alice, bob)

    event_id = await send_encrypted(alice, room_id, "the secret is 42")
    stored = await raw_event(bob, room_id, event_id)
    assert stored["type"] == "m.room.encrypted", "the server only ever holds ciphertext"
    assert "the secret" not in str(stored)
    seen = await e2ee_sync_until(bob, decrypted_text(bob, room_id, "the secret is 42"), "alice's encrypted message")
    assert seen.decrypted and seen.sender == alice.user_id

    await send_encrypted(bob, room_id, "got it")
    seen = await e2ee_sync_until(alice, decrypted_text(alice, room_id, "got it"), "bob's encrypted reply")
    assert seen.decrypted and seen.sender == bob.user_id


@pytest.mark.needs(*E2EE, "POST /login", "GET /sync (device_lists.changed after a new device uploads keys)")
async def test_a_device_that_logs_in_later_gets_the_keys_of_new_messages(e2ee_pair, hearth, tmp_path):
    alice, bob, secrets = e2ee_pair
    room_id = await encrypted_room(alice, bob)
    await send_encrypted(alice, room_id, "before the new device")
    await e2ee_sync_until(bob, decrypted_text(bob, room_id, "before the new device"), "the first message")

    bob_tablet = await e2ee_login(hearth, "bob", tmp_path / "bob-tablet-store", secrets["bob"])
    try:
        # alice's client learns of bob's new device from device_lists.changed and queries its keys.
        await e2ee_sync_until(
            alice,
            lambda r: any(d.id == bob_tablet.device_id for d in alice.device_store.active_user_devices(bob.user_id)),
            "bob's new device",
        )
        await e2ee_sync_until(bob_tablet, lambda r: room_id in r.rooms.join, "the room on the new device")
        await send_encrypted(alice, room_id, "after the new device")
        seen = await e2ee_sync_until(bob_tablet, decrypted_text(bob_tablet, room_id, "after the new device"),
                                     "the message on the new device")
        assert seen.decrypted
        # bob's first device still decrypts too.
        await e2ee_sync_until(bob, decrypted_text(bob, room_id, "after the new device"), "the message on bob's phone")
    finally:
        await bob_tablet.close()

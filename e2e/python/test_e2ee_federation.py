"""End-to-end encryption across servers with matrix-nio's own Olm/Megolm (the vodozemac wheel): a Hearth user and a
Synapse user (or users of two Hearths) in an encrypted room decrypt each other's messages, and a device that logs
in later gets the keys of new messages.

What crosses the servers here: /keys/query and /keys/claim for remote users (federation /user/devices,
/user/keys/query, /user/keys/claim), the room keys as to-device messages (m.direct_to_device EDUs), and new devices
announced as m.device_list_update EDUs that reach the other side's clients as /sync device_lists.changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nio import AsyncClient

from hearth_harness import HearthOptions
from nio_e2ee import E2EE, decrypted_text, e2ee_login_at, e2ee_sync_until, encrypted_room, raw_event, send_encrypted
from nio_session import password

FEDERATED_E2EE = (
    *E2EE,
    "federation: /user/devices, /user/keys/query, /user/keys/claim",
    "federation EDUs: m.direct_to_device, m.device_list_update",
)
# Federation round trips (key fetches, joins, EDU delivery) take a few seconds on a loaded 2-core machine.
FEDERATION_WAIT = 60.0


class Account:
    """A user of one server (Hearth or a Synapse peer): where it lives, its password, and its devices' clients."""

    def __init__(self, server, localpart: str, stores: Path) -> None:
        self.server = server
        self.user_id = f"@{localpart}:{server.server_name}"
        self.secret = password()
        self.stores = stores
        self.clients: list[AsyncClient] = []
        server.register_with_shared_secret(localpart, self.secret)

    async def new_device(self) -> AsyncClient:
        """Logs in on a new device (own crypto store), uploads its keys; closed with the account."""
        store = self.stores / f"{self.user_id}-{len(self.clients)}"
        client = await e2ee_login_at(self.server.base_url, self.user_id, store, self.secret)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


def knows_device(client: AsyncClient, user_id: str, device_id: str):
    """A check for e2ee_sync_until: the client's device store has `device_id` of `user_id` (it queried the keys)."""
    return lambda _: any(d.id == device_id for d in client.device_store.active_user_devices(user_id))


async def exchange_encrypted(first: AsyncClient, second: AsyncClient, room_id: str) -> None:
    """Each sends one encrypted message; the other decrypts it. The servers only ever carry ciphertext."""
    body = f"secret from {first.user_id}"
    event_id = await send_encrypted(first, room_id, body)
    seen = await e2ee_sync_until(second, decrypted_text(second, room_id, body), f"{first.user_id}'s message",
                                 FEDERATION_WAIT)
    assert seen.decrypted and seen.sender == first.user_id and seen.event_id == event_id
    stored = await raw_event(second, room_id, event_id)
    assert stored["type"] == "m.room.encrypted" and body not in str(stored), "the servers only carry ciphertext"

    reply = f"reply from {second.user_id}"
    await send_encrypted(second, room_id, reply)
    seen = await e2ee_sync_until(first, decrypted_text(first, room_id, reply), f"{second.user_id}'s reply",
                                 FEDERATION_WAIT)
    assert seen.decrypted and seen.sender == second.user_id


async def new_device_gets_keys_of_new_messages(sender: AsyncClient, receiver: Account, receiver_first: AsyncClient,
                                               room_id: str) -> None:
    """`receiver` logs in on a new device; `sender` (of the other server) learns of it through device_lists.changed,
    queries its keys over federation, and shares the room key of its next message with it: the new device and the
    receiver's first device both decrypt it."""
    tablet = await receiver.new_device()
    await e2ee_sync_until(sender, knows_device(sender, receiver.user_id, tablet.device_id),
                          f"{receiver.user_id}'s new device {tablet.device_id}", FEDERATION_WAIT)
    await e2ee_sync_until(tablet, lambda r: room_id in r.rooms.join, "the room on the new device", FEDERATION_WAIT)
    body = f"after {receiver.user_id}'s new device"
    await send_encrypted(sender, room_id, body)
    seen = await e2ee_sync_until(tablet, decrypted_text(tablet, room_id, body), "the message on the new device",
                                 FEDERATION_WAIT)
    assert seen.decrypted and seen.sender == sender.user_id
    await e2ee_sync_until(receiver_first, decrypted_text(receiver_first, room_id, body),
                          "the message on the first device", FEDERATION_WAIT)


@pytest.fixture
async def hearth_and_synapse_accounts(hearth_factory, synapse_peer, tmp_path: Path):
    """alice on a Hearth and sam on a Synapse peer, each with one encrypting device."""
    hearth = hearth_factory(HearthOptions(federation=True))
    peer = synapse_peer()
    alice = Account(hearth, "alice", tmp_path)
    sam = Account(peer, "sam", tmp_path)
    try:
        yield alice, await alice.new_device(), sam, await sam.new_device()
    finally:
        await alice.close()
        await sam.close()


@pytest.fixture
async def two_hearth_accounts(hearth_factory, tmp_path: Path):
    """alice and bob on two Hearths, each with one encrypting device."""
    alice = Account(hearth_factory(HearthOptions(federation=True)), "alice", tmp_path)
    bob = Account(hearth_factory(HearthOptions(federation=True)), "bob", tmp_path)
    try:
        yield alice, await alice.new_device(), bob, await bob.new_device()
    finally:
        await alice.close()
        await bob.close()


@pytest.mark.needs(*FEDERATED_E2EE, "Synapse peer")
async def test_hearth_and_synapse_users_decrypt_each_others_messages_in_an_encrypted_room(
        hearth_and_synapse_accounts):
    _, alice, _, sam = hearth_and_synapse_accounts
    room_id = await encrypted_room(alice, sam, FEDERATION_WAIT)
    await exchange_encrypted(alice, sam, room_id)


@pytest.mark.needs(*FEDERATED_E2EE, "Synapse peer", "POST /login")
async def test_a_new_device_of_a_synapse_user_gets_the_keys_of_a_hearth_users_new_messages(
        hearth_and_synapse_accounts):
    _, alice, sam_account, sam = hearth_and_synapse_accounts
    room_id = await encrypted_room(alice, sam, FEDERATION_WAIT)
    await exchange_encrypted(alice, sam, room_id)
    await new_device_gets_keys_of_new_messages(alice, sam_account, sam, room_id)


@pytest.mark.needs(*FEDERATED_E2EE, "Synapse peer", "POST /login")
async def test_a_new_device_of_a_hearth_user_gets_the_keys_of_a_synapse_users_new_messages(
        hearth_and_synapse_accounts):
    alice_account, alice, _, sam = hearth_and_synapse_accounts
    room_id = await encrypted_room(sam, alice, FEDERATION_WAIT)
    await exchange_encrypted(sam, alice, room_id)
    await new_device_gets_keys_of_new_messages(sam, alice_account, alice, room_id)


@pytest.mark.needs(*FEDERATED_E2EE, "POST /login")
async def test_users_of_two_hearths_decrypt_each_others_messages_and_a_new_device_gets_keys(two_hearth_accounts):
    alice_account, alice, bob_account, bob = two_hearth_accounts
    room_id = await encrypted_room(alice, bob, FEDERATION_WAIT)
    await exchange_encrypted(alice, bob, room_id)
    await new_device_gets_keys_of_new_messages(alice, bob_account, bob, room_id)
    await new_device_gets_keys_of_new_messages(bob, alice_account, alice, room_id)

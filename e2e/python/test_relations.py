"""Edits (m.replace), reactions (m.annotation) and redactions through matrix-nio: each is a real event, stored
(fetched back with GET /event) and delivered to the other member's /sync."""

import pytest
from nio import RoomGetEventResponse, RoomRedactResponse, RoomSendResponse
from nio.api import RelationshipType

from nio_session import SHARED_ROOM, expect, first, send_text, sync_until, timeline

SEND = "PUT /rooms/{id}/send/{type}/{txnId}"
GET_EVENT = "GET /rooms/{id}/event/{eventId}"


async def fetch_event(client, room_id: str, event_id: str) -> dict:
    """The event's JSON as the server stores it (GET /rooms/{id}/event/{eventId})."""
    response = expect(await client.room_get_event(room_id, event_id), RoomGetEventResponse, f"get {event_id}")
    return response.event.source


@pytest.mark.needs(*SHARED_ROOM, SEND, GET_EVENT)
async def test_edit_is_stored_and_delivered_as_an_m_replace_event(alice, bob, room_id):
    original = await send_text(alice, room_id, "see you at 5")
    edit_content = {
        "msgtype": "m.text",
        "body": "* see you at 6",
        "m.new_content": {"msgtype": "m.text", "body": "see you at 6"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    }
    edit = expect(await alice.room_send(room_id, "m.room.message", edit_content), RoomSendResponse, "edit").event_id

    delivered = await sync_until(bob, lambda r: first(timeline(r, room_id), event_id=edit), "the edit")
    assert delivered["content"]["m.relates_to"] == {"rel_type": "m.replace", "event_id": original}
    assert delivered["content"]["m.new_content"]["body"] == "see you at 6"

    stored = await fetch_event(bob, room_id, edit)
    assert stored["type"] == "m.room.message"
    assert stored["sender"] == alice.user_id
    assert stored["content"] == edit_content


@pytest.mark.needs(*SHARED_ROOM, SEND, GET_EVENT)
async def test_reaction_is_stored_and_delivered_as_an_m_annotation_event(alice, bob, room_id):
    message = await send_text(alice, room_id, "lunch?")
    reaction_content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": message, "key": "👍"}}
    reaction = expect(await bob.room_send(room_id, "m.reaction", reaction_content), RoomSendResponse,
                      "react").event_id

    delivered = await sync_until(alice, lambda r: first(timeline(r, room_id), event_id=reaction), "the reaction")
    assert delivered["type"] == "m.reaction"
    assert delivered["sender"] == bob.user_id
    assert delivered["content"] == reaction_content

    stored = await fetch_event(alice, room_id, reaction)
    assert stored["content"]["m.relates_to"]["key"] == "👍"


@pytest.mark.needs(*SHARED_ROOM, SEND, GET_EVENT, "GET /rooms/{id}/relations/{eventId}/{relType}")
async def test_relations_endpoint_lists_the_reaction_and_the_edit_of_a_message(alice, bob, room_id):
    message = await send_text(alice, room_id, "draft")
    edit = expect(await alice.room_send(room_id, "m.room.message", {
        "msgtype": "m.text", "body": "* final", "m.new_content": {"msgtype": "m.text", "body": "final"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": message},
    }), RoomSendResponse, "edit").event_id
    reaction = expect(await bob.room_send(room_id, "m.reaction", {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": message, "key": "🎉"},
    }), RoomSendResponse, "react").event_id

    annotations = [e.event_id async for e in bob.room_get_event_relations(
        room_id, message, rel_type=RelationshipType.annotation)]
    replacements = [e.event_id async for e in bob.room_get_event_relations(
        room_id, message, rel_type=RelationshipType.replacement)]
    assert annotations == [reaction]
    assert replacements == [edit]


@pytest.mark.needs(*SHARED_ROOM, SEND, "PUT /rooms/{id}/redact/{eventId}/{txnId}", GET_EVENT,
                   "redacted content stripped with unsigned.redacted_because")
async def test_redacted_message_reaches_the_other_user_without_its_content(alice, bob, room_id):
    secret = await send_text(alice, room_id, "my password is hunter2")
    await sync_until(bob, lambda r: first(timeline(r, room_id), event_id=secret), "the message")

    redaction = expect(await alice.room_redact(room_id, secret, reason="oops"), RoomRedactResponse,
                       "redact").event_id
    delivered = await sync_until(bob, lambda r: first(timeline(r, room_id), event_id=redaction), "the redaction")
    assert delivered["type"] == "m.room.redaction"
    # Room versions 11+ carry `redacts` in the content; the top-level copy is kept for older clients.
    assert secret in (delivered.get("redacts"), delivered["content"].get("redacts"))
    assert delivered["content"].get("reason") == "oops"

    stored = await fetch_event(bob, room_id, secret)
    assert stored["content"] == {}
    assert stored["unsigned"]["redacted_because"]["event_id"] == redaction

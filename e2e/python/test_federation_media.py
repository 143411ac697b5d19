"""Media over federation with a real Synapse and between two Hearths: a user uploads an avatar and a file on one
server, a user of the other server downloads them through their own server (authenticated media,
/_matrix/client/v1/media) with identical bytes, and gets a thumbnail of the avatar. The servers fetch each other's
media with /_matrix/federation/v1/media/download|thumbnail over TLS on loopback.
"""

from __future__ import annotations

import os

import pytest
from nio import (
    AsyncClient,
    MemoryDownloadResponse,
    ProfileGetAvatarResponse,
    ProfileSetAvatarResponse,
    ResizingMethod,
    ThumbnailResponse,
)

from hearth_harness import HearthOptions
from nio_session import ACCOUNTS, expect, register
from test_federation_outbound import synapse_client
from test_media import MEDIA_NEEDS, png, png_size, upload

FEDERATED_MEDIA = (*ACCOUNTS, *MEDIA_NEEDS, "GET /_matrix/federation/v1/media/download/{mediaId}",
                   "GET /_matrix/federation/v1/media/thumbnail/{mediaId}", "federation: /query/profile")


async def uploads_avatar_and_file(uploader: AsyncClient) -> tuple[bytes, str, bytes, str]:
    """`uploader` uploads an avatar (and sets it) and a PDF with a non-ASCII name; returns bytes and URIs."""
    avatar = png(400, 300)
    avatar_uri = await upload(uploader, avatar, "image/png", "avatar.png")
    expect(await uploader.set_avatar(avatar_uri), ProfileSetAvatarResponse, "set avatar")
    document = os.urandom(300_000)
    file_uri = await upload(uploader, document, "application/pdf", "Bericht März.pdf")
    return avatar, avatar_uri, document, file_uri


async def downloads_them_through_their_own_server(downloader: AsyncClient, uploader: AsyncClient,
                                                 uploaded: tuple[bytes, str, bytes, str]) -> None:
    """`downloader` (on another server) finds the avatar in the uploader's profile, downloads it and the file with
    identical bytes, names and types, and gets 96×96 and 320×240 thumbnails of the avatar."""
    avatar, avatar_uri, document, file_uri = uploaded
    profile = expect(await downloader.get_avatar(uploader.user_id), ProfileGetAvatarResponse,
                     "the remote user's avatar")
    assert profile.avatar_url == avatar_uri
    downloaded = expect(await downloader.download(mxc=avatar_uri), MemoryDownloadResponse, "download the avatar")
    assert downloaded.body == avatar
    assert downloaded.content_type == "image/png"
    assert downloaded.filename == "avatar.png"

    server_name, media_id = avatar_uri.removeprefix("mxc://").split("/", 1)
    cropped = expect(await downloader.thumbnail(server_name, media_id, 96, 96, ResizingMethod.crop),
                     ThumbnailResponse, "cropped thumbnail of the remote avatar")
    assert png_size(cropped.body) == (96, 96)
    scaled = expect(await downloader.thumbnail(server_name, media_id, 320, 240, ResizingMethod.scale),
                    ThumbnailResponse, "scaled thumbnail of the remote avatar")
    assert png_size(scaled.body) == (320, 240)

    got = expect(await downloader.download(mxc=file_uri), MemoryDownloadResponse, "download the file")
    assert got.body == document
    assert got.content_type == "application/pdf"
    assert got.filename == "Bericht März.pdf"
    # A second download is served from the downloader's server's cache, with the same bytes.
    again = expect(await downloader.download(mxc=file_uri), MemoryDownloadResponse, "download the file again")
    assert again.body == document


@pytest.mark.needs(*FEDERATED_MEDIA, "Synapse peer")
async def test_hearth_user_downloads_a_synapse_users_avatar_and_file_and_a_thumbnail(hearth_factory, synapse_peer):
    hearth = hearth_factory(HearthOptions(federation=True))
    peer = synapse_peer()
    sam = await synapse_client(peer, "sam")
    alice = await register(hearth, "alice")
    try:
        uploaded = await uploads_avatar_and_file(sam)
        await downloads_them_through_their_own_server(alice, sam, uploaded)
    finally:
        await alice.close()
        await sam.close()


@pytest.mark.needs(*FEDERATED_MEDIA, "Synapse peer")
async def test_synapse_user_downloads_a_hearth_users_avatar_and_file_and_a_thumbnail(hearth_factory, synapse_peer):
    hearth = hearth_factory(HearthOptions(federation=True))
    peer = synapse_peer()
    sam = await synapse_client(peer, "sam")
    alice = await register(hearth, "alice")
    try:
        uploaded = await uploads_avatar_and_file(alice)
        await downloads_them_through_their_own_server(sam, alice, uploaded)
    finally:
        await alice.close()
        await sam.close()


@pytest.mark.needs(*FEDERATED_MEDIA)
async def test_user_of_one_hearth_downloads_media_of_another_hearth_and_a_thumbnail(hearth_factory):
    first_server = hearth_factory(HearthOptions(federation=True))
    second_server = hearth_factory(HearthOptions(federation=True))
    alice = await register(first_server, "alice")
    bob = await register(second_server, "bob")
    try:
        uploaded = await uploads_avatar_and_file(alice)
        await downloads_them_through_their_own_server(bob, alice, uploaded)
    finally:
        await alice.close()
        await bob.close()

"""Media through matrix-nio: a user uploads an avatar and a file, another user downloads them (authenticated
media, /_matrix/client/v1/media) with identical bytes, and gets a thumbnail of the avatar."""

import io
import os
import struct
import zlib

import pytest
from nio import (
    MemoryDownloadResponse,
    ProfileGetAvatarResponse,
    ProfileSetAvatarResponse,
    ResizingMethod,
    ThumbnailResponse,
    UploadResponse,
)

from nio_session import ACCOUNTS, expect

MEDIA_NEEDS = (*ACCOUNTS, "POST /_matrix/media/v3/upload", "GET /_matrix/client/v1/media/download/{server}/{id}",
               "GET /_matrix/client/v1/media/thumbnail/{server}/{id}", "PUT /profile/{userId}/avatar_url")


def png(width: int, height: int) -> bytes:
    """A gradient PNG made with the standard library only."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        for x in range(width):
            raw += bytes((x * 255 // width, y * 255 // height, 128))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


async def upload(client, data: bytes, content_type: str, filename: str) -> str:
    response, _ = await client.upload(io.BytesIO(data), content_type=content_type, filename=filename,
                                      filesize=len(data))
    return expect(response, UploadResponse, f"upload {filename}").content_uri


@pytest.mark.needs(*MEDIA_NEEDS)
async def test_user_uploads_an_avatar_and_a_file_and_another_user_downloads_them(alice, bob):
    avatar = png(400, 300)
    avatar_uri = await upload(alice, avatar, "image/png", "avatar.png")
    assert avatar_uri.startswith("mxc://")
    expect(await alice.set_avatar(avatar_uri), ProfileSetAvatarResponse, "set avatar")

    # bob finds the avatar through alice's profile and downloads it.
    profile = expect(await bob.get_avatar(alice.user_id), ProfileGetAvatarResponse, "get alice's avatar")
    assert profile.avatar_url == avatar_uri
    downloaded = expect(await bob.download(mxc=avatar_uri), MemoryDownloadResponse, "download the avatar")
    assert downloaded.body == avatar
    assert downloaded.content_type == "image/png"
    assert downloaded.filename == "avatar.png"

    # ... and a thumbnail of it, as clients show avatars.
    server_name, media_id = avatar_uri.removeprefix("mxc://").split("/", 1)
    thumbnail = expect(await bob.thumbnail(server_name, media_id, 96, 96, ResizingMethod.crop),
                       ThumbnailResponse, "thumbnail of the avatar")
    assert png_size(thumbnail.body) == (96, 96)
    scaled = expect(await bob.thumbnail(server_name, media_id, 320, 240, ResizingMethod.scale),
                    ThumbnailResponse, "scaled thumbnail")
    assert png_size(scaled.body) == (320, 240)

    # A file that is not an image, with a name that needs encoding.
    document = os.urandom(300_000)
    file_uri = await upload(alice, document, "application/pdf", "Bericht März.pdf")
    got = expect(await bob.download(mxc=file_uri), MemoryDownloadResponse, "download the file")
    assert got.body == document
    assert got.content_type == "application/pdf"
    assert got.filename == "Bericht März.pdf"

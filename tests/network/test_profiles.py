"""Profiles: the fixed vocabulary, validation of every field, and avatars end to end."""

from __future__ import annotations

import asyncio
import io
import struct
import threading
import zlib

import pytest
from httpx import AsyncClient
from PIL import Image

from mitalk.core.database import Database
from mitalk.network.avatars import Decoder
from mitalk.network.errors import AvatarsBusy
from network.kit import image_bytes, jpeg_with_gps, upload_avatar
from rooms.kit import call, fails, make_members, ok, open_room


async def test_vocabulary_lists_industries_and_open_to_flags(client: AsyncClient) -> None:
    vocab = (await client.get("/api/v1/network/vocabulary")).json()
    ids = [i["id"] for i in vocab["industries"]]
    assert "software_internet" in ids and "other" in ids and len(ids) == len(set(ids)) >= 20
    assert [o["id"] for o in vocab["open_to"]] == [
        "hiring", "job_offers", "investing", "partnerships", "mentoring", "clients"
    ]
    assert vocab["max_skills"] == 30 and vocab["max_links"] == 5


async def test_profile_fields_are_validated_and_normalized(
    client: AsyncClient, db: Database
) -> None:
    (ana,) = await make_members(db, 1, "Ana")
    profile = await ok(client, ana, "PATCH", "/me/profile", {
        "name": "  Ana Costa ", "industry": "banking_finance",
        "skills": ["Machine   Learning", "machine learning", "C++", "Go"],
        "links": ["https://ana.example/about"], "open_to": ["hiring", "mentoring", "hiring"],
        "bio": "Line one\nLine two",
    })
    assert profile["name"] == "Ana Costa"
    # spaces collapsed, duplicates dropped without regard to case, written as first written
    assert profile["skills"] == ["Machine Learning", "C++", "Go"]
    assert profile["open_to"] == ["hiring", "mentoring"]
    assert profile["links"] == ["https://ana.example/about"]
    assert profile["avatar_url"] is None
    me = await ok(client, ana, "GET", "/me")
    assert (
        me["profile"]["industry"] == "banking_finance"
        and me["profile"]["bio"] == "Line one\nLine two"
    )
    # clearing the industry is allowed
    assert (await ok(client, ana, "PATCH", "/me/profile", {"industry": ""}))["industry"] == ""
    bad = [
        {"industry": "crypto_moonshots"},
        {"open_to": ["world_domination"]},
        {"skills": ["x" * 41]},
        {"skills": ["<script>"]},
        {"skills": [f"s{i}" for i in range(31)]},
        {"links": ["javascript:alert(1)"]},
        {"links": ["ftp://files.example"]},
        {"links": ["https://user:pw@evil.example"]},
        {"links": ["https://a.example/" + "x" * 300]},
        {"links": [f"https://{i}.example" for i in range(6)]},
        {"name": "x" * 81},
        {"name": "two\nlines"},
        {"headline": "nul\x00byte"},
        {"bio": "b" * 2001},
        {"phone": "+4915100000000"},
    ]
    for body in bad:
        response = await call(client, ana, "PATCH", "/me/profile", body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
    # nothing of the refused changes was stored
    stored = (await ok(client, ana, "GET", "/me"))["profile"]["skills"]
    assert stored == ["Machine Learning", "C++", "Go"]


async def test_names_refuse_bidirectional_overrides(client: AsyncClient, db: Database) -> None:
    (ana,) = await make_members(db, 1, "Ana")
    for field in ("name", "headline", "company", "role", "location"):
        for bad in ("Ana\u202eatsoC", "\u2066Ana\u2069", "Ana\u202a", "x\u202d"):
            response = await call(client, ana, "PATCH", "/me/profile", {field: bad})
            assert response.status_code == 422, (field, bad, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_request" and "bidirectional" in error["message"]
    # refused, not stripped: the name is as it was; right-to-left names are welcome
    assert (await ok(client, ana, "GET", "/me"))["profile"]["name"] == "Ana 1"
    assert (await ok(client, ana, "PATCH", "/me/profile", {"name": "عائشة"}))["name"] == "عائشة"


async def test_an_avatar_is_re_encoded_square_without_metadata_and_served_safely(
    client: AsyncClient, db: Database
) -> None:
    ana, ben = await make_members(db, 2)
    response = await upload_avatar(client, ana, jpeg_with_gps())
    assert response.status_code == 200, response.text
    url = response.json()["avatar_url"]
    assert url.startswith(f"/api/v1/avatars/{ana.id}/") and url.endswith(".webp")
    served = await client.get(url)  # public, as an <img> fetches it
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"].startswith("default-src 'none'")
    assert "immutable" in served.headers["cache-control"]
    image = Image.open(io.BytesIO(served.content))
    assert image.format == "WEBP" and image.size == (256, 256)
    assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert b"SecretCam" not in served.content
    # the profile others see and the room participant carry the same URL
    assert (await ok(client, ben, "GET", f"/users/{ana.id}"))["profile"]["avatar_url"] == url
    room = await open_room(client, ana)
    assert room["participants"][0]["avatar_url"] == url
    joined = await ok(client, ben, "POST", f"/rooms/{room['id']}/join")
    assert [p["avatar_url"] for p in joined["participants"]] == [url, None]
    # a new image gets a new URL; the old one is gone
    png = image_bytes("PNG", (300, 900), mode="RGBA")
    second = (await upload_avatar(client, ana, png, "me.png", "image/png")).json()["avatar_url"]
    assert second != url
    assert (await client.get(url)).status_code == 404
    assert (await client.get(second)).status_code == 200
    webp = image_bytes("WEBP", (64, 64))
    assert (await upload_avatar(client, ana, webp, "me.webp", "image/webp")).status_code == 200
    # removing it
    assert (await client.delete("/api/v1/me/avatar", headers=ana.headers)).status_code == 204
    assert (await ok(client, ana, "GET", "/me"))["profile"]["avatar_url"] is None


async def test_uploads_that_are_not_safe_images_are_refused(
    client: AsyncClient, db: Database
) -> None:
    (ana,) = await make_members(db, 1)
    cases = [
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            "a.png",
            415,
            "unsupported_image",
        ),
        (b"GIF89a" + b"\x00" * 100, "a.gif", 415, "unsupported_image"),
        (image_bytes("GIF", (10, 10)), "a.gif", 415, "unsupported_image"),
        (image_bytes("BMP", (10, 10)), "a.jpg", 415, "unsupported_image"),
        (image_bytes("JPEG")[:400], "cut.jpg", 422, "broken_image"),
        # 6000x5000 of one colour: a small file, but 30 megapixels once decoded (a "bomb")
        (image_bytes("PNG", (6000, 5000), mode="L"), "bomb.png", 413, "avatar_too_many_pixels"),
        (b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024 + 1), "big.jpg", 413, "avatar_too_large"),
    ]
    for data, name, status, code in cases:
        response = await upload_avatar(client, ana, data, name)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), (
            name,
            response.text,
        )
    # not multipart at all, or no 'file' part
    raw = await client.put(
        "/api/v1/me/avatar",
        content=image_bytes("PNG"),
        headers={**ana.headers, "content-type": "image/png"},
    )
    assert raw.status_code == 415
    other = await client.put(
        "/api/v1/me/avatar",
        files={"picture": ("a.png", image_bytes("PNG"), "image/png")},
        headers=ana.headers,
    )
    assert (other.status_code, other.json()["error"]["code"]) == (400, "file_missing")
    assert (await ok(client, ana, "GET", "/me"))["profile"]["avatar_url"] is None
    await fails(client, None, "PUT", "/me/avatar", 401, "not_authenticated")
    assert (await client.get(f"/api/v1/avatars/{ana.id}/0123456789abcdef.webp")).status_code == 404


def truncated_png(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header declares ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 8))


async def test_costly_pictures_are_refused_from_their_header(
    client: AsyncClient, db: Database
) -> None:
    """A 5000x5000 PNG (73 KB) and a truncated one declaring 25 megapixels cost a second of
    CPU each to decode: both are refused before decoding, as is a very long strip; a truncated
    picture inside the limits is broken, and a 12-megapixel phone photo passes."""
    (ana,) = await make_members(db, 1)
    cases = [
        (image_bytes("PNG", (5000, 5000)), 413, "avatar_too_many_pixels"),
        (truncated_png(5000, 5000), 413, "avatar_too_many_pixels"),
        (truncated_png(4097, 4096), 413, "avatar_too_many_pixels"),
        (truncated_png(16_000, 100), 413, "avatar_too_many_pixels"),
        (truncated_png(4096, 4096), 422, "broken_image"),
    ]
    for data, status, code in cases:
        response = await upload_avatar(client, ana, data, "a.png", "image/png")
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert (await ok(client, ana, "GET", "/me"))["profile"]["avatar_url"] is None
    photo = await upload_avatar(client, ana, image_bytes("JPEG", (4032, 3024)))
    assert photo.status_code == 200, photo.text
    # Past the upload limit: refused from Content-Length, before the body is read.
    huge = await upload_avatar(client, ana, b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024 + 20_000))
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "avatar_too_large")


async def test_decoding_runs_on_its_own_threads_and_refuses_past_its_queue() -> None:
    """At most ``threads`` decode at once and ``waiting`` more queue; the next is refused with
    503 busy at once (not queued with its bytes in memory); none runs on the event loop."""
    decoder = Decoder(threads=1, waiting=1)
    gate = threading.Event()
    loop_thread = threading.current_thread()

    def hold(data: bytes) -> bool:
        gate.wait(30)
        return threading.current_thread() is not loop_thread

    running = [asyncio.create_task(decoder.run(hold, b"")) for _ in range(2)]
    await asyncio.sleep(0)  # both have started: one decoding, one waiting for the thread
    with pytest.raises(AvatarsBusy) as refused:
        await decoder.run(hold, b"")
    assert refused.value.status == 503 and refused.value.headers["Retry-After"]
    gate.set()
    assert await asyncio.gather(*running) == [True, True]
    assert await decoder.run(hold, b"")  # free again


async def test_avatar_uploads_are_counted_per_account(client: AsyncClient, db: Database) -> None:
    """Each upload is decoded (CPU): 20 an hour per account, then 429 with Retry-After, before
    the body is read; another account is not held back."""
    ana, ben = await make_members(db, 2)
    small = image_bytes("PNG", (64, 64))
    for _ in range(20):
        assert (await upload_avatar(client, ana, small, "a.png", "image/png")).status_code == 200
    refused = await upload_avatar(client, ana, small, "a.png", "image/png")
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    assert (await upload_avatar(client, ben, small, "b.png", "image/png")).status_code == 200

"""Helpers for network tests: images made with Pillow, people joined into rooms."""

from __future__ import annotations

import io
from typing import Any

from httpx import AsyncClient
from PIL import Image

from factories import Person
from rooms.kit import ok


def image_bytes(
    fmt: str, size: tuple[int, int] = (640, 480), mode: str = "RGB", **save: Any
) -> bytes:
    """A real image file of the given format."""
    color: Any = {"RGBA": (30, 120, 200, 128), "L": 90}.get(mode, (30, 120, 200))
    image = Image.new(mode, size, color)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A JPEG photo carrying camera make, a GPS position and an orientation tag."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° to show upright
    gps = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 18.0)}
    exif[0x8825] = gps  # GPS IFD
    return image_bytes("JPEG", (400, 200), exif=exif.tobytes())


async def upload_avatar(client: AsyncClient, person: Person, data: bytes, name: str = "me.jpg",
                        content_type: str = "image/jpeg") -> Any:
    """PUT /me/avatar as a browser would (multipart, part 'file')."""
    return await client.put(
        "/api/v1/me/avatar", files={"file": (name, data, content_type)}, headers=person.headers
    )


async def together_in_room(client: AsyncClient, host: Person, *guests: Person, **room: Any) -> str:
    """A live open room hosted by ``host`` that every guest joined; returns its id."""
    created = await ok(
        client, host, "POST", "/rooms", {"title": "Meetup", "visibility": "open", **room}
    )
    for guest in guests:
        await ok(client, guest, "POST", f"/rooms/{created['id']}/join")
    return str(created["id"])

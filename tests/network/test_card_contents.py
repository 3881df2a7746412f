"""Cards that carry something: what their owner chose to share (an email, links, the phone
number only by explicit choice), who may see it, its vCard, the notice that opens it, and
people you met listed once with every room's name."""

from __future__ import annotations

import base64
import io

from httpx import AsyncClient
from PIL import Image

from mitalk.core.database import Database
from network.kit import together_in_room, upload_avatar
from rooms.kit import call, fails, make_members, ok


async def test_what_a_card_carries_is_the_owners_choice(client: AsyncClient, db: Database) -> None:
    host, guest, stranger = await make_members(db, 3, "Card")
    assert await ok(client, host, "GET", "/me/card") == {
        "email": "", "share_links": False, "share_phone": False
    }
    profile = {"company": "Acme; Inc.", "role": "CTO", "links": ["https://acme.example/ada"]}
    await ok(client, host, "PATCH", "/me/profile", profile)
    rid = await together_in_room(client, host, guest)
    card = await ok(client, host, "POST", "/cards", {"user_id": guest.id, "room_id": rid})

    seen = await ok(client, guest, "GET", f"/cards/{card['id']}")
    assert seen["room_title"] == "Meetup" and seen["direction"] == "incoming"
    assert seen["contact"] == {
        "name": "Card 1", "headline": "", "company": "Acme; Inc.", "role": "CTO",
        "email": None, "links": [], "phone": None,
    }  # nothing shared yet: the public profile only, never the number

    shared = {"email": "ada@acme.example", "share_links": True, "share_phone": False}
    assert await ok(client, host, "PUT", "/me/card", shared) == shared
    seen = await ok(client, guest, "GET", f"/cards/{card['id']}")
    assert seen["contact"]["email"] == "ada@acme.example"
    assert seen["contact"]["links"] == ["https://acme.example/ada"]
    assert seen["contact"]["phone"] is None

    await ok(client, host, "PUT", "/me/card", {**shared, "share_phone": True})
    seen = await ok(client, guest, "GET", f"/cards/{card['id']}")
    assert seen["contact"]["phone"] == host.phone  # only by that explicit choice

    # Nobody else sees it; the owner does.
    await fails(client, stranger, "GET", f"/cards/{card['id']}", 404, "card_not_found")
    await fails(client, stranger, "GET", f"/cards/{card['id']}/vcard", 404, "card_not_found")
    mine = await ok(client, host, "GET", f"/cards/{card['id']}")
    assert mine["direction"] == "outgoing" and mine["contact"]["phone"] == host.phone


async def test_card_sharing_input_is_checked(client: AsyncClient, db: Database) -> None:
    (person,) = await make_members(db, 1)
    for body in (
        {"email": "not an address"},
        {"email": "a@b"},
        {"email": "x" * 250 + "@a.de"},
        {"share_phone": "yes please"},
        {"phone": "+4915112345678"},
    ):
        await fails(client, person, "PUT", "/me/card", 422, "invalid_request", body)
    assert (await ok(client, person, "GET", "/me/card"))["email"] == ""  # nothing changed


async def test_a_card_downloads_as_a_vcard(client: AsyncClient, db: Database) -> None:
    host, guest = await make_members(db, 2, "V")
    await ok(client, host, "PATCH", "/me/profile",
             {"name": "Ada, Countess; of Lovelace", "company": "Analytical Engines",
              "headline": "Notes " * 20, "links": ["https://ada.example"]})  # fmt: skip
    await ok(client, host, "PUT", "/me/card",
             {"email": "ada@ada.example", "share_links": True, "share_phone": True})  # fmt: skip
    rid = await together_in_room(client, host, guest)
    card = await ok(client, host, "POST", "/cards", {"user_id": guest.id, "room_id": rid})

    response = await call(client, guest, "GET", f"/cards/{card['id']}/vcard")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/vcard; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment;")
    text = response.content.decode()
    lines = text.split("\r\n")
    assert lines[0] == "BEGIN:VCARD" and lines[1] == "VERSION:3.0" and lines[-2] == "END:VCARD"
    assert all(len(line.encode()) <= 75 for line in lines)  # folded
    unfolded = text.replace("\r\n ", "")
    assert "FN:Ada\\, Countess\\; of Lovelace\r\n" in unfolded
    assert "ORG:Analytical Engines\r\n" in unfolded
    assert "EMAIL;TYPE=INTERNET:ada@ada.example\r\n" in unfolded
    assert f"TEL;TYPE=CELL:{host.phone}\r\n" in unfolded
    assert "URL:https://ada.example/\r\n" in unfolded  # as the profile stores it

    assert "PHOTO" not in unfolded  # no avatar yet

    await ok(client, host, "PUT", "/me/card", {"email": "", "share_phone": False})
    again = (await call(client, guest, "GET", f"/cards/{card['id']}/vcard")).text
    assert "TEL" not in again and "EMAIL" not in again and "URL" not in again


async def test_the_vcard_carries_the_owners_photo_as_a_jpeg(
    client: AsyncClient, db: Database
) -> None:
    host, guest = await make_members(db, 2, "P")
    await ok(client, host, "PATCH", "/me/profile", {"name": "Grace Hopper"})
    # A transparent PNG: the photo is laid over white (JPEG has no transparency).
    transparent = io.BytesIO()
    Image.new("RGBA", (300, 300), (200, 30, 30, 0)).save(transparent, "PNG")
    picture = transparent.getvalue()
    assert (await upload_avatar(client, host, picture, "me.png", "image/png")).status_code == 200
    rid = await together_in_room(client, host, guest)
    card = await ok(client, host, "POST", "/cards", {"user_id": guest.id, "room_id": rid})

    text = (await call(client, guest, "GET", f"/cards/{card['id']}/vcard")).text
    lines = text.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)  # the photo is folded too
    unfolded = text.replace("\r\n ", "")
    [photo_line] = [line for line in unfolded.split("\r\n") if line.startswith("PHOTO")]
    prefix, _, encoded = photo_line.partition(":")
    assert prefix == "PHOTO;ENCODING=b;TYPE=JPEG"
    with Image.open(io.BytesIO(base64.b64decode(encoded, validate=True))) as photo:
        assert photo.format == "JPEG" and photo.size == (256, 256)
        assert min(photo.convert("RGB").getpixel((128, 128))) > 245  # white, not black


async def test_the_card_notice_names_the_card_and_a_declined_card_is_gone(
    client: AsyncClient, db: Database
) -> None:
    host, guest = await make_members(db, 2)
    rid = await together_in_room(client, host, guest)
    card = await ok(client, host, "POST", "/cards", {"user_id": guest.id, "room_id": rid})
    notices = (await ok(client, guest, "GET", "/notifications"))["notifications"]
    offered = [n for n in notices if n["kind"] == "card_offered"]
    assert offered and offered[0]["data"]["card_id"] == card["id"]

    await ok(client, guest, "POST", f"/cards/{card['id']}/decline")
    await fails(client, guest, "GET", f"/cards/{card['id']}", 404, "card_not_found")
    assert (await ok(client, host, "GET", f"/cards/{card['id']}"))["status"] == "declined"


async def test_people_met_once_each_with_every_rooms_name(
    client: AsyncClient, db: Database
) -> None:
    host, guest = await make_members(db, 2)
    first = await together_in_room(client, host, guest, title="Morning coffee")
    await ok(client, host, "POST", f"/rooms/{first}/end")
    second = await together_in_room(client, host, guest, title="Fintech Friday")
    met = (await ok(client, guest, "GET", "/me/met"))["people"]
    assert len(met) == 1 and met[0]["person"]["id"] == host.id
    assert met[0]["room_id"] == second
    assert met[0]["rooms"] == [
        {"id": second, "title": "Fintech Friday"},
        {"id": first, "title": "Morning coffee"},
    ]
    await ok(client, guest, "POST", "/cards", {"user_id": host.id, "room_id": first})
    assert (await ok(client, guest, "GET", "/me/met"))["people"][0]["card_sent"] is True

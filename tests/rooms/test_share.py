"""A room's share link: the client's page with a link preview, and nothing for private rooms."""

from __future__ import annotations

import datetime as dt
import html
import re

from httpx import AsyncClient

from conftest import Clock
from mitalk.core.database import Database
from rooms.kit import make_members, ok, open_room

BOT = {"user-agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"}


def tags(page: str) -> dict[str, str]:
    """The page's meta tags, name or property -> unescaped content (each must be unique)."""
    found: dict[str, str] = {}
    for attr, name, content in re.findall(
        r'<meta (property|name)="([^"]+)" content="([^"]*)"', page
    ):
        assert name not in found, f"{name} twice"
        found[name] = html.unescape(content)
        assert attr
    return found


async def shared(client: AsyncClient, room_id: str, language: str = "en") -> str:
    response = await client.get(f"/rooms/{room_id}", headers={**BOT, "accept-language": language})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Accept-Language" in response.headers["vary"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return response.text


async def test_an_open_live_room_previews_its_title_in_the_readers_language(
    client: AsyncClient, db: Database
) -> None:
    (host,) = await make_members(db, 1, "Host")
    room = await open_room(client, host, title="Hiring in fintech", topics=["fintech", "jobs"])
    page = await shared(client, room["id"], "de-DE,de;q=0.9")
    meta = tags(page)
    assert meta["og:title"] == "Hiring in fintech"
    assert meta["og:description"] == (
        "Ein Live-Audio-Raum auf Mi Talk. Tippe, um reinzuhören. fintech · jobs"
    )
    assert meta["description"] == meta["og:description"]
    assert meta["og:url"] == f"http://mitalk.test/rooms/{room['id']}"
    assert meta["og:image"] == "http://mitalk.test/icons/icon-512.png"
    assert meta["og:locale"] == "de_DE" and meta["twitter:card"] == "summary"
    assert "<title>Hiring in fintech · Mi Talk</title>" in page
    # Still the client's own page: its script opens the room in a browser.
    assert re.search(r'<script type="module"[^>]* src="/assets/index-[^"]+\.js">', page)
    assert '<div id="app"></div>' in page
    assert tags(await shared(client, room["id"], "zh-TW"))["og:description"].startswith(
        "Mi Talk 上正在進行的語音房間"
    )


async def test_a_title_is_text_in_the_page_never_markup(client: AsyncClient, db: Database) -> None:
    (host,) = await make_members(db, 1, "Host")
    title = 'Q&A "live" <script>alert(1)</script>'
    room = await open_room(client, host, title=title)
    page = await shared(client, room["id"])
    assert "<script>alert(1)" not in page
    assert tags(page)["og:title"] == title
    assert "<title>Q&amp;A \"live\" &lt;script&gt;alert(1)&lt;/script&gt; · Mi Talk</title>" in page


async def test_a_scheduled_open_room_says_when_it_starts(
    client: AsyncClient, db: Database, clock: Clock
) -> None:
    (host,) = await make_members(db, 1, "Host")
    starts = (clock() + dt.timedelta(days=2)).replace(hour=14, minute=30, second=0, microsecond=0)
    room = await open_room(client, host, title="Payments", starts_at=starts.isoformat())
    assert room["status"] == "scheduled"
    english = tags(await shared(client, room["id"]))["og:description"]
    assert english.startswith("An audio room on Mi Talk, starting ")
    assert english.endswith(f"{starts.year} at 14:30 UTC. fintech")
    chinese = tags(await shared(client, room["id"], "zh-CN"))["og:description"]
    assert f"{starts.year}年{starts.month}月{starts.day}日 14:30（UTC）开始" in chinese


async def test_private_ended_and_missing_rooms_reveal_nothing(
    client: AsyncClient, db: Database
) -> None:
    """A social, closed or ended room's link answers the very page an unknown id gets."""
    host, guest, third = await make_members(db, 3, "Host")
    social = await open_room(client, host, title="Board talk", visibility="social")
    closed = await open_room(client, guest, title="Salary review", visibility="closed")
    ended = await open_room(client, third, title="Yesterday's news")
    await ok(client, third, "POST", f"/rooms/{ended['id']}/end")
    nobody = await shared(client, "r_does_not_exist")
    assert tags(nobody)["og:title"] == "Mi Talk"
    assert tags(nobody)["og:description"] == "Mi Talk: live audio rooms for professionals."
    assert tags(nobody)["og:url"] == "http://mitalk.test/"
    for room in (social, closed, ended):
        page = await shared(client, room["id"])
        assert page == nobody, room["title"]
        assert room["title"] not in page
    # Ids that are no id at all get the same page, without a database read.
    assert await shared(client, "x" * 300) == nobody
    assert (await client.get("/rooms/a/b")).status_code == 200  # the client's page, no preview

"""A room's share link, ``/rooms/{id}``: the web client's page with a link preview.

Chat apps and social sites fetch a shared link and read its OpenGraph tags for the preview card
(they run no script and send no cookie). The page carries the room's title and a line about it,
in the requester's Accept-Language, only for an open room that is live or scheduled: any other
room (social, closed, ended) and a room that does not exist all get the same page naming only
Mi Talk, so a link reveals nothing its room does not show to everyone. In a browser the client
then opens the room (``#/room/{id}``), where the usual access rules apply.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

from babel.dates import format_skeleton
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from mitalk.core.database import Database
from mitalk.core.messages import best_language, known, render
from mitalk.core.settings import Settings
from mitalk.rooms import repository as repo
from mitalk.rooms.models import Room
from mitalk.webclient.serving import NOT_BUILT, REVALIDATE, SECURITY_HEADERS

ROOM_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
OG_LOCALES = {"en": "en_US", "de": "de_DE", "zh-Hans": "zh_CN", "zh-Hant": "zh_TW"}
BABEL_LOCALES = {"en": "en", "de": "de", "zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant"}
MAX_TOPICS = 5


def previewable(room: Room | None) -> bool:
    """Whether a link to this room may show its title: open to anyone and not over."""
    return room is not None and room.visibility == "open" and room.status in ("live", "scheduled")


def description(room: Room, language: str) -> str:
    """One line about a previewable room: live now, or when it starts (UTC), and its topics."""
    if room.status == "scheduled" and room.starts_at is not None:
        starts = room.starts_at.replace(tzinfo=dt.UTC)
        locale = BABEL_LOCALES[language]
        line = render(
            "share.scheduled",
            language,
            date=format_skeleton("yMMMd", starts, tzinfo=dt.UTC, locale=locale),
            time=format_skeleton("Hm", starts, tzinfo=dt.UTC, locale=locale),
        )
    else:
        line = render("share.live", language)
    topics = " · ".join(room.topics[:MAX_TOPICS])
    return f"{line} {topics}" if topics else line


def preview_tags(room: Room | None, language: str, url: str, image: str) -> tuple[str, str]:
    """The page's title and the meta tags of its preview (every value escaped)."""
    if previewable(room):
        assert room is not None
        title, text = room.title, description(room, language)
        page_title = f"{room.title} · Mi Talk"
    else:
        title, text, page_title = "Mi Talk", render("share.generic", language), "Mi Talk"
    tags = [
        ("property", "og:site_name", "Mi Talk"),
        ("property", "og:type", "website"),
        ("property", "og:title", title),
        ("property", "og:description", text),
        ("property", "og:url", url),
        ("property", "og:image", image),
        ("property", "og:locale", OG_LOCALES[language]),
        ("name", "twitter:card", "summary"),
        ("name", "twitter:title", title),
        ("name", "twitter:description", text),
        ("name", "description", text),
    ]
    meta = "\n".join(
        f'    <meta {attr}="{name}" content="{html.escape(value, quote=True)}" />'
        for attr, name, value in tags
    )
    return html.escape(page_title, quote=False), meta


def share_page(index_html: str, title: str, meta: str) -> str:
    """The client's page with this title and these tags in place of its own description."""
    page = re.sub(r"\s*<meta name=\"description\"[^>]*>", "", index_html, count=1)
    page = re.sub(r"<title>.*?</title>", lambda _: f"<title>{title}</title>", page, count=1)
    return page.replace("</head>", f"{meta}\n  </head>", 1)


def _origin(settings: Settings, request: Request) -> str:
    # The public address when configured; else the one the request came to.
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def router_for(web_dir: Path) -> APIRouter:
    """``GET /rooms/{room_id}``: the share link's page; registered before the client's pages."""
    router = APIRouter(include_in_schema=False)
    index = web_dir.resolve() / "index.html"

    @router.get("/rooms/{room_id}")
    async def shared_room(room_id: str, request: Request) -> Response:
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        settings: Settings = request.app.state.settings
        db: Database = request.app.state.db
        room = None
        if ROOM_ID.fullmatch(room_id):
            async with db.read_sessions() as session:
                room = await repo.room_by_id(session, room_id)
        language = known(best_language(request.headers.get("accept-language")))
        origin = _origin(settings, request)
        url = f"{origin}/rooms/{room_id}" if previewable(room) else f"{origin}/"
        title, meta = preview_tags(room, language, url, f"{origin}/icons/icon-512.png")
        body = share_page(index.read_text(encoding="utf-8"), title, meta)
        headers = {**SECURITY_HEADERS, "Cache-Control": REVALIDATE, "Vary": "Accept-Language"}
        return Response(body, media_type="text/html", headers=headers)

    return router

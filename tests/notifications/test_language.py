"""Notices and text messages in the reader's language: the app's choice, else the browser's
Accept-Language at sign-in, else English; plurals by each language's rules (Babel)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from httpx import AsyncClient

from factories import Person, last_code, new_phone, set_phase
from mitalk.core.database import Database
from mitalk.core.messages import CATALOG, LANGUAGES, best_language, render
from rooms.kit import fails, make_members, ok
from search.kit import follow


def test_every_message_is_in_every_language_with_the_same_placeholders() -> None:
    def texts(template: str | dict[str, str]) -> list[str]:
        return list(template.values()) if isinstance(template, dict) else [template]

    for key, entry in CATALOG.items():
        assert set(entry) == set(LANGUAGES), key
        names = {n for text in texts(entry["en"]) for n in re.findall(r"\{(\w+)\}", text)}
        for lang, template in entry.items():
            for text in texts(template):
                assert set(re.findall(r"\{(\w+)\}", text)) <= names, (key, lang)
            if isinstance(template, dict):
                assert "other" in template, (key, lang)
            else:
                assert set(re.findall(r"\{(\w+)\}", template)) == names, (key, lang)


def test_a_phones_contacts_are_the_address_book_in_chinese() -> None:
    """As in the web client's catalogs (web/README.md's glossary): 联系人 / 聯絡人 are
    connections; a phone's contacts are the address book, 通讯录 / 通訊錄."""
    def texts(template: str | dict[str, str]) -> list[str]:
        return list(template.values()) if isinstance(template, dict) else [template]

    about_contacts = [
        key for key, entry in CATALOG.items()
        if any(re.search(r"\bcontacts?\b", text) for text in texts(entry["en"]))
    ]
    assert about_contacts  # notice.people_waiting at least
    for key in about_contacts:
        for lang, book, connection in (
            ("zh-Hans", "通讯录", "联系人"), ("zh-Hant", "通訊錄", "聯絡人"),
        ):
            for text in texts(CATALOG[key][lang]):
                assert book in text and connection not in text, (key, lang, text)


def test_plurals_follow_each_language() -> None:
    assert render("notice.room_reminder", "en", room="Fintech", count=1) == (
        "Fintech starts in 1 minute"
    )
    assert render("notice.room_reminder", "en", room="Fintech", count=5) == (
        "Fintech starts in 5 min"
    )
    assert render("notice.room_reminder", "de", room="Fintech", count=1).endswith("1 Minute")
    assert render("notice.room_reminder", "zh-Hant", room="Fintech", count=1) == (
        "「Fintech」將在 1 分鐘後開始"
    )
    assert render("notice.card_offered", "fr", name="Ada") == "Ada offered you their card."


def test_accept_language_picks_one_of_ours() -> None:
    assert best_language("zh-TW,zh;q=0.9,en;q=0.8") == "zh-Hant"
    assert best_language("zh-HK") == "zh-Hant"
    assert best_language("zh-Hant-TW") == "zh-Hant"
    assert best_language("zh-CN,zh;q=0.9") == "zh-Hans"
    assert best_language("de-DE,de;q=0.9,en;q=0.8") == "de"
    assert best_language("en;q=0.5, de;q=0.9") == "de"
    assert best_language("fr-FR, it") is None
    assert best_language("") is None and best_language(None) is None
    assert best_language("de;q=oops, en") == "en"


async def _sign_in(client: AsyncClient, outbox: Path, accept_language: str) -> tuple[Person, str]:
    """A sign-in from a browser speaking ``accept_language``; the person and the code's text."""
    phone = new_phone()
    headers = {"accept-language": accept_language}
    sent = await client.post("/api/v1/auth/code", json={"phone": phone}, headers=headers)
    assert sent.status_code == 202, sent.text
    text = [json.loads(line) for line in outbox.read_text().splitlines()][-1]["body"]
    verified = await client.post(
        "/api/v1/auth/verify",
        json={"phone": phone, "code": last_code(outbox, phone), "ticket": sent.json()["ticket"]},
        headers=headers,
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    return Person(phone=phone, token=body["token"], account=body["account"]), text


async def test_the_browsers_language_at_sign_in_then_the_apps_choice(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    await set_phase(db, "open")
    (asker,) = await make_members(db, 1, "Ada")
    taiwan, code_text = await _sign_in(client, outbox, "zh-TW,zh;q=0.9,en;q=0.5")
    assert code_text.startswith("你的 Mi Talk 驗證碼是 ") and "分鐘內有效" in code_text
    assert taiwan.account["language"] == "zh-Hant"

    request = await ok(client, asker, "POST", "/connections", {"user_id": taiwan.id})
    notices = (await ok(client, taiwan, "GET", "/notifications"))["notifications"]
    assert notices[0]["body"] == "Ada 1 想和你建立聯繫。"

    # The app's choice wins over the browser's from then on, for notices and codes alike.
    chosen = await ok(client, taiwan, "PUT", "/me/language", {"language": "de"})
    assert chosen["language"] == "de"
    await fails(client, taiwan, "PUT", "/me/language", 422, "invalid_request", {"language": "fr"})
    await ok(client, taiwan, "POST", f"/connections/{request['id']}/accept")
    accepted = (await ok(client, asker, "GET", "/notifications"))["notifications"][0]
    assert accepted["body"].endswith("accepted your request: you are connected now.")  # Ada: en
    await ok(client, asker, "PUT", "/me/language", {"language": "zh-Hant"})
    await ok(client, taiwan, "DELETE", f"/connections/{request['id']}")
    again_request = await ok(client, asker, "POST", "/connections", {"user_id": taiwan.id})
    assert again_request["status"] == "pending"
    notices = (await ok(client, taiwan, "GET", "/notifications"))["notifications"]
    assert "Ada 1 möchte sich mit dir vernetzen." in [n["body"] for n in notices]

    again = await client.post(
        "/api/v1/auth/code", json={"phone": taiwan.phone}, headers={"accept-language": "en"}
    )
    assert again.status_code in (202, 429)
    if again.status_code == 202:
        text = [json.loads(line) for line in outbox.read_text().splitlines()][-1]["body"]
        assert text.startswith("Dein Mi-Talk-Code ist ")


async def test_a_fan_out_writes_each_reader_in_their_language(
    client: AsyncClient, db: Database
) -> None:
    host, german, chinese, english = await make_members(db, 4, "Fan")
    for reader, language in ((german, "de"), (chinese, "zh-Hans")):
        await ok(client, reader, "PUT", "/me/language", {"language": language})
    for reader in (german, chinese, english):
        await follow(db, reader, host)
    await ok(client, host, "POST", "/rooms", {"title": "Fintech", "visibility": "open"})
    bodies = {}
    for reader in (german, chinese, english):
        notices = (await ok(client, reader, "GET", "/notifications"))["notifications"]
        bodies[reader.id] = next(n["body"] for n in notices if n["kind"] == "room_started")
    assert bodies[german.id] == "Fan 1 hat einen Raum gestartet: Fintech"
    assert bodies[chinese.id] == "Fan 1 开了一个房间：Fintech"
    assert bodies[english.id] == "Fan 1 started a room: Fintech"

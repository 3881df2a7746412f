"""What the server itself says to people (notices, text messages), in their language.

Four languages, as in the web client: ``en``, ``de`` (du), ``zh-Hans`` and ``zh-Hant`` (你).
A person's language is the one they chose in the app (``users.language``), else the best match
of the ``Accept-Language`` their browser sent at sign-in, else English.

Messages are templates with ``{name}`` placeholders; a message whose text depends on a number
has one template per CLDR plural category, chosen with Babel's plural rules for the language
(``one``/``other`` in English and German, ``other`` only in Chinese).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from babel import Locale

LANGUAGES: Final = ("en", "de", "zh-Hans", "zh-Hant")
DEFAULT: Final = "en"

_LOCALES = {lang: Locale.parse(lang.replace("-", "_")) for lang in LANGUAGES}

# key -> language -> template, or plural category -> template.
Template = str | dict[str, str]
CATALOG: Final[dict[str, dict[str, Template]]] = {
    "sms.code": {
        "en": "Your Mi Talk code is {code}. It expires in {minutes} minutes. Never share it.",
        "de": "Dein Mi-Talk-Code ist {code}. Er läuft in {minutes} Minuten ab. Gib ihn nie weiter.",
        "zh-Hans": "你的 Mi Talk 验证码是 {code}，{minutes} 分钟内有效。请勿告诉任何人。",
        "zh-Hant": "你的 Mi Talk 驗證碼是 {code}，{minutes} 分鐘內有效。請勿告訴任何人。",
    },
    "notice.connection_request": {
        "en": "{name} wants to connect with you.",
        "de": "{name} möchte sich mit dir vernetzen.",
        "zh-Hans": "{name} 想和你建立联系。",
        "zh-Hant": "{name} 想和你建立聯繫。",
    },
    "notice.connection_accepted": {
        "en": "{name} accepted your request: you are connected now.",
        "de": "{name} hat deine Anfrage angenommen: Ihr seid jetzt vernetzt.",
        "zh-Hans": "{name} 接受了你的请求：你们已建立联系。",
        "zh-Hant": "{name} 接受了你的請求：你們已建立聯繫。",
    },
    "notice.card_offered": {
        "en": "{name} offered you their card.",
        "de": "{name} hat dir eine Visitenkarte angeboten.",
        "zh-Hans": "{name} 向你递了名片。",
        "zh-Hant": "{name} 向你遞了名片。",
    },
    "notice.card_accepted": {
        "en": "{name} accepted your card: you are connected now.",
        "de": "{name} hat deine Visitenkarte angenommen: Ihr seid jetzt vernetzt.",
        "zh-Hans": "{name} 接受了你的名片：你们已建立联系。",
        "zh-Hant": "{name} 接受了你的名片：你們已建立聯繫。",
    },
    "notice.brought_on_stage": {
        "en": "You are on stage in {room}.",
        "de": "Du bist in „{room}“ auf der Bühne.",
        "zh-Hans": "你已在“{room}”上台。",
        "zh-Hant": "你已在「{room}」上台。",
    },
    "notice.people_waiting": {
        "en": {
            "one": "{count} of your contacts is waiting to get in.",
            "other": "{count} of your contacts are waiting to get in.",
        },
        "de": {
            "one": "{count} deiner Kontakte wartet auf Einlass.",
            "other": "{count} deiner Kontakte warten auf Einlass.",
        },
        "zh-Hans": {"other": "你通讯录中有 {count} 人在等待加入。"},
        "zh-Hant": {"other": "你通訊錄中有 {count} 人在等待加入。"},
    },
    "notice.room_started": {
        "en": "{name} started a room: {room}",
        "de": "{name} hat einen Raum gestartet: {room}",
        "zh-Hans": "{name} 开了一个房间：{room}",
        "zh-Hant": "{name} 開了一個房間：{room}",
    },
    "notice.room_starting": {
        "en": "{room} is starting now",
        "de": "„{room}“ beginnt jetzt",
        "zh-Hans": "“{room}”现在开始",
        "zh-Hant": "「{room}」現在開始",
    },
    "notice.room_reminder": {
        "en": {"one": "{room} starts in {count} minute", "other": "{room} starts in {count} min"},
        "de": {
            "one": "„{room}“ beginnt in {count} Minute",
            "other": "„{room}“ beginnt in {count} Min.",
        },
        "zh-Hans": {"other": "“{room}”将在 {count} 分钟后开始"},
        "zh-Hant": {"other": "「{room}」將在 {count} 分鐘後開始"},
    },
    "notice.room_starts_now": {
        "en": "{room} starts now",
        "de": "„{room}“ beginnt jetzt",
        "zh-Hans": "“{room}”现在开始",
        "zh-Hant": "「{room}」現在開始",
    },
    "notice.pass_granted": {
        "en": "You're in! Your Mi Talk pass is ready: open Mi Talk and join a room.",
        "de": "Du bist drin! Dein Mi-Talk-Pass ist bereit: Öffne Mi Talk und komm in einen Raum.",
        "zh-Hans": "你已获准加入！你的 Mi Talk 通行证已就绪：打开 Mi Talk，进入一个房间吧。",
        "zh-Hant": "你已獲准加入！你的 Mi Talk 通行證已就緒：打開 Mi Talk，進入一個房間吧。",
    },
    "notice.invited_as_member": {
        "en": "Someone who has your number invited you to Mi Talk: you are here already. "
        "Say hello?",
        "de": "Jemand mit deiner Nummer hat dich zu Mi Talk eingeladen: Du bist schon da. "
        "Sag doch Hallo!",
        "zh-Hans": "有位存有你号码的人邀请你加入 Mi Talk：你已经在这里了。去打个招呼吧？",
        "zh-Hant": "有位存有你號碼的人邀請你加入 Mi Talk：你已經在這裡了。去打個招呼吧？",
    },
    "sms.invite": {
        "en": "Someone who has your number invited you to Mi Talk (live audio rooms for "
        "professionals). Open Mi Talk and sign in with this number to get in.",
        "de": "Jemand mit deiner Nummer hat dich zu Mi Talk eingeladen (Live-Audio-Räume für "
        "den Beruf). Öffne Mi Talk und melde dich mit dieser Nummer an, dann bist du dabei.",
        "zh-Hans": "有位存有你号码的人邀请你加入 Mi Talk（面向职场的实时语音房间）。"
        "打开 Mi Talk，用这个号码登录即可加入。",
        "zh-Hant": "有位存有你號碼的人邀請你加入 Mi Talk（為職場打造的即時語音房間）。"
        "打開 Mi Talk，用這個號碼登入即可加入。",
    },
    "sms.invite_link": {
        "en": "Someone who has your number invited you to Mi Talk (live audio rooms for "
        "professionals). Sign in with this number to get in: {url}",
        "de": "Jemand mit deiner Nummer hat dich zu Mi Talk eingeladen (Live-Audio-Räume für "
        "den Beruf). Melde dich mit dieser Nummer an, dann bist du dabei: {url}",
        "zh-Hans": "有位存有你号码的人邀请你加入 Mi Talk（面向职场的实时语音房间）。"
        "用这个号码登录即可加入：{url}",
        "zh-Hant": "有位存有你號碼的人邀請你加入 Mi Talk（為職場打造的即時語音房間）。"
        "用這個號碼登入即可加入：{url}",
    },
    "notice.pinged": {
        "en": "{name} asks you into {room}",
        "de": "{name} holt dich in „{room}“",
        "zh-Hans": "{name} 邀你进入“{room}”",
        "zh-Hant": "{name} 邀你進入「{room}」",
    },
    "someone_you_follow": {
        "en": "Someone you follow",
        "de": "Jemand, dem du folgst,",
        "zh-Hans": "你关注的人",
        "zh-Hant": "你追蹤的人",
    },
    "someone": {"en": "Someone", "de": "Jemand", "zh-Hans": "有人", "zh-Hant": "有人"},
    # A room's share link, as link previews show it (rooms/share.py).
    "share.live": {
        "en": "A live audio room on Mi Talk. Tap to listen in.",
        "de": "Ein Live-Audio-Raum auf Mi Talk. Tippe, um reinzuhören.",
        "zh-Hans": "Mi Talk 上正在进行的语音房间，点开即可收听。",
        "zh-Hant": "Mi Talk 上正在進行的語音房間，點開即可收聽。",
    },
    "share.scheduled": {
        "en": "An audio room on Mi Talk, starting {date} at {time} UTC.",
        "de": "Ein Audio-Raum auf Mi Talk, ab {date} um {time} Uhr (UTC).",
        "zh-Hans": "Mi Talk 上的语音房间，将于 {date} {time}（UTC）开始。",
        "zh-Hant": "Mi Talk 上的語音房間，將於 {date} {time}（UTC）開始。",
    },
    "share.generic": {
        "en": "Mi Talk: live audio rooms for professionals.",
        "de": "Mi Talk: Live-Audio-Räume für den Beruf.",
        "zh-Hans": "Mi Talk：面向职场的实时语音房间。",
        "zh-Hant": "Mi Talk：為職場打造的即時語音房間。",
    },
}


@dataclass(frozen=True)
class Message:
    """A message to render in the recipient's language: a catalog key and its parameters."""

    key: str
    params: dict[str, str | int] = field(default_factory=dict)

    def render(self, language: str | None) -> str:
        """This message in ``language`` (English when the language or the key has none)."""
        return render(self.key, language, **self.params)


def best_language(accept_language: str | None) -> str | None:
    """Our language best matching an Accept-Language header (None: nothing matches).

    zh-TW, zh-HK, zh-MO and zh-Hant* are Traditional; other Chinese is Simplified.
    """
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag.strip():
            ranked.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            if tag.startswith(("zh-hant", "zh-tw", "zh-hk", "zh-mo")):
                return "zh-Hant"
            return "zh-Hans"
        for lang in ("de", "en"):
            if tag == lang or tag.startswith(f"{lang}-"):
                return lang
    return None


# Countries whose people read one of our languages, nearly all of them: a text to a number
# nobody here knows yet (an invite) is written in its country's language when it is one of these.
REGION_LANGUAGES: Final = {
    "DE": "de", "AT": "de", "LI": "de",
    "CN": "zh-Hans",
    "TW": "zh-Hant", "HK": "zh-Hant", "MO": "zh-Hant",
    "US": "en", "GB": "en", "IE": "en", "AU": "en", "NZ": "en",
}  # fmt: skip


def language_of_region(region: str | None) -> str | None:
    """The language of a country (ISO 3166 code) when it is one of ours; else None."""
    return REGION_LANGUAGES.get((region or "").upper())


def known(language: str | None) -> str:
    """One of our languages (English for anything else)."""
    return language if language in LANGUAGES else DEFAULT


def render(key: str, language: str | None, **params: str | int) -> str:
    """The message ``key`` in ``language`` with its placeholders filled in.

    A plural message takes the category of ``params["count"]`` under the language's rules.
    """
    lang = known(language)
    entry = CATALOG[key]
    template = entry.get(lang, entry[DEFAULT])
    if isinstance(template, dict):
        count = params.get("count", 0)
        category = _LOCALES[lang].plural_form(int(count))
        template = template.get(category, template["other"])
    return template.format(**params)

"""API models of profiles, follows, connections, blocks, contact cards and contacts."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    UrlConstraints,
)

from mitalk.core.text import without_bidi_controls

# Single-line text: no control characters (a name or headline never holds a newline or NUL).
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
# A bio may break lines, but carries no other control characters.
_MULTI_LINE = r"^[^\x00-\x09\x0b-\x1f\x7f]*$"


def _line(max_length: int) -> object:
    return StringConstraints(strip_whitespace=True, max_length=max_length, pattern=_ONE_LINE)


# Read next to other people's names: no bidirectional overrides either (mitalk.core.text).
_NO_BIDI = AfterValidator(without_bidi_controls)
ShortText = Annotated[str, _line(120), _NO_BIDI]

# Limits of the network, with their error messages in errors.py.
CONNECTION_REQUESTS_PER_DAY = 50
MAX_FOLLOWING = 5000
MAX_BLOCKS = 10_000
CARDS_PER_DAY = 100
AVATAR_MAX_BYTES = 5 * 1024 * 1024
# 4096x4096 (a 12-megapixel phone photo fits); a bigger picture is not a portrait, and may be a
# bomb: refused from its header, before any pixel is decoded.
AVATAR_MAX_PIXELS = 4096 * 4096
AVATAR_MAX_SIDE = 8192  # and no side longer than this (a 16-megapixel strip is not a face)
# A multipart envelope adds a few hundred bytes around the file; a body past this is refused
# while it streams in, before it reaches memory or disk.
AVATAR_UPLOAD_MAX_BYTES = AVATAR_MAX_BYTES + 16 * 1024
AVATAR_UPLOADS_PER_HOUR = 20  # per account: each upload is decoded, which costs CPU

MAX_SKILLS = 30
MAX_TOPICS = 10
MAX_SKILL_LENGTH = 40
MAX_LINKS = 5
MAX_LINK_LENGTH = 300
MAX_BIO = 2000
_SKILL_ALLOWED = re.compile(r"^[\w][\w .+#&/'-]*$")


def _normalize_skill(value: str) -> str:
    """A skill tag: spaces collapsed, written as its owner wrote it (``Machine  Learning`` is
    ``Machine Learning``: people write "SQL", "iOS", "C++" and expect to read them so)."""
    tag = " ".join(value.split())
    if not tag or len(tag) > MAX_SKILL_LENGTH or not _SKILL_ALLOWED.match(tag):
        raise ValueError(
            f"a skill is 1-{MAX_SKILL_LENGTH} letters, digits, spaces or . + # & / ' - "
            "(starting with a letter or digit)"
        )
    return tag


def _plain_link(value: AnyUrl) -> AnyUrl:
    """Links are plain web addresses: no user names or passwords inside them."""
    if value.username or value.password:
        raise ValueError("a link may not carry a user name or password")
    return value


Skill = Annotated[str, StringConstraints(max_length=100), AfterValidator(_normalize_skill)]
Link = Annotated[
    AnyUrl,
    UrlConstraints(
        max_length=MAX_LINK_LENGTH, allowed_schemes=["http", "https"], host_required=True
    ),
    AfterValidator(_plain_link),
]


class OpenTo(StrEnum):
    """What a person is open to."""

    hiring = "hiring"
    job_offers = "job_offers"
    investing = "investing"
    partnerships = "partnerships"
    mentoring = "mentoring"
    clients = "clients"


# The fixed list of industries a profile picks from (id -> label); clients read it from
# GET /api/v1/network/vocabulary. Ids are stable; labels may be reworded.
INDUSTRIES: dict[str, str] = {
    "accounting": "Accounting",
    "advertising_marketing": "Advertising & marketing",
    "aerospace_defense": "Aerospace & defense",
    "agriculture": "Agriculture",
    "architecture_construction": "Architecture & construction",
    "arts_entertainment": "Arts & entertainment",
    "automotive": "Automotive",
    "banking_finance": "Banking & finance",
    "biotech_pharma": "Biotech & pharma",
    "consulting": "Consulting",
    "consumer_goods": "Consumer goods",
    "education": "Education",
    "energy_utilities": "Energy & utilities",
    "government_public": "Government & public sector",
    "healthcare": "Healthcare",
    "hospitality_travel": "Hospitality & travel",
    "hr_recruiting": "HR & recruiting",
    "insurance": "Insurance",
    "investing_vc": "Investing & venture capital",
    "legal": "Legal",
    "logistics_transport": "Logistics & transport",
    "manufacturing": "Manufacturing",
    "media_publishing": "Media & publishing",
    "nonprofit": "Nonprofit",
    "real_estate": "Real estate",
    "research_science": "Research & science",
    "retail_ecommerce": "Retail & e-commerce",
    "software_internet": "Software & internet",
    "telecommunications": "Telecommunications",
    "other": "Other",
}


def _known_industry(value: str) -> str:
    if value and value not in INDUSTRIES:
        raise ValueError(
            "unknown industry: pick an id from GET /api/v1/network/vocabulary (or '' for none)"
        )
    return value


Industry = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64), AfterValidator(_known_industry)
]


class ProfileOut(BaseModel):
    """A profile as shown to others and to its owner: never a phone number."""

    model_config = ConfigDict(from_attributes=True)

    name: str = ""
    headline: str = ""
    company: str = ""
    role: str = ""
    industry: str = ""
    location: str = ""
    skills: list[str] = []
    bio: str = ""
    links: list[str] = []
    open_to: list[str] = []
    topics: list[str] = Field(default=[], description="Topics of interest, as written.")
    avatar_url: str | None = Field(
        default=None, description="The avatar (256x256 WebP); the URL changes when the image does."
    )


class ProfileUpdate(BaseModel):
    """Fields to change; the ones left out stay as they are.

    ``industry`` is an id from the vocabulary ('' clears it); skills are normalized tags
    (at most 30, 40 characters each); links are http(s) addresses (at most 5, 300 characters).
    """

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, _line(80), _NO_BIDI] | None = None
    headline: Annotated[str, _line(160), _NO_BIDI] | None = None
    company: ShortText | None = None
    role: ShortText | None = None
    industry: Industry | None = None
    location: ShortText | None = None
    skills: Annotated[list[Skill], Field(max_length=MAX_SKILLS)] | None = None
    bio: Annotated[str, StringConstraints(max_length=MAX_BIO, pattern=_MULTI_LINE)] | None = None
    links: Annotated[list[Link], Field(max_length=MAX_LINKS)] | None = None
    open_to: Annotated[list[OpenTo], Field(max_length=6)] | None = None
    topics: Annotated[list[Skill], Field(max_length=MAX_TOPICS)] | None = None


class VocabularyItem(BaseModel):
    """One choice of a picker: a stable id and a label to show."""

    id: str
    label: str


class VocabularyOut(BaseModel):
    """The fixed lists a profile picks from, and the limits of its free fields."""

    industries: list[VocabularyItem]
    open_to: list[VocabularyItem]
    max_skills: int = MAX_SKILLS
    max_skill_length: int = MAX_SKILL_LENGTH
    max_links: int = MAX_LINKS
    max_link_length: int = MAX_LINK_LENGTH
    max_bio_length: int = MAX_BIO
    max_topics: int = MAX_TOPICS


ConnectionState = Literal["none", "pending_outgoing", "pending_incoming", "connected"]


class PersonOut(BaseModel):
    """Another person's public face (never a phone number)."""

    id: str
    profile: ProfileOut


class PublicUser(PersonOut):
    """Another member as you see them, with where you stand with them.

    A blocked pair never sees each other here (404 both ways), so ``blocked`` is false on this
    endpoint; GET /api/v1/me/blocks lists the people you blocked.
    """

    following: bool = False
    followed_by: bool = False
    connection: ConnectionState = "none"
    connection_id: str | None = None
    blocked: bool = False
    followers_count: int = Field(default=0, description="Active members who follow them.")
    following_count: int = Field(default=0, description="Active members they follow.")


class PeopleOut(BaseModel):
    """A list of people."""

    people: list[PersonOut]


class PeoplePage(BaseModel):
    """A page of people, and where the next page starts (None: this was the last)."""

    people: list[PersonOut]
    next_offset: int | None


class UserRef(BaseModel):
    """The person a request is about."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)


class ConnectionOut(BaseModel):
    """A connection or a pending request, with the other person's public face."""

    id: str
    status: Literal["pending", "accepted"]
    direction: Literal["outgoing", "incoming"] = Field(
        description="Who asked: you (outgoing) or they (incoming)."
    )
    person: PersonOut
    created_at: dt.datetime
    responded_at: dt.datetime | None


class ConnectionListOut(BaseModel):
    """Your connections (your contacts) and your pending requests both ways, newest first."""

    connections: list[ConnectionOut]
    incoming: list[ConnectionOut]
    outgoing: list[ConnectionOut]


class CardOffer(BaseModel):
    """Offer your card to someone you were in a room with."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)
    room_id: str = Field(min_length=1, max_length=64)


class CardOut(BaseModel):
    """A contact card offered after a room."""

    id: str
    room_id: str
    room_title: str = ""
    status: Literal["pending", "accepted", "declined"]
    direction: Literal["outgoing", "incoming"]
    person: PersonOut
    created_at: dt.datetime
    responded_at: dt.datetime | None


class CardListOut(BaseModel):
    """Cards offered to you that wait for an answer, and cards you offered (last 30 days)."""

    received: list[CardOut]
    sent: list[CardOut]


class MetRoom(BaseModel):
    """A room where you met someone."""

    id: str
    title: str


class MetPersonOut(BaseModel):
    """Someone you were in a room with (once, however many rooms), until when you were
    together, and any card between you."""

    person: PersonOut
    room_id: str = Field(description="The room you were last together in (a card offers there).")
    rooms: list[MetRoom] = Field(description="Every room you were together in, latest first.")
    met_at: dt.datetime = Field(description="The last moment you were both in the room.")
    listed_until: dt.datetime = Field(description="After this, they leave your 'people you met'.")
    connection: ConnectionState
    card_sent: bool
    card_received: bool


class MetListOut(BaseModel):
    """People you met in rooms during the last 7 days, most recent first."""

    people: list[MetPersonOut]


Sha256Hex = Annotated[
    str, StringConstraints(min_length=64, max_length=64, pattern=r"^[0-9a-fA-F]{64}$")
]
MAX_CONTACTS = 1000
# The request body of a full contacts upload: 1,000 quoted hex digests are about 67 KB (the
# limit leaves room for whitespace; the list's length is checked after reading).
CONTACTS_BODY_MAX_BYTES = 256 * 1024


class ContactsUpload(BaseModel):
    """Your phone contacts as SHA-256 hex digests of E.164 numbers (``+4915123456789``).

    Replaces any earlier upload; at most 1,000 numbers, 5 uploads a day and 3,000 numbers new to
    your list in 30 days (``MITALK_CONTACTS_*``). The server keeps only a keyed hash of each.
    """

    model_config = ConfigDict(extra="forbid")

    hashes: Annotated[list[Sha256Hex], Field(max_length=MAX_CONTACTS)]


class ContactsStoredOut(BaseModel):
    """How many distinct contacts are stored for you."""

    count: int


class Findable(BaseModel):
    """Whether members who have your number may find you on the waiting list to let you in.

    Off until you turn it on: only then does the server keep a keyed hash of your number.
    """

    model_config = ConfigDict(extra="forbid")

    findable: bool


class WaitingContactOut(BaseModel):
    """A waitlister you may let in, and why you may: a number in your contacts, or one your
    connections invited. Never the number itself."""

    person: PersonOut
    via: Literal["contacts", "connection_invite"]


class WaitingContactsOut(BaseModel):
    """Waitlisters you may let in, longest waiting first."""

    people: list[WaitingContactOut]
    invites_left: int
    contacts_stored: int = Field(
        0,
        description="How many contacts you uploaded (0: an empty list means none were checked).",
    )


class LetInOut(BaseModel):
    """A waitlister you let in: they are a member now, and you spent one invite."""

    user_id: str
    status: Literal["active"]
    invites_left: int


class CardSharing(BaseModel):
    """What your contact card carries besides your public profile (name, headline, company,
    role): an email address, your profile's links, and your phone number only if you say so."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                            pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")] = ""
    share_links: bool = False
    share_phone: bool = Field(default=False, description="Put your phone number on the card.")


class CardContact(BaseModel):
    """The details on a card: the owner's public profile and what they chose to share."""

    name: str
    headline: str
    company: str
    role: str
    email: str | None
    links: list[str]
    phone: str | None = Field(description="Only when the owner chose to share it.")


class CardDetailOut(CardOut):
    """One card as its owner or its recipient sees it, with the details it carries."""

    contact: CardContact

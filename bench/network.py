"""Read paths of the professional network at size: people and room search, the ranked hallway.

    .venv/bin/python bench/network.py                                   # SQLite file (temporary)
    .venv/bin/python bench/network.py --reset \
        --url postgresql+asyncpg://mitalk:mitalk@127.0.0.1:5432/mitalk_bench_net

Builds N active members with profiles, a power-law follow graph, connections, live rooms with
stages and audiences, scheduled rooms with RSVPs and a history of ended rooms, directly in SQL
(after the migrations, so the full-text indexes and their triggers exist), checks that the
full-text indexes hold every profile, and then times

1. the service functions the endpoints call, in this process (one unit of work per call);
2. the same people and room searches done the naive way (``LIKE '%term%'`` over every column);
3. the endpoints over real HTTP, against a real ``mitalk serve`` (``MITALK_MEDIA=off``) on a free
   loopback port, with ``httpx``, one request at a time.

Prints a table, and as the last line of stdout one JSON line (progress goes to stderr).
Every loop is bounded in count and time, and so is the whole run (``--max-seconds``); the server
is stopped on every way out (normal end, error, Ctrl-C, SIGTERM/SIGHUP), and gets SIGTERM from
the kernel if this process dies (``setpriv --pdeathsig``). The temporary SQLite folder is deleted;
a PostgreSQL database is left filled (``--reset`` empties it at the start of the next run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import Text, and_, exists, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

import mitalk.models  # noqa: F401 - registers every table
from mitalk.accounts.models import User
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.core.migrate import upgrade
from mitalk.network import service as network_service
from mitalk.network.models import Profile
from mitalk.network.schemas import INDUSTRIES, OpenTo
from mitalk.rooms import hallway as ranking
from mitalk.rooms import service as rooms_service
from mitalk.rooms.models import Room
from mitalk.rooms.visibility import blocked_either_way, room_visible_to
from mitalk.search import repository as search_repo
from mitalk.search import service as search_service


def progress(message: str) -> None:
    """A progress line on stderr (stdout is the table and the JSON line)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The data set: vocabularies made from a seeded generator, so every run builds the same network.

SYLLABLES = [
    "an", "ar", "ba", "be", "da", "de", "el", "en", "fa", "fi", "ga", "ha", "ia", "il", "ja", "jo",
    "ka", "ke", "la", "le", "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "ni", "no", "ol", "or",
    "pa", "pe", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "ta", "te", "ti", "to", "va", "vi",
    "ya", "za", "ze", "us", "on", "is", "ur", "em", "al", "ix", "ek", "ov",
]
SKILL_WORDS = [
    "python",
    "go",
    "rust",
    "java",
    "kotlin",
    "swift",
    "typescript",
    "javascript",
    "react",
    "sql",
    "postgresql",
    "kubernetes",
    "docker",
    "terraform",
    "aws",
    "azure",
    "gcp",
    "linux",
    "security",
    "machine learning",
    "deep learning",
    "data science",
    "data engineering",
    "analytics",
    "statistics",
    "product management",
    "product design",
    "ux research",
    "ui design",
    "branding",
    "copywriting",
    "seo",
    "content marketing",
    "growth",
    "sales",
    "negotiation",
    "fundraising",
    "venture capital",
    "private equity",
    "accounting",
    "tax",
    "audit",
    "corporate finance",
    "risk management",
    "compliance",
    "contract law",
    "ip law",
    "recruiting",
    "people management",
    "coaching",
    "public speaking",
    "leadership",
    "operations",
    "supply chain",
    "logistics",
    "procurement",
    "manufacturing",
    "lean",
    "six sigma",
    "quality assurance",
    "testing",
    "devops",
    "sre",
    "networking",
    "embedded",
    "iot",
    "robotics",
    "computer vision",
    "nlp",
    "llm",
    "blockchain",
    "fintech",
    "payments",
    "ecommerce",
    "retail",
    "real estate",
    "construction",
    "architecture",
    "energy",
    "solar",
    "batteries",
    "climate",
    "biotech",
    "genomics",
    "clinical trials",
    "medtech",
    "healthcare",
    "nursing",
    "pharma",
    "education",
    "edtech",
    "journalism",
    "video",
    "podcasting",
    "photography",
    "music",
    "gaming",
    "esports",
    "hospitality",
    "travel",
    "customer success",
]
SKILL_QUALIFIERS = ["applied", "advanced", "strategic", "enterprise", "mobile", "cloud"]
COMPANY_WORDS = [
    "analytics",
    "labs",
    "systems",
    "capital",
    "partners",
    "health",
    "robotics",
    "energy",
    "logistics",
    "media",
    "studio",
    "networks",
    "bank",
    "insurance",
    "foods",
    "motors",
    "software",
    "consulting",
    "ventures",
    "solutions",
    "group",
    "works",
    "data",
    "cloud",
    "bio",
    "digital",
    "retail",
    "legal",
]
ROLES = [
    "engineer",
    "senior engineer",
    "staff engineer",
    "engineering manager",
    "cto",
    "ceo",
    "founder",
    "product manager",
    "designer",
    "data scientist",
    "analyst",
    "consultant",
    "partner",
    "associate",
    "recruiter",
    "sales lead",
    "account executive",
    "marketing lead",
    "researcher",
    "professor",
    "lawyer",
    "accountant",
    "nurse",
    "doctor",
    "architect",
    "operations lead",
    "investor",
    "student",
]
CITIES = [
    "Berlin",
    "Munich",
    "Hamburg",
    "Vienna",
    "Zurich",
    "Paris",
    "Lyon",
    "Madrid",
    "Lisbon",
    "London",
    "Dublin",
    "Amsterdam",
    "Warsaw",
    "Prague",
    "Milan",
    "Stockholm",
    "Oslo",
    "Helsinki",
    "Tallinn",
    "Athens",
]
TITLE_SUFFIXES = [
    "office hours",
    "ask me anything",
    "deep dive",
    "meetup",
    "roundtable",
    "q&a",
    "hot takes",
    "breakfast club",
    "career chat",
    "show and tell",
    "study group",
    "news of the week",
]


def zipf_weights(
    n: int, rng: np.random.Generator, exponent: float = 1.0, offset: float = 2.0
) -> np.ndarray:
    """Popularity weights 1/(rank+offset)^exponent, the ranks shuffled over the items."""
    ranks = rng.permutation(n)
    w = 1.0 / (ranks + offset) ** exponent
    return w / w.sum()


def names_pool(rng: random.Random, count: int, syllables: tuple[int, int]) -> list[str]:
    """``count`` distinct pronounceable capitalised words."""
    out: dict[str, None] = {}
    while len(out) < count:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(*syllables)))
        out[word.capitalize()] = None
    return list(out)


@dataclass
class Vocabulary:
    """The pools the generated profiles and rooms draw from."""

    first: list[str]
    last: list[str]
    companies: list[str]
    skills: list[str]

    @classmethod
    def make(cls, seed: int) -> Vocabulary:
        """The same pools for the same seed."""
        rng = random.Random(seed)
        first = names_pool(rng, 400, (2, 3))
        last = [n for n in names_pool(rng, 1400, (2, 4)) if n not in first][:1000]
        stems = names_pool(rng, 800, (2, 3))
        companies = list(
            dict.fromkeys(f"{s} {rng.choice(COMPANY_WORDS).capitalize()}" for s in stems)
        )
        skills = list(SKILL_WORDS) + [
            f"{q} {s}" for q in SKILL_QUALIFIERS for s in SKILL_WORDS[:40]
        ]
        return cls(first=first, last=last, companies=companies, skills=skills)


def uid(n: int) -> str:
    """The id of member ``n`` (24 characters, sorted like n)."""
    return f"nb{n:022d}"


def rid(n: int) -> str:
    """The id of room ``n``."""
    return f"nr{n:022d}"


@dataclass
class Built:
    """What the load step made, for the measurements."""

    members: int
    follows: int
    connections: int
    live_rooms: int
    scheduled_rooms: int
    ended_rooms: int
    participants: int
    viewers: list[str]
    viewer_follows: list[int]
    viewer_connections: list[int]
    tokens: list[str]
    followees: dict[str, list[str]]
    seconds: float
    queries: dict[str, str] = field(default_factory=dict)


async def bulk_insert(
    conn: AsyncConnection,
    is_sqlite: bool,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert rows fast: COPY on PostgreSQL, executemany on SQLite (as ``access.seed`` does)."""
    if not rows:
        return
    if is_sqlite:
        marks = ", ".join("?" for _ in columns)
        await conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows)
        )
        return
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.copy_records_to_table(table, records=rows, columns=list(columns))


async def insert_chunked(
    conn: AsyncConnection,
    is_sqlite: bool,
    table: str,
    columns: Sequence[str],
    rows: Iterator[tuple[Any, ...]],
    chunk: int = 50_000,
) -> int:
    """Insert an iterator of rows in chunks; returns how many."""
    total, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            await bulk_insert(conn, is_sqlite, table, columns, batch)
            total += len(batch)
            batch = []
    await bulk_insert(conn, is_sqlite, table, columns, batch)
    return total + len(batch)


async def build(
    db: Database, n: int, seed: int, viewers_wanted: int, history: int | None = None
) -> Built:
    """Fill an empty (migrated) database with the network; see the module docstring.

    ``history``: people in each ended room (default 2-20), to see whether the read paths slow
    down as finished rooms pile up in ``room_participants``.
    """
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    vocab = Vocabulary.make(seed)
    now = utcnow().replace(tzinfo=None, microsecond=0)  # stored as naive UTC, like UTCDateTime
    sqlite = db.is_sqlite
    popularity = zipf_weights(n, rng, exponent=0.8, offset=10.0)
    first_w = zipf_weights(len(vocab.first), rng, 1.0)
    last_w = zipf_weights(len(vocab.last), rng, 0.7)
    company_w = zipf_weights(len(vocab.companies), rng, 1.0)
    skill_w = zipf_weights(len(vocab.skills), rng, 1.0, offset=3.0)
    industry_ids = list(INDUSTRIES)
    industry_w = zipf_weights(len(industry_ids), rng, 0.8)
    open_to = [o.value for o in OpenTo]

    firsts = rng.choice(len(vocab.first), size=n, p=first_w)
    lasts = rng.choice(len(vocab.last), size=n, p=last_w)
    companies = rng.choice(len(vocab.companies), size=n, p=company_w)
    industries = rng.choice(len(industry_ids), size=n, p=industry_w)
    skill_counts = rng.integers(3, 9, size=n)
    skill_draws = rng.choice(len(vocab.skills), size=(n, 12), p=skill_w)
    roles = rng.integers(0, len(ROLES), size=n)
    cities = rng.integers(0, len(CITIES), size=n)
    open_flags = rng.random((n, len(open_to))) < 0.15

    def users() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            yield (uid(i), f"+4916{i:09d}", "active", 0, "open", now, now)

    def profiles() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            skills = list(dict.fromkeys(vocab.skills[s] for s in skill_draws[i]))[
                : int(skill_counts[i])
            ]
            company, role = vocab.companies[companies[i]], ROLES[roles[i]]
            yield (
                uid(i),
                f"{vocab.first[firsts[i]]} {vocab.last[lasts[i]]}",
                f"{role.capitalize()} at {company}",
                company,
                role,
                industry_ids[industries[i]],
                CITIES[cities[i]],
                json.dumps(skills),
                "",
                "[]",
                json.dumps([o for o, on in zip(open_to, open_flags[i]) if on]),
                now,
            )

    # Follows: per person a heavy-tailed count (median ~40, mean ~50), targets by popularity.
    follow_counts = np.clip(rng.lognormal(mean=math.log(40), sigma=0.7, size=n), 3, 2000).astype(
        np.int64
    )
    followers_of = np.repeat(np.arange(n, dtype=np.int64), follow_counts)
    targets = rng.choice(n, size=len(followers_of), p=popularity)
    keys = np.unique(followers_of * n + targets)
    keys = keys[keys // n != keys % n]
    follow_pairs = (keys // n, keys % n)

    # Connections: ~20 per person (10 asked each); half among colleagues (neighbouring ids share
    # a company block in real networks; here, nearby ids), half by popularity.
    asks = n * 10
    a = rng.integers(0, n, size=asks)
    local = (a + rng.integers(-300, 301, size=asks)) % n
    popular = rng.choice(n, size=asks, p=popularity)
    b = np.where(rng.random(asks) < 0.5, local, popular)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pair_keys = np.unique(lo * n + hi)
    pair_keys = pair_keys[pair_keys // n != pair_keys % n]
    conn_lo, conn_hi = pair_keys // n, pair_keys % n
    flip = rng.random(len(pair_keys)) < 0.5

    ids = [uid(i) for i in range(n)]
    progress(f"generated: {n:,} members, {len(keys):,} follows, {len(pair_keys):,} connections")
    async with db.engine.begin() as conn:
        await insert_chunked(
            conn,
            sqlite,
            "users",
            ["id", "phone", "status", "invites_left", "admitted_via", "created_at", "activated_at"],
            users(),
        )
        await insert_chunked(
            conn,
            sqlite,
            "profiles",
            [
                "user_id",
                "name",
                "headline",
                "company",
                "role",
                "industry",
                "location",
                "skills",
                "bio",
                "links",
                "open_to",
                "updated_at",
            ],
            profiles(),
        )
        progress("users and profiles inserted")
        await insert_chunked(
            conn,
            sqlite,
            "follows",
            ["follower_id", "followee_id", "created_at"],
            (
                (ids[f], ids[t], now)
                for f, t in zip(follow_pairs[0].tolist(), follow_pairs[1].tolist())
            ),
            chunk=100_000,
        )
        progress("follows inserted")
        await insert_chunked(
            conn,
            sqlite,
            "connections",
            [
                "id",
                "requester_id",
                "addressee_id",
                "pair_key",
                "status",
                "created_at",
                "responded_at",
            ],
            (
                (
                    f"nc{k:022d}",
                    uid(int(y if f else x)),
                    uid(int(x if f else y)),
                    f"{uid(int(x))}:{uid(int(y))}",
                    "accepted",
                    now,
                    now,
                )
                for k, (x, y, f) in enumerate(zip(conn_lo, conn_hi, flip))
            ),
            chunk=100_000,
        )
        progress("connections inserted")

        # Rooms. Every person is in at most one live room; stages by popularity (well-known people
        # speak), audiences by chance, skewed small (most rooms are small, a few are big).
        live, scheduled, ended = min(1000, n // 20), min(200, n // 100), min(5000, n // 10)
        stage_sizes = rng.integers(1, 9, size=live)
        listener_counts = (200 * rng.random(live) ** 2).astype(np.int64)
        on_stage = rng.choice(n, size=int(stage_sizes.sum()), replace=False, p=popularity)
        rest = np.setdiff1d(np.arange(n), on_stage)
        audience = rng.choice(rest, size=min(int(listener_counts.sum()), len(rest)), replace=False)
        rooms, participants = [], []
        topic_draws = rng.choice(len(vocab.skills), size=(live + scheduled + ended, 4), p=skill_w)
        s_at = a_at = 0
        for r in range(live + scheduled + ended):
            topics = list(
                dict.fromkeys(vocab.skills[t] for t in topic_draws[r][: prng.randint(1, 4)])
            )
            title = f"{topics[0].title()} {prng.choice(TITLE_SUFFIXES)}"
            visibility = prng.choices(["open", "social", "closed"], weights=[80, 15, 5])[0]
            if r < live:
                stage = [int(x) for x in on_stage[s_at : s_at + stage_sizes[r]]]
                s_at += int(stage_sizes[r])
                listeners = [int(x) for x in audience[a_at : a_at + listener_counts[r]]]
                a_at += int(listener_counts[r])
                host, started_at = stage[0], now - dt.timedelta(minutes=prng.uniform(1, 180))
                rooms.append(
                    (
                        rid(r),
                        title,
                        json.dumps(topics),
                        visibility,
                        uid(host),
                        "live",
                        0,
                        started_at,
                        None,
                        None,
                        started_at,
                    )
                )
                for k, p in enumerate(stage):
                    role = "moderator" if k == 0 or (k == 1 and prng.random() < 0.3) else "speaker"
                    participants.append(
                        (rid(r), uid(p), role, "in_room", False, k > 0, started_at, k)
                    )
                for p in listeners:
                    participants.append(
                        (
                            rid(r),
                            uid(p),
                            "listener",
                            "in_room",
                            prng.random() < 0.02,
                            True,
                            started_at + dt.timedelta(minutes=prng.uniform(0, 1)),
                            None,
                        )
                    )
            elif r < live + scheduled:
                host = int(rng.choice(n, p=popularity))
                starts_at = now + dt.timedelta(minutes=prng.uniform(30, 10 * 24 * 60))
                rooms.append(
                    (
                        rid(r),
                        title,
                        json.dumps(topics),
                        visibility,
                        uid(host),
                        "scheduled",
                        0,
                        now,
                        None,
                        starts_at,
                        None,
                    )
                )
            else:
                host = int(rng.choice(n, p=popularity))
                at = now - dt.timedelta(days=prng.uniform(0, 60))
                rooms.append(
                    (
                        rid(r),
                        title,
                        json.dumps(topics),
                        visibility,
                        uid(host),
                        "ended",
                        0,
                        at,
                        at + dt.timedelta(hours=1),
                        None,
                        at,
                    )
                )
                for k, p in enumerate(
                    dict.fromkeys(
                        [
                            host,
                            *(
                                int(x)
                                for x in rng.integers(0, n, size=history or prng.randint(2, 20))
                            ),
                        ]
                    )
                ):
                    participants.append(
                        (
                            rid(r),
                            uid(p),
                            "moderator" if k == 0 else "listener",
                            "left",
                            False,
                            True,
                            at,
                            None,
                        )
                    )
        await bulk_insert(
            conn,
            sqlite,
            "rooms",
            [
                "id",
                "title",
                "topics",
                "visibility",
                "host_id",
                "status",
                "seq",
                "created_at",
                "ended_at",
                "starts_at",
                "started_at",
            ],
            rooms,
        )
        await insert_chunked(
            conn,
            sqlite,
            "room_participants",
            [
                "room_id",
                "user_id",
                "role",
                "presence",
                "hand_raised",
                "muted",
                "joined_at",
                "on_stage_seq",
            ],
            iter(participants),
        )
        rsvps = {(rid(r), uid(int(u))) for r in range(live, live + scheduled)
                 for u in rng.choice(n, size=prng.randint(0, 50), p=popularity)}
        await bulk_insert(conn, sqlite, "room_rsvps", ["room_id", "user_id", "created_at"],
                          [(r, u, now) for r, u in sorted(rsvps)])
        blocks = {(int(x), int(y)) for x, y in rng.integers(0, n, size=(1000, 2)) if x != y}
        await bulk_insert(conn, sqlite, "blocks", ["blocker_id", "blocked_id", "created_at"],
                          [(uid(x), uid(y), now) for x, y in sorted(blocks)])
        progress(
            f"rooms inserted: {live} live, {scheduled} scheduled, {ended} ended, "
            f"{len(participants):,} participants"
        )

        # Viewers: people with 40-60 follows and 15-25 connections, not hosting or blocked.
        follows_per = np.bincount(follow_pairs[0], minlength=n)
        conns_per = np.bincount(conn_lo, minlength=n) + np.bincount(conn_hi, minlength=n)
        blocked = {x for pair in blocks for x in pair}
        fitting = [
            int(i)
            for i in np.flatnonzero(
                (follows_per >= 40) & (follows_per <= 60) & (conns_per >= 15) & (conns_per <= 25)
            )
            if int(i) not in blocked
        ]
        chosen = prng.sample(fitting, viewers_wanted)
        viewers = [uid(i) for i in chosen]
        # Each viewer joined two past rooms in the last 30 days (topics of interest, the part of
        # the ranking that reads room_participants by person).
        recent = [r for r in range(live + scheduled, live + scheduled + ended)
                  if rooms[r][7] > now - dt.timedelta(days=29)]
        extra = {(rid(r), v) for v in viewers for r in prng.sample(recent, 2)}
        existing = {(p[0], p[1]) for p in participants}
        await bulk_insert(
            conn,
            sqlite,
            "room_participants",
            [
                "room_id",
                "user_id",
                "role",
                "presence",
                "hand_raised",
                "muted",
                "joined_at",
                "on_stage_seq",
            ],
            [
                (r, v, "listener", "left", False, True, now - dt.timedelta(days=3), None)
                for r, v in sorted(extra - existing)
            ],
        )
        tokens = [f"bench-net-{i}-{os.urandom(8).hex()}" for i in range(len(viewers))]
        await bulk_insert(
            conn,
            sqlite,
            "sessions",
            ["id", "user_id", "token_hash", "created_at", "expires_at"],
            [
                (
                    f"ns{i:022d}",
                    v,
                    hashlib.sha256(t.encode()).hexdigest(),
                    now,
                    now + dt.timedelta(days=1),
                )
                for i, (v, t) in enumerate(zip(viewers, tokens))
            ],
        )
    followees = {
        uid(i): [uid(int(t)) for t in follow_pairs[1][follow_pairs[0] == i][:20]] for i in chosen
    }
    # Bulk loading leaves the planner without statistics, which a network that grew over months
    # would have (autovacuum on PostgreSQL): gather them, as access.seed does.
    async with db.engine.connect() as conn:
        if sqlite:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
        else:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    seconds = time.perf_counter() - started
    progress(f"built in {seconds:.0f} s; {len(fitting)} members with ~50 follows / ~20 connections")
    top_first = vocab.first[int(np.argmax(first_w))]
    # The most frequent one-word skill ("python" rather than "advanced" of "advanced python").
    top_skill = max(
        (v for v in vocab.skills if " " not in v), key=lambda v: skill_w[vocab.skills.index(v)]
    )
    return Built(
        members=n,
        follows=len(keys),
        connections=len(pair_keys),
        live_rooms=live,
        scheduled_rooms=scheduled,
        ended_rooms=ended,
        participants=len(participants),
        viewers=viewers,
        viewer_follows=[int(follows_per[i]) for i in chosen],
        viewer_connections=[int(conns_per[i]) for i in chosen],
        tokens=tokens,
        followees=followees,
        seconds=seconds,
        queries={
            "skill": top_skill,
            "name_prefix": top_first[:3].lower(),
            "company_word": max(
                COMPANY_WORDS,
                key=lambda w: sum(
                    company_w[k]
                    for k, c in enumerate(vocab.companies)
                    if c.lower().endswith(" " + w)
                ),
            ),
            "last_name": vocab.last[int(np.argmax(last_w))],
        },
    )


# --------------------------------------------------------------------------------------------
# Checks that the full-text indexes hold what the tables hold after a bulk insert.


async def check_indexes(db: Database, last_name: str) -> dict[str, Any]:
    """Whether the search indexes cover every profile and room (triggers / generated columns)."""
    async with db.engine.connect() as conn:
        profiles = (await conn.execute(text("SELECT count(*) FROM profiles"))).scalar_one()
        rooms = (await conn.execute(text("SELECT count(*) FROM rooms"))).scalar_one()
        # The same question asked of the table (exact last word of the name) and of the index.
        by_table = (
            await conn.execute(
                text("SELECT count(*) FROM profiles WHERE lower(name) LIKE :pattern"),
                {"pattern": f"% {last_name.lower()}"},
            )
        ).scalar_one()
        if db.is_sqlite:
            indexed = (
                await conn.execute(text("SELECT count(*) FROM search_people_docsize"))
            ).scalar_one()
            indexed_rooms = (
                await conn.execute(text("SELECT count(*) FROM search_rooms_docsize"))
            ).scalar_one()
            by_index = (
                await conn.execute(
                    text("SELECT count(*) FROM search_people WHERE search_people MATCH :q"),
                    {"q": f'{{name}} : "{last_name}"'},
                )
            ).scalar_one()
            # rank = 1: also compare the index with the content table, row by row.
            await conn.execute(
                text("INSERT INTO search_people(search_people, rank) VALUES ('integrity-check', 1)")
            )
            await conn.execute(
                text("INSERT INTO search_rooms(search_rooms, rank) VALUES ('integrity-check', 1)")
            )
            await conn.rollback()
        else:
            indexed = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM profiles "
                        "WHERE search_vector IS NOT NULL AND search_vector <> ''::tsvector"
                    )
                )
            ).scalar_one()
            indexed_rooms = (
                await conn.execute(
                    text("SELECT count(*) FROM rooms WHERE search_vector <> ''::tsvector")
                )
            ).scalar_one()
            by_index = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM profiles "
                        "WHERE search_vector @@ to_tsquery('simple', :q) "
                        "AND split_part(lower(name), ' ', 2) = :w"
                    ),
                    {"q": last_name.lower(), "w": last_name.lower()},
                )
            ).scalar_one()
    result = {
        "profiles": profiles,
        "indexed_profiles": indexed,
        "rooms": rooms,
        "indexed_rooms": indexed_rooms,
        "name_matches_table": by_table,
        "name_matches_index": by_index,
    }
    ok = profiles == indexed and rooms == indexed_rooms and by_table == by_index and by_table > 0
    if not ok:
        raise SystemExit(
            f"the full-text indexes do not match the tables after the bulk insert: {result}"
        )
    progress(f"full-text indexes hold every row: {result}")
    return result


# --------------------------------------------------------------------------------------------
# Timing.


@dataclass
class Timing:
    """Latencies of one case, in milliseconds."""

    samples: list[float]
    cpu: list[float] = field(default_factory=list)  # this process's CPU time per call (all threads)

    def pct(self, q: float) -> float:
        """The q-th percentile (nearest rank)."""
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return self.pct(95)

    @property
    def cpu_p50(self) -> float:
        return statistics.median(self.cpu) if self.cpu else float("nan")


async def timed(
    call: Callable[[int], Awaitable[None]], count: int, budget: float, warmup: int = 2
) -> Timing:
    """Run ``call(i)`` up to ``count`` times within ``budget`` seconds (after a warm-up)."""
    for i in range(warmup):
        await call(i)
    samples: list[float] = []
    cpu: list[float] = []
    deadline = time.monotonic() + budget
    for i in range(count):
        started, cpu_started = time.perf_counter(), time.process_time()
        await call(i)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        if time.monotonic() > deadline:
            break
    return Timing(samples, cpu)


@dataclass(frozen=True)
class PeopleCase:
    """One people search: words and filters."""

    name: str
    q: str | None = None
    skill: str | None = None
    industry: str | None = None
    open_to: str | None = None

    def params(self) -> dict[str, str]:
        """The query string of the endpoint."""
        return {k: v for k, v in (("q", self.q), ("skill", self.skill), ("industry", self.industry),
                                  ("open_to", self.open_to)) if v}


def people_cases(queries: dict[str, str]) -> list[PeopleCase]:
    """Common searches: a frequent skill, a name prefix, a company word, with filters or none."""
    return [
        PeopleCase("skill word", q=queries["skill"]),
        PeopleCase("name prefix", q=queries["name_prefix"]),
        PeopleCase("company word", q=queries["company_word"]),
        PeopleCase("name prefix + open_to", q=queries["name_prefix"], open_to="hiring"),
        PeopleCase(
            "company word + industry", q=queries["company_word"], industry="software_internet"
        ),
        PeopleCase("skill filter only", skill=queries["skill"]),
    ]


PEOPLE_LIKE_COLUMNS = ("name", "headline", "company", "role", "industry", "skills", "open_to")


async def naive_people(
    session: AsyncSession, viewer_id: str, case: PeopleCase, limit: int
) -> list[str]:
    """The same search without the index: ``LIKE '%word%'`` over every column, then the filters.

    Without an index there is no relevance, so the scan orders by name (every match must be
    found and sorted before the first page, as a ranked search must too).
    """
    rows = await session.scalars(
        select(Profile.user_id)
        .where(naive_conditions(session, viewer_id, case))
        .order_by(Profile.name, Profile.user_id)
        .limit(limit)
    )
    return list(rows.all())


async def naive_count(session: AsyncSession, viewer_id: str, case: PeopleCase) -> int:
    """How many people the naive search finds (about what the index finds: substrings too)."""
    return int(
        (
            await session.execute(
                select(func.count()).where(naive_conditions(session, viewer_id, case))
            )
        ).scalar_one()
    )


async def index_hits(session: AsyncSession, case: PeopleCase) -> int:
    """How many profiles the full-text query of a search matches (before the other filters)."""
    terms = search_service.terms_of(case.q)
    scoped = [
        (column, search_service.terms_of(value))
        for column, value in (
            ("skills", case.skill),
            ("industry", case.industry),
            ("open_to", case.open_to),
        )
        if value
    ]
    if session.get_bind().dialect.name == "sqlite":
        sql, query = (
            "SELECT count(*) FROM search_people WHERE search_people MATCH :q",
            search_repo.fts5_query(terms, scoped),
        )
    else:
        sql = "SELECT count(*) FROM profiles WHERE search_vector @@ to_tsquery('simple', :q)"
        query = search_repo.tsquery(terms, scoped)
    return int((await session.execute(text(sql), {"q": query})).scalar_one())


def naive_conditions(session: AsyncSession, viewer_id: str, case: PeopleCase) -> Any:
    """The WHERE clause of the naive people search."""
    is_sqlite = session.get_bind().dialect.name == "sqlite"
    conditions: list[Any] = [
        Profile.user_id != viewer_id,
        ~blocked_either_way(viewer_id, Profile.user_id),
        exists().where(User.id == Profile.user_id, User.status == "active"),
    ]
    columns = [
        getattr(Profile, c)
        if c not in ("skills", "open_to")
        else func.cast(getattr(Profile, c), Text())
        for c in PEOPLE_LIKE_COLUMNS
    ]
    for word in search_service.terms_of(case.q):
        conditions.append(or_(*(func.lower(c).like(f"%{word}%") for c in columns)))
    if case.industry:
        conditions.append(func.lower(Profile.industry) == case.industry.lower())
    for key, value in (("skills", case.skill), ("open_to", case.open_to)):
        if value:
            fn = func.json_each if is_sqlite else func.json_array_elements_text
            items = fn(getattr(Profile, key)).table_valued("value").alias("item")
            conditions.append(
                exists(
                    select(literal(1))
                    .select_from(items)
                    .where(func.lower(items.c.value) == value.lower())
                )
            )
    return and_(*conditions)


async def naive_rooms(session: AsyncSession, viewer_id: str, word: str, limit: int) -> list[str]:
    """Rooms by ``LIKE '%word%'`` on title and topics, newest first, visibility applied."""
    rows = await session.scalars(
        select(Room.id)
        .where(
            or_(
                func.lower(Room.title).like(f"%{word}%"),
                func.lower(func.cast(Room.topics, Text())).like(f"%{word}%"),
            ),
            Room.status.in_(("live", "scheduled")),
            room_visible_to(viewer_id),
        )
        .order_by(Room.created_at.desc(), Room.id)
        .limit(limit)
    )
    return list(rows.all())


class StatementLog:
    """The statements an engine runs while armed (to EXPLAIN what the service really sent)."""

    def __init__(self, db: Database) -> None:
        from sqlalchemy import event

        self.statements: list[tuple[str, Any]] = []
        self.armed = False

        @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
        def _record(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
        ) -> None:
            if self.armed:
                self.statements.append((statement, parameters))

    async def capture(self, call: Callable[[int], Awaitable[None]]) -> list[tuple[str, Any]]:
        """The statements one ``call(0)`` runs."""
        self.statements, self.armed = [], True
        try:
            await call(0)
        finally:
            self.armed = False
        return self.statements


async def explain(db: Database, statement: tuple[str, Any]) -> str:
    """A recorded statement's plan (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN ANALYZE)."""
    sql, parameters = statement
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
    async with db.engine.connect() as conn:
        rows = (await conn.exec_driver_sql(prefix + sql, parameters)).all()
        await conn.rollback()
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


def index_used(plan: str, sqlite: bool, table: str) -> bool:
    """Whether a plan answers from the full-text index of ``table``."""
    if sqlite:
        return (
            f"SCAN {'search_people' if table == 'profiles' else 'search_rooms'} VIRTUAL TABLE INDEX"
            in plan
        )
    return f"ix_{table}_search" in plan


async def measure_service(db: Database, built: Built, count: int, budget: float) -> dict[str, Any]:
    """p50/p95 of the service functions the endpoints call, and the naive searches."""
    out: dict[str, Any] = {"cases": {}, "plans": {}}
    viewers = built.viewers
    log = StatementLog(db)
    cases = people_cases(built.queries)

    async def with_viewer(i: int, work: Callable[[AsyncSession, User], Awaitable[object]]) -> None:
        async with unit_of_work(db) as session:
            user = await session.get(User, viewers[i % len(viewers)])
            assert user is not None
            await work(session, user)

    for case in cases:
        async def fts(i: int, case: PeopleCase = case) -> None:
            await with_viewer(
                i,
                lambda s, u: search_service.people(
                    s, u, case.q, case.skill, case.industry, case.open_to, 20, 0
                ),
            )

        async def scan(i: int, case: PeopleCase = case) -> None:
            await with_viewer(i, lambda s, u: naive_people(s, u.id, case, 21))

        # The search is the last statement of the call (the viewer is read first).
        plan = await explain(db, (await log.capture(fts))[-1])
        out["plans"][f"people: {case.name}"] = plan
        out["cases"][f"people: {case.name}"] = {
            "fts": await timed(fts, count, budget),
            "scan": await timed(scan, max(5, count // 4), budget),
            "index_used": index_used(plan, db.is_sqlite, "profiles"),
        }
        async with unit_of_work(db) as session:
            out["cases"][f"people: {case.name}"]["matches"] = await naive_count(
                session, viewers[0], case
            )
            out["cases"][f"people: {case.name}"]["hits"] = await index_hits(session, case)
        progress(
            f"service people '{case.name}' {case.params()}: "
            f"{summary(out['cases'][f'people: {case.name}'])}"
        )

    word = built.queries["skill"]

    async def rooms_fts(i: int) -> None:
        await with_viewer(i, lambda s, u: search_service.rooms(s, u, word, 20, 0))

    async def rooms_scan(i: int) -> None:
        await with_viewer(i, lambda s, u: naive_rooms(s, u.id, word, 21))

    plan = await explain(db, (await log.capture(rooms_fts))[-1])
    out["plans"]["rooms search"] = plan
    out["cases"]["rooms search"] = {
        "fts": await timed(rooms_fts, count, budget),
        "scan": await timed(rooms_scan, count, budget),
        "index_used": index_used(plan, db.is_sqlite, "rooms"),
    }
    progress(f"service rooms search: {summary(out['cases']['rooms search'])}")

    now = utcnow()

    async def hallway(i: int) -> None:
        await with_viewer(i, lambda s, u: ranking.hallway(s, u, now))

    async def rooms_list(i: int) -> None:
        await with_viewer(i, lambda s, u: rooms_service.hallway(s, u, now))

    async def user_page(i: int) -> None:
        viewer = viewers[i % len(viewers)]
        other = built.followees[viewer][i % len(built.followees[viewer])]
        await with_viewer(i, lambda s, u: network_service.public_user(s, u, other))

    for name, call in (
        ("GET /hallway", hallway),
        ("GET /rooms", rooms_list),
        ("GET /users/{id}", user_page),
    ):
        out["cases"][name] = {"fts": await timed(call, count, budget)}
        progress(f"service {name}: {summary(out['cases'][name])}")
    # The heaviest statement of the hallway (the live candidates), with its plan.
    live = next(
        st
        for st in await log.capture(hallway)
        if "room_participants" in st[0] and "GROUP BY" in st[0]
    )
    out["plans"]["hallway live candidates"] = await explain(db, live)
    return out


def summary(entry: dict[str, Any]) -> str:
    """A progress line for one case."""
    parts = [
        (
            f"p50 {entry['fts'].p50:.1f} ms, p95 {entry['fts'].p95:.1f} ms "
            f"(n={len(entry['fts'].samples)})"
        )
    ]
    if "scan" in entry:
        parts.append(
            f"scan p50 {entry['scan'].p50:.1f} ms (x{entry['scan'].p50 / entry['fts'].p50:.1f})"
        )
    if "matches" in entry:
        parts.append(f"{entry['hits']} index hits, {entry['matches']} scan matches")
    if "index_used" in entry:
        parts.append("index used" if entry["index_used"] else "INDEX NOT USED")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# Over real HTTP: a real `mitalk serve`.


def free_port() -> int:
    """A free TCP port on the loopback address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(url: str, data_dir: Path) -> Iterator[str]:
    """A `mitalk serve` on this database (media off) on a free loopback port; stopped on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
    env.update({"MITALK_DATA_DIR": str(data_dir), "MITALK_DATABASE_URL": url, "MITALK_MEDIA": "off",
                "MITALK_SECRET_KEY": "bench-network-key", "MITALK_LOG_LEVEL": "warning"})
    log_path = data_dir / "serve.log"
    with log_path.open("w") as log:
        # setpriv --pdeathsig: the kernel sends the server SIGTERM if this process dies (SIGKILL).
        guard = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
        process = subprocess.Popen(
            [
                *guard,
                sys.executable,
                "-m",
                "mitalk",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"mitalk serve exited with {process.returncode}: "
                        f"{log_path.read_text()[-2000:]}"
                    )
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("mitalk serve did not become healthy in 60 s")
                time.sleep(0.2)
            progress(f"mitalk serve (pid {process.pid}) answers on {base}")
            yield base
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            progress(f"mitalk serve stopped ({process.returncode})")


async def measure_http(base: str, built: Built, count: int, budget: float) -> dict[str, Timing]:
    """p50/p95 of the endpoints over HTTP, one request at a time, viewers in turn."""
    out: dict[str, Timing] = {}
    viewers, tokens = built.viewers, built.tokens
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=30) as client:

        def request(
            path: str | Callable[[int], str], params: dict[str, str] | None = None
        ) -> Callable[[int], Awaitable[None]]:
            async def call(i: int) -> None:
                target = path(i) if callable(path) else path
                response = await client.get(
                    target,
                    params=params,
                    headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
                )
                if response.status_code != 200:
                    raise RuntimeError(
                        f"GET {target} answered {response.status_code}: {response.text[:300]}"
                    )

            return call

        def user_path(i: int) -> str:
            followees = built.followees[viewers[i % len(viewers)]]
            return f"/users/{followees[i % len(followees)]}"

        calls: list[tuple[str, Callable[[int], Awaitable[None]]]] = [
            (f"people: {c.name}", request("/search/people", c.params()))
            for c in people_cases(built.queries)
        ]
        calls += [
            ("rooms search", request("/search/rooms", {"q": built.queries["skill"]})),
            ("GET /hallway", request("/hallway")),
            ("GET /rooms", request("/rooms")),
            ("GET /users/{id}", request(user_path)),
        ]
        for name, call in calls:
            out[name] = await timed(call, count, budget)
            progress(
                f"http {name}: p50 {out[name].p50:.1f} ms, p95 {out[name].p95:.1f} ms "
                f"(n={len(out[name].samples)})"
            )
    return out


# --------------------------------------------------------------------------------------------


async def reset_postgres(url: str, reset: bool) -> None:
    """Refuse a PostgreSQL database with data in it unless ``--reset`` (then empty it)."""
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            has_users = (
                await conn.execute(text("SELECT to_regclass('public.users') IS NOT NULL"))
            ).scalar_one()
            if has_users and not reset:
                raise SystemExit(
                    f"{url.rsplit('@', 1)[-1]} already has tables: "
                    "pass --reset to empty it (everything in it is dropped)"
                )
            if has_users:
                progress("--reset: dropping everything in the database")
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
                await conn.commit()
    finally:
        await db.dispose()


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Build, check, measure in process, then over HTTP; returns the figures."""
    url = args.url or f"sqlite+aiosqlite:///{workdir / 'network.db'}"
    kind = "sqlite" if url.startswith("sqlite") else "postgres"
    if kind == "postgres":
        await reset_postgres(url, args.reset)
    db = Database(url)
    try:
        await upgrade(db)
        built = await build(db, args.members, args.seed, args.viewers, args.history)
        indexes = await check_indexes(db, built.queries["last_name"])
        load_at_start = os.getloadavg()[0]
        progress(f"queries: {built.queries}")
        service = await measure_service(db, built, args.count, args.case_seconds)
    finally:
        await db.dispose()
    with served(url, workdir) as base:
        http = await measure_http(base, built, args.count, args.case_seconds)
    load = (load_at_start, os.getloadavg()[0])
    return {
        "load": load,
        "kind": kind,
        "built": built,
        "indexes": indexes,
        "service": service,
        "http": http,
    }


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    """The table on stdout, then the JSON line."""
    built: Built = result["built"]
    service, http = result["service"], result["http"]
    print(
        f"\n{result['kind']}: {built.members:,} members, {built.follows:,} follows, "
        f"{built.connections:,} connections, "
        f"{built.live_rooms} live / {built.scheduled_rooms} scheduled / "
        f"{built.ended_rooms} ended rooms, "
        f"{built.participants:,} room participants (built in {built.seconds:.0f} s)"
    )
    print(
        f"viewers: {len(built.viewers)}, "
        f"follows {min(built.viewer_follows)}-{max(built.viewer_follows)}, "
        f"connections {min(built.viewer_connections)}-{max(built.viewer_connections)}; "
        f"queries {built.queries}; "
        f"load average {result['load'][0]:.1f} at the start, "
        f"{result['load'][1]:.1f} at the end (2 cores)"
    )
    print(
        "service = the function the endpoint calls, in this process (cpu: this process, "
        "so on SQLite it includes the\n"
        "database's work, on PostgreSQL only the client's); "
        "scan = the same search by LIKE '%word%' over every column;\n"
        "hits = profiles the full-text query matches (before the other filters); "
        "matches = rows the scan finds; "
        "http = through mitalk serve, one request at a time. Times in ms."
    )
    header = (
        f"{'case':32} {'hits':>6} {'matches':>7} {'svc p50':>8} {'p95':>7} {'cpu p50':>8} "
        f"{'scan p50':>8} {'scan/fts':>8} "
        f"{'index':>5} {'http p50':>8} {'p95':>7}"
    )
    print(header)
    print("-" * len(header))
    figures: dict[str, Any] = {}
    for name, entry in service["cases"].items():
        fts: Timing = entry["fts"]
        scan: Timing | None = entry.get("scan")
        h: Timing = http[name]
        ratio = scan.p50 / fts.p50 if scan else None
        used = entry.get("index_used")
        print(
            f"{name:32} {entry.get('hits', ''):>6} {entry.get('matches', ''):>7} "
            f"{fts.p50:8.1f} {fts.p95:7.1f} {fts.cpu_p50:8.1f} "
            f"{(f'{scan.p50:8.1f}' if scan else ''):>8} {(f'{ratio:7.1f}x' if ratio else ''):>8} "
            f"{('yes' if used else 'NO') if used is not None else '':>5} {h.p50:8.1f} {h.p95:7.1f}"
        )
        key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        figures[key] = {
            "service_p50_ms": round(fts.p50, 1),
            "service_p95_ms": round(fts.p95, 1),
            "service_cpu_p50_ms": round(fts.cpu_p50, 1),
            "http_p50_ms": round(h.p50, 1),
            "http_p95_ms": round(h.p95, 1),
        }
        if scan:
            figures[key] |= {
                "index_hits": entry.get("hits"),
                "scan_matches": entry.get("matches"),
                "scan_p50_ms": round(scan.p50, 1),
                "scan_over_fts": round(ratio or 0, 1),
                "index_used": used,
            }
    slow = [
        name
        for name in ("GET /hallway", "GET /rooms")
        if http[name].p50 > 200 or service["cases"][name]["fts"].p50 > 200
    ]
    unused = [name for name, entry in service["cases"].items() if entry.get("index_used") is False]
    print(
        f"hallway/rooms p50 over 200 ms: {', '.join(slow) or 'none'}; "
        f"searches not using the index: {', '.join(unused) or 'none'}"
    )
    for name, plan in service["plans"].items():
        if args.plans or name in unused:
            print(f"\nplan of {name}:\n{plan}")
    print(
        json.dumps(
            {
                "db": result["kind"],
                "members": built.members,
                "follows": built.follows,
                "connections": built.connections,
                "live_rooms": built.live_rooms,
                "room_participants": built.participants,
                "build_seconds": round(built.seconds, 1),
                "indexes_complete": True,
                "load_average": [round(x, 1) for x in result["load"]],
                "figures": figures,
            }
        )
    )


def main() -> None:
    """Parse arguments, run with a time limit, stop the server on every way out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument(
        "--url", default=None, help="a PostgreSQL database (default: a temporary SQLite file)"
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="empty the PostgreSQL database first (drops everything)",
    )
    parser.add_argument(
        "--count", type=int, default=30, help="timed calls per case (after 2 warm-up calls)"
    )
    parser.add_argument(
        "--case-seconds", type=float, default=20.0, help="at most this long per case"
    )
    parser.add_argument(
        "--viewers", type=int, default=20, help="members the calls are made as, in turn"
    )
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--history",
        type=int,
        default=None,
        help="people in each of the 5,000 ended rooms (default 2-20; 200 makes ~1M history rows)",
    )
    parser.add_argument(
        "--plans", action="store_true", help="print the query plans of the searches and the hallway"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (SQLite file, server log)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=1800, help="the whole run stops after this long"
    )
    args = parser.parse_args()
    if not 1 <= args.count <= 500:
        parser.error("--count must be 1-500")

    def stop(signum: int, _: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    workdir = Path(tempfile.mkdtemp(prefix="mitalk-bench-network-"))
    try:
        result = asyncio.run(asyncio.wait_for(run(args, workdir), args.max_seconds))
        report(result, args)
    except TimeoutError:
        raise SystemExit(f"the run took longer than --max-seconds {args.max_seconds:.0f}") from None
    finally:
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

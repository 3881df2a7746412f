"""What one "someone you follow started a room" fan-out costs: N followers, one INSERT … SELECT.

    .venv/bin/python bench/fanout.py --followers 100000                       # SQLite file
    .venv/bin/python bench/fanout.py --followers 100000 --url postgresql+asyncpg://…/db  # empty DB

Makes N active followers of one host (directly in SQL), then times ``notify_many`` for them in
one transaction (rows written, the unread counts for the live events), and prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, text

import mitalk.models  # noqa: F401 - registers every table
from mitalk.accounts.models import User
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.core.migrate import upgrade
from mitalk.network.models import Follow
from mitalk.notifications import service as notifications_service
from mitalk.notifications.service import Kind, notify_many
from mitalk.realtime.bus import MemoryEventBus
from mitalk.rooms import repository as rooms_repo


async def main(followers: int, url: str | None) -> None:
    url = url or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'fanout.db'}"
    db = Database(url)
    await upgrade(db)
    now = utcnow()
    async with unit_of_work(db) as session:
        await session.execute(text("DELETE FROM notifications"))
        await session.execute(text("DELETE FROM follows"))
        await session.execute(text("DELETE FROM users WHERE phone LIKE '+4915900%'"))
        users = [
            {
                "id": f"fan{n:021d}",
                "phone": f"+4915900{n:07d}",
                "status": "active",
                "created_at": now,
            }
            for n in range(followers + 1)
        ]
        for start in range(0, len(users), 5000):
            await session.execute(insert(User), users[start : start + 5000])
        host = users[0]["id"]
        follows = [
            {"follower_id": u["id"], "followee_id": host, "created_at": now} for u in users[1:]
        ]
        for start in range(0, len(follows), 5000):
            await session.execute(insert(Follow), follows[start : start + 5000])
        room = await rooms_repo.add_room(session, host, "Fan-out", [], "open", now)
        room_id = room.id
    bus = MemoryEventBus(buffer_size=10)
    await bus.start()
    started = time.perf_counter()
    async with unit_of_work(db) as session:
        written = await notify_many(
            session, bus, rooms_repo.followers_who_may_enter(room_id, host), Kind.room_started,
            "Someone started a room", f"room_started:{room_id}", now=now, data={"room_id": room_id},
        )
    seconds = time.perf_counter() - started
    # Live delivery: the notification.new events, published by a background task after commit.
    await asyncio.gather(*notifications_service._background)
    delivered = time.perf_counter() - started - seconds
    await bus.close()
    await db.dispose()
    kind = "sqlite" if url.startswith("sqlite") else "postgres"
    print(
        f"{kind}: {written} notices written and committed in {seconds:.2f} s; "
        f"live events published in {delivered:.2f} s"
    )
    print(
        json.dumps(
            {
                "db": kind,
                "followers": followers,
                "written": written,
                "write_seconds": round(seconds, 3),
                "publish_seconds": round(delivered, 3),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=100_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.followers, args.url))

"""Arranging a small network directly (profiles, follows, connections, blocks), as the CLI would."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from factories import Person, in_transaction
from mitalk.core.database import Database, utcnow
from mitalk.core.security import new_id
from mitalk.network import repository as network_repo
from mitalk.network.models import Block, Connection, Follow, pair_key


async def set_profile(db: Database, person: Person, **fields: Any) -> None:
    """Write profile fields the way PATCH /me/profile stores them."""

    async def work(session: AsyncSession) -> None:
        profile = await network_repo.ensure_profile(session, person.id)
        for name, value in fields.items():
            setattr(profile, name, value)

    await in_transaction(db, work)


async def follow(db: Database, follower: Person, followee: Person) -> None:
    await in_transaction(
        db,
        lambda s: _add(
            s, Follow(follower_id=follower.id, followee_id=followee.id, created_at=utcnow())
        ),
    )


async def connect(db: Database, a: Person, b: Person) -> None:
    row = Connection(
        id=new_id(), requester_id=a.id, addressee_id=b.id, pair_key=pair_key(a.id, b.id),
        status="accepted", created_at=utcnow(), responded_at=utcnow(),
    )
    await in_transaction(db, lambda s: _add(s, row))


async def block(db: Database, blocker: Person, blocked: Person) -> None:
    await in_transaction(
        db,
        lambda s: _add(s, Block(blocker_id=blocker.id, blocked_id=blocked.id, created_at=utcnow())),
    )


async def _add(session: AsyncSession, row: object) -> None:
    session.add(row)
    await session.flush()

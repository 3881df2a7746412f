"""How rooms follow committed changes of the contexts below them (``EventBus.follow``).

A block is the network's: once it is committed, the network publishes ``network.blocked`` and
rooms part the two people in their own transaction (``service.part_after_block``), before the
blocking request answers. A suspension is the accounts': ``account.suspended`` takes the person
out of every room (``service.part_after_suspension``). Rooms import both, never the other way.
"""

from __future__ import annotations

from mitalk.accounts import repository as accounts_repo
from mitalk.accounts.events import AccountSuspended
from mitalk.core.database import Database, unit_of_work
from mitalk.network.events import UserBlocked
from mitalk.realtime.bus import EventBus
from mitalk.realtime.events import EventBase
from mitalk.rooms.service import part_after_block, part_after_suspension


def follow_network(bus: EventBus, db: Database) -> None:
    """Part two people in rooms whenever a block between them is committed on this node."""

    async def on_block(event: EventBase) -> None:
        assert isinstance(event, UserBlocked)
        async with unit_of_work(db) as session:
            blocker = await accounts_repo.user_by_id(session, event.blocker_id)
            if blocker is not None:
                await part_after_block(session, bus, blocker, event.blocked_id, event.at)

    bus.follow(UserBlocked, on_block)


def follow_accounts(bus: EventBus, db: Database) -> None:
    """Take a suspended person out of every room once the suspension is committed on this node."""

    async def on_suspension(event: EventBase) -> None:
        assert isinstance(event, AccountSuspended)
        async with unit_of_work(db) as session:
            user = await accounts_repo.user_by_id(session, event.user_id)
            if user is not None:
                await part_after_suspension(session, bus, user, event.at)

    bus.follow(AccountSuspended, on_suspension)

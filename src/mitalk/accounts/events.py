"""The events about an account: a change its owner's account socket follows, and a suspension
that rooms follow to take the person out of every room."""

from __future__ import annotations

from typing import Literal

from mitalk.realtime.events import PersonalEvent, register_events


class AccountChanged(PersonalEvent):
    """Something in ``GET /me`` changed (e.g. let in from the waitlist): fetch it again."""

    type: Literal["account.changed"] = "account.changed"


class AccountSuspended(PersonalEvent):
    """Staff suspended the channel's owner (rooms follow it: ``rooms/followers.py``)."""

    type: Literal["account.suspended"] = "account.suspended"
    user_id: str


register_events(AccountChanged, AccountSuspended)

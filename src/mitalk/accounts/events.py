"""The event about an account that its owner's account socket follows."""

from __future__ import annotations

from typing import Literal

from mitalk.realtime.events import PersonalEvent, register_events


class AccountChanged(PersonalEvent):
    """Something in ``GET /me`` changed (e.g. let in from the waitlist): fetch it again."""

    type: Literal["account.changed"] = "account.changed"


register_events(AccountChanged)

"""How the API shows access: a claim window as waitlisters see it."""

from __future__ import annotations

import datetime as dt

from mitalk.access.models import PassWindow
from mitalk.access.schemas import ClaimWindowOut
from mitalk.access.service import window_state


def window_out(window: PassWindow, now: dt.datetime) -> ClaimWindowOut:
    """A claim window as waitlisters see it."""
    return ClaimWindowOut(
        id=window.id,
        state=window_state(window, now),
        opens_at=window.opens_at,
        closes_at=window.closes_at,
        total=window.total,
        remaining=max(0, window.total - window.granted),
    )

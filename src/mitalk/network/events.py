"""The events the network publishes: a block, which rooms follow to part the two people, and a
follow or unfollow, which the followed person's open screens follow to re-read their lists."""

from __future__ import annotations

from typing import Literal

from mitalk.realtime.events import PersonalEvent, register_events


class UserBlocked(PersonalEvent):
    """Someone blocked someone (on the blocker's channel; their clients are not told)."""

    type: Literal["network.blocked"] = "network.blocked"
    blocker_id: str
    blocked_id: str


class FollowersChanged(PersonalEvent):
    """Someone started or stopped following the channel's owner (their account socket says
    ``network.changed``, and open profiles and follower lists fetch again)."""

    type: Literal["network.followers_changed"] = "network.followers_changed"
    follower_id: str


register_events(UserBlocked, FollowersChanged)

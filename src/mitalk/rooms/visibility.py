"""Who may see a room, as SQL: the one rule the hallway, search and schedules all filter by.

A person sees a room when they host it, or it is open, or they were invited, or it is social
and its host follows them or is connected with them; never when a moderator removed them from
it, and never when they and the host blocked each other (either way).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, or_
from sqlalchemy.orm import aliased

from mitalk.network.models import Block, Connection, Follow
from mitalk.rooms.models import Room, RoomInvite, RoomParticipant

REMOVED = "removed"


# Each check uses its own alias of the table it looks in, so it can be used inside a query
# over the same table (a fan-out over ``follows`` asking whether the host follows back).
Person = SQLColumnExpression[str] | str


def blocked_either_way(viewer_id: Person, other: Person) -> ColumnElement[bool]:
    """Whether the viewer and ``other`` blocked each other, either way."""
    block = aliased(Block)
    return exists().where(
        or_(
            and_(block.blocker_id == viewer_id, block.blocked_id == other),
            and_(block.blocker_id == other, block.blocked_id == viewer_id),
        )
    )


def follows(follower: Person, followee: Person) -> ColumnElement[bool]:
    """Whether ``follower`` follows ``followee``."""
    follow = aliased(Follow)
    return exists().where(follow.follower_id == follower, follow.followee_id == followee)


def connected(a: Person, b: Person) -> ColumnElement[bool]:
    """Whether two people are connected (an accepted connection, whoever asked)."""
    conn = aliased(Connection)
    return exists().where(
        conn.status == "accepted",
        or_(
            and_(conn.requester_id == a, conn.addressee_id == b),
            and_(conn.requester_id == b, conn.addressee_id == a),
        ),
    )


def room_visible_to(viewer_id: Person) -> ColumnElement[bool]:
    """Whether the viewer may see and enter ``Room`` (any status; filter status yourself)."""
    invite = aliased(RoomInvite)
    participant = aliased(RoomParticipant)
    invited = exists().where(invite.room_id == Room.id, invite.user_id == viewer_id)
    removed = exists().where(
        participant.room_id == Room.id,
        participant.user_id == viewer_id,
        participant.presence == REMOVED,
    )
    social_tie = and_(
        Room.visibility == "social",
        or_(follows(Room.host_id, viewer_id), connected(Room.host_id, viewer_id)),
    )
    return and_(
        or_(Room.host_id == viewer_id, Room.visibility == "open", invited, social_tie),
        ~removed,
        ~blocked_either_way(viewer_id, Room.host_id),
    )

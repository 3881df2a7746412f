"""The published JSON Schemas of every event and WebSocket message (``GET /realtime/schemas``).

This module knows no domain: each context registers the models it sends or takes
(``document``) where it defines them, and ``realtime_schemas_document`` lists what was
registered. The web client validates what it receives with these schemas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from mitalk.realtime.events import event_name

Group = Literal["events", "server_messages", "client_messages", "account_messages"]


class RealtimeSchemasOut(BaseModel):
    """JSON Schemas of every room event and WebSocket message, by name, for client validation."""

    events: dict[str, dict[str, Any]]
    server_messages: dict[str, dict[str, Any]]
    client_messages: dict[str, dict[str, Any]]
    account_messages: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="What the account socket (GET /api/v1/me/ws) sends."
    )


_documented: dict[Group, dict[str, type[BaseModel]]] = {
    "events": {}, "server_messages": {}, "client_messages": {}, "account_messages": {},
}


def document(
    group: Group, models: Iterable[type[BaseModel]] | Mapping[str, type[BaseModel]]
) -> None:
    """Publish the schemas of these models under ``group``: by the ``type`` each carries, or by
    the names given (client messages whose ``type`` takes several values)."""
    named = models if isinstance(models, Mapping) else {event_name(m): m for m in models}
    _documented[group].update(named)


def realtime_schemas_document() -> RealtimeSchemasOut:
    """The document ``GET /realtime/schemas`` answers (also written by ``mitalk schemas``)."""
    return RealtimeSchemasOut(
        **{
            group: {name: model.model_json_schema() for name, model in models.items()}
            for group, models in _documented.items()
        }
    )

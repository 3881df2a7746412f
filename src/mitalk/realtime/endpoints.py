"""HTTP route of the real-time layer: the schemas of every event and WebSocket message."""

from __future__ import annotations

from fastapi import APIRouter

from mitalk.realtime.schemas import RealtimeSchemasOut, realtime_schemas_document

router = APIRouter(tags=["realtime"])


@router.get("/realtime/schemas", response_model=RealtimeSchemasOut)
async def realtime_schemas() -> RealtimeSchemasOut:
    """JSON Schemas of every room event and WebSocket message, by name (for client validation)."""
    return realtime_schemas_document()

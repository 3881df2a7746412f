"""Rooms: rooms, roles, hands, hallway, moderation, and the room WebSocket."""

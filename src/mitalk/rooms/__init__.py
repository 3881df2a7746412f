"""Rooms: rooms, roles, hands, hallway and moderation."""

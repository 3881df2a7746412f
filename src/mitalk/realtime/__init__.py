"""Real-time state: the event bus (memory | redis), sequences, and the WebSocket gateway."""

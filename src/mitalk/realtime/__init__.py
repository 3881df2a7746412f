"""Real-time plumbing that knows no domain: events, channels, the bus (memory | redis), schemas."""

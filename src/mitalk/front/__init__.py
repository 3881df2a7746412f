"""The front door on the internet: TLS in front of the API (a managed Caddy)."""

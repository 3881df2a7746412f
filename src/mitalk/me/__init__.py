"""Your own account as you see it: the sign-in routes, GET /me, and the account socket."""

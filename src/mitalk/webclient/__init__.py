"""The web client: the built single-page app (``web/dist``) served at ``/``."""

"""The live app of the real-time tests (tests/realtime/conftest.py), for the room socket."""

from realtime.conftest import live  # noqa: F401 - the fixture, shared with tests/realtime

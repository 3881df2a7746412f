"""The live app of the real-time tests, for notices delivered on the account socket."""

from realtime.conftest import live  # noqa: F401 - the fixture, shared with tests/realtime

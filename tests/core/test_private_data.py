"""The data dir and what is in it (database, keys, the SMS outbox with sign-in codes) are
readable by the service's own user only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from factories import new_phone
from live import live_server
from mitalk.accounts.sms import ConsoleSmsSender
from mitalk.core.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def test_the_data_dir_is_made_private_new_or_existing(tmp_path: Path) -> None:
    with umask(0o022):
        fresh = Settings(data_dir=tmp_path / "fresh")
        assert mode(fresh.ensure_data_dir()) == 0o700
        old = tmp_path / "old"
        old.mkdir(mode=0o755)
        old.chmod(0o755)
        assert mode(Settings(data_dir=old).ensure_data_dir()) == 0o700


async def test_the_sms_outbox_is_private_whatever_the_umask(tmp_path: Path) -> None:
    with umask(0o022):
        outbox = tmp_path / "sms-outbox.jsonl"
        await ConsoleSmsSender(outbox).send("+4915123456789", "Your code is 123456")
        assert mode(outbox) == 0o600
        outbox.chmod(0o644)  # as an older version left it
        await ConsoleSmsSender(outbox).send("+4915123456789", "Your code is 654321")
        assert mode(outbox) == 0o600
        assert len(outbox.read_text().splitlines()) == 2


def test_mitalk_serve_keeps_everything_it_creates_private(tmp_path: Path) -> None:
    """A real `mitalk serve` started under umask 022: its data dir is 0700 and no file or
    folder it made there can be read by anyone else."""
    data = tmp_path / "data"
    with umask(0o022), live_server(data) as base:
        response = httpx.post(f"{base}/api/v1/auth/code", json={"phone": new_phone()}, timeout=10)
        assert response.status_code == 202
        assert (data / "sms-outbox.jsonl").exists()
        assert mode(data) == 0o700
        made = [p for p in data.rglob("*")]
        assert any(p.name == "mitalk.db" for p in made)
        exposed = [f"{p.name} {mode(p):o}" for p in made if mode(p) & 0o077]
        assert not exposed, exposed

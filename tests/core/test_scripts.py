"""BatchedScript in a real Redis: calls made at once travel together, and each caller still gets
its own script run and its own answer (or its own error)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from mitalk.core.scripts import BatchedScript

# Counts a call and answers with the count and the caller's argument; "fail" makes it fail.
SCRIPT = """
if ARGV[1] == 'fail' then return redis.error_reply('asked to fail') end
return {redis.call('INCR', KEYS[1]), ARGV[1]}
"""


class CountingScript(BatchedScript):
    """Counts the pipelines it sends (how the calls travelled)."""

    pipelines = 0

    async def _pipeline(self, batch):  # type: ignore[no-untyped-def]
        self.pipelines += 1
        return await super()._pipeline(batch)


async def test_calls_at_once_share_pipelines_and_keep_their_answers(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await redis.delete("test:batched")
        script = CountingScript(redis, SCRIPT, max_batch=64)
        answers = await asyncio.gather(
            *(script(["test:batched"], [str(i)]) for i in range(500))
        )
        # Every call ran once (the counter went 1..500), and each caller got its own answer.
        assert sorted(int(count) for count, _ in answers) == list(range(1, 501))
        assert [caller.decode() for _, caller in answers] == [str(i) for i in range(500)]
        assert await redis.get("test:batched") == b"500"
        assert 500 / 64 <= script.pipelines < 500  # batched, and never more than 64 a batch

        # One call's error is that caller's alone.
        results = await asyncio.gather(
            script(["test:batched"], ["a"]), script(["test:batched"], ["fail"]),
            script(["test:batched"], ["b"]), return_exceptions=True,
        )
        assert isinstance(results[1], redis_errors.ResponseError)
        assert "asked to fail" in str(results[1])
        assert [results[0][1], results[2][1]] == [b"a", b"b"]  # type: ignore[index]

        # A script Redis does not know (never loaded, or lost in a restart or SCRIPT FLUSH,
        # which would disturb everyone using this Redis): the calls load it and run once each.
        fresh = BatchedScript(redis, f"-- {uuid.uuid4()}\n{SCRIPT}")
        assert not (await redis.script_exists(fresh.sha))[0]
        again = await asyncio.gather(*(fresh(["test:batched"], ["x"]) for _ in range(10)))
        assert sorted(int(count) for count, _ in again) == list(range(503, 513))
    finally:
        await redis.aclose()


async def test_a_broken_connection_fails_each_caller_of_its_batch() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        script = BatchedScript(redis, SCRIPT)
        results = await asyncio.gather(
            *(script(["k"], ["1"]) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, redis_errors.ConnectionError) for r in results)
        with pytest.raises(redis_errors.ConnectionError):
            await script(["k"], ["1"])  # and the next call is tried afresh
    finally:
        await redis.aclose()

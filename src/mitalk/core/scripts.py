"""A Lua script called by many coroutines at once, sent to Redis in batches.

Each call through redis-py costs its own trip through the client (a connection taken from the
pool under its lock and given back, retry and observability wrappers, one write and one read):
in a claim rush that was a fifth of a claim's CPU in the API process, for a script Redis runs in
microseconds. ``BatchedScript`` sends every call made while the previous batch was on its way
as one pipeline (one connection, one write, one read) and hands each caller its own answer, so
the cost per call falls as the load rises; a lone call goes out at once, as before.

Each call is still its own script run (Redis runs them one after another, atomically each): a
batch changes how the calls travel, not what they do. If the connection fails, every call of
the batch fails as a lone call would (some may have run: callers must be safe to repeat, as a
claim is).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

# Calls per pipeline at most; more wait for the next one (a long pipeline delays its first
# caller's answer until the last command is read).
MAX_BATCH = 256

_Call = tuple[list[str], list[str | int], "asyncio.Future[Any]"]


class BatchedScript:
    """``await script(keys, args)``: the script's answer, the calls of many callers batched."""

    def __init__(self, redis: Redis, source: str, max_batch: int = MAX_BATCH) -> None:
        self.redis, self.source, self.max_batch = redis, source, max_batch
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # the id Redis knows a script by
        self._waiting: list[_Call] = []
        self._sender: asyncio.Task[None] | None = None

    async def __call__(self, keys: list[str], args: list[str | int]) -> Any:
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((keys, args, answer))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_waiting())
        return await answer

    async def _send_waiting(self) -> None:
        # One batch on its way at a time: calls made meanwhile make up the next.
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            batch = [call for call in batch if not call[2].done()]  # callers gone (cancelled)
            if not batch:
                continue
            try:
                results = await self._run(batch)
            except asyncio.CancelledError:
                for _, _, answer in batch:
                    answer.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - each caller hears it, as a lone call would
                for _, _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (_, _, answer), result in zip(batch, results, strict=True):
                if answer.done():
                    continue
                if isinstance(result, Exception):
                    answer.set_exception(result)
                else:
                    answer.set_result(result)

    async def _run(self, batch: list[_Call]) -> list[Any]:
        results = await self._pipeline(batch)
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            # Redis lost its script cache (a restart, SCRIPT FLUSH): nothing of those ran.
            await self.redis.script_load(self.source)
            for i, result in zip(missing, await self._pipeline([batch[i] for i in missing]),
                                 strict=True):
                results[i] = result
        return results

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self.sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))

"""A token bucket per workspace in Redis, shared by every worker process.

One Lua script refills the bucket from the elapsed time and takes what it can, atomically,
so concurrent batch jobs on several workers never exceed the rate together. The clock is
passed in (not Redis TIME) so that tests can drive it; workers use wall time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

# KEYS[1] bucket; ARGV: rate/s, capacity, now (s), wanted -> {granted, wait in µs}
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
local wait = 0
if granted < wanted then
  wait = math.ceil((math.min(wanted - granted, capacity) - tokens) / rate * 1000000)
end
return {granted, wait}
"""


class TokenBucket:
    """`rate` tokens per second, bursts up to `capacity` (one second's worth by default)."""

    def __init__(
        self,
        redis: Any,
        key: str,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.redis = redis
        self.key = key
        self.rate = rate
        self.capacity = max(1.0, capacity if capacity is not None else rate)
        self.clock = clock
        self.sleep = sleep
        self._script = redis.register_script(_TAKE)

    async def try_take(self, wanted: int) -> tuple[int, float]:
        """Take up to `wanted` tokens now: (granted, seconds until the rest may be there)."""
        granted, wait_us = await self._script(
            keys=[self.key], args=[self.rate, self.capacity, repr(self.clock()), wanted]
        )
        return int(granted), int(wait_us) / 1_000_000

    async def take(self, wanted: int) -> None:
        """Wait until `wanted` tokens have been taken (in pieces if more than the capacity)."""
        remaining = wanted
        while remaining > 0:
            granted, wait = await self.try_take(min(remaining, math.floor(self.capacity)))
            remaining -= granted
            if remaining > 0:
                await self.sleep(max(wait, 0.001))


def workspace_bucket(redis: Any, workspace_id: int, rate: float, **options: Any) -> TokenBucket:
    return TokenBucket(redis, f"sieve:send-rate:{workspace_id}", rate, **options)

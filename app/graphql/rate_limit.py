"""Per-API-key rate limits: a token bucket per key in Redis, one token per request.

The bucket is the Lua one the broadcast sender uses (app.broadcasts.ratelimit), so every
API process shares it. Without Redis (the zero-setup mode) or when Redis fails, requests
are let through: a rate limit must not turn a Redis outage into an API outage.
"""

from __future__ import annotations

import math
from typing import Any

import structlog
from redis.exceptions import RedisError

from app.broadcasts.ratelimit import TokenBucket
from app.graphql.errors import ClientError
from app.settings import Settings
from app.tenancy import hash_key

log = structlog.get_logger()
RATE_LIMITED = "RATE_LIMITED"


class RateLimitedError(ClientError):
    def __init__(self, rate: float, retry_after: float) -> None:
        super().__init__(
            f"Too many requests for this API key: at most {rate:g} per second."
            f" Retry after {retry_after:.3g} s.",
            RATE_LIMITED,
        )
        self.extensions = {**(self.extensions or {}), "retryAfter": retry_after}


async def take_request_token(redis: Any, key: str, config: Settings) -> float:
    """Take this request's token from the key's bucket: 0 if granted, else the seconds
    until one is there. Off (0) when RATE_LIMIT_PER_SECOND is 0 or Redis is missing."""
    if redis is None or config.rate_limit_per_second <= 0:
        return 0.0
    bucket = TokenBucket(
        redis,
        f"sieve:api-rate:{hash_key(key)[:32]}",
        config.rate_limit_per_second,
        capacity=config.rate_limit_burst,
    )
    try:
        granted, wait = await bucket.try_take(1)
    except (RedisError, OSError) as exc:
        log.warning("rate_limit_unavailable", error=str(exc))
        return 0.0
    return 0.0 if granted else max(wait, 0.001)


def refuse(context: Any, config: Settings, wait: float) -> RateLimitedError:
    """The error to raise, with the HTTP answer set to 429 and `Retry-After`."""
    response = getattr(context, "response", None)
    if response is not None and hasattr(response, "headers"):
        response.status_code = 429
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return RateLimitedError(config.rate_limit_per_second, round(wait, 3))

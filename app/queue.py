"""The API's connection to the arq queue: one client that reconnects by itself.

arq's `create_pool` pings once and fails when Redis is down, and an API that started
without a pool never got one. Here the client is built without that ping: redis-py opens
connections on demand, so the first command after Redis comes back simply connects, and
a connection broken by a restart is retried once on a fresh one. While Redis is away,
every command fails fast with one of `QUEUE_ERRORS`, which callers turn into an
`UNAVAILABLE` answer with a retry hint.
"""

from __future__ import annotations

import asyncio

import structlog
from arq.connections import ArqRedis, RedisSettings
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger()

# what an unreachable, restarting or stalled Redis raises
QUEUE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)


def open_queue(redis_url: str, queue_name: str, timeout: float = 2.0) -> ArqRedis:
    """An arq client for `queue_name` that connects lazily and after every outage."""
    conf = RedisSettings.from_dsn(redis_url)
    return ArqRedis(
        host=conf.host if isinstance(conf.host, str) else "localhost",
        port=conf.port,
        unix_socket_path=conf.unix_socket_path,
        db=conf.database,
        username=conf.username,
        password=conf.password,
        ssl=conf.ssl,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        encoding="utf8",
        default_queue_name=queue_name,
    )


async def queue_reachable(pool: ArqRedis, timeout: float) -> str | None:
    """None when Redis answers a PING within `timeout`, else why not."""
    try:
        await asyncio.wait_for(pool.ping(), timeout)
    except QUEUE_ERRORS as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None

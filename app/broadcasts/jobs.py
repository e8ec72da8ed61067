"""Names of a send's arq jobs and Redis keys, shared by the API, the jobs and recovery.

The `send_token` (random, set when sending starts) makes the names unique to one send of
one broadcast, so that several databases can share a Redis without one's broadcast 1
colliding with another's, while every retry or re-enqueue of the same send gets the
same name (arq dedupes on `_job_id`).
"""

from __future__ import annotations

START_JOB = "start_broadcast"
BATCH_JOB = "send_broadcast_batch"


def start_job_id(broadcast_id: int, token: str) -> str:
    return f"broadcast:{broadcast_id}.{token}:start"


def batch_job_id(broadcast_id: int, token: str, batch: int) -> str:
    return f"broadcast:{broadcast_id}.{token}:batch:{batch}"


def batch_lease_key(broadcast_id: int, token: str, batch: int) -> str:
    """Held (with a short expiry, kept alive) while a process is sending this batch."""
    return f"sieve:lease:broadcast:{broadcast_id}.{token}:batch:{batch}"

"""The arq worker runs jobs against real Redis with the database open."""

from __future__ import annotations

from tests.conftest import run_burst_worker
from workers.settings import heartbeat


async def test_heartbeat_runs_on_a_real_worker(db, arq_redis):
    job_id = f"heartbeat:{arq_redis.sieve_queue_name}"
    job = await arq_redis.enqueue_job("heartbeat", _job_id=job_id)
    duplicate = await arq_redis.enqueue_job("heartbeat", _job_id=job_id)
    assert duplicate is None  # the same _job_id is queued once
    worker = await run_burst_worker(arq_redis, [heartbeat])
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    assert await job.result(timeout=5) == "ok"

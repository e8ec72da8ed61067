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


async def test_the_api_enqueues_on_the_configured_queue(arq_redis):
    # SIEVE_QUEUE must reach the API's pool too, or a worker on it never sees the jobs
    from app.main import open_arq
    from tests.conftest import REDIS_TEST_URL

    queue = f"{arq_redis.sieve_queue_name}:api"
    pool = await open_arq(REDIS_TEST_URL, queue)
    try:
        await pool.enqueue_job("heartbeat", _job_id="queued-here")
        assert await arq_redis.zscore(queue, "queued-here") is not None
        assert await arq_redis.zscore("arq:queue", "queued-here") is None
    finally:
        await pool.delete(queue, "arq:job:queued-here")
        await pool.aclose()

"""/health, /ready and /metrics of the API; a worker's own metrics and job logs."""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta

import httpx
from arq.worker import func
from prometheus_client.parser import text_string_to_metric_families

from app.email.messages import OutgoingMessage
from app.email.transports import make_transport
from app.main import open_arq
from app.settings import settings
from app.sql import now_utc
from tests.conftest import run_burst_worker
from workers.observe import observe_all, record_operations, start_metrics_server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_health_answers_while_ready_names_what_is_missing(http_app, redis_server):
    # the http_app fixture's app has no queue: alive, not ready
    assert (await http_app.get("/health")).json() == {"status": "ok"}
    not_ready = await http_app.get("/ready")
    assert not_ready.status_code == 503
    assert not_ready.json()["failed"] == ["redis"]
    assert not_ready.json()["checks"]["database"] == "ok"


async def test_ready_when_database_and_redis_answer(db, redis_server):
    from app.main import create_app

    redis_server.start()
    app = create_app()
    app.state.arq = await open_arq(redis_server.url, "sieve-ready")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ready = await c.get("/ready")
    await app.state.arq.aclose()
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


async def test_ready_has_a_deadline(db, redis_server):
    from app.main import create_app

    redis_server.start()
    # a deadline no round trip can meet: both checks fail, each named
    app = create_app(settings.replace(ready_timeout_seconds=1e-9))
    app.state.arq = await open_arq(redis_server.url, "sieve-ready")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        late = await c.get("/ready")
    await app.state.arq.aclose()
    assert late.status_code == 503
    assert late.json()["failed"] == ["database", "redis"]
    assert late.json()["checks"]["database"].startswith("no answer within")


async def test_metrics_count_operations_errors_and_segment_evaluations(gql, make_person):
    await make_person(tags=["vip"])
    before = await scrape(gql.client)
    created = await gql.ok(
        'mutation { createSegment(input: {name: "VIPs", definition: {conditions: [{tag: {tag: "vip"}}]}})'
        " { segment { id count } userErrors { code } } }"
    )
    segment_id = created["createSegment"]["segment"]["id"]
    await gql.ok("query Page($id: ID!) { segment(id: $id) { members(first: 5) { edges { cursor } } } }", {"id": segment_id})  # fmt: skip
    await gql('mutation { deleteSegment(id: "seg_424242") { userErrors { code } } }')
    await gql("query { segments(first: 1) { totalCount } }", key="sk_wrong")
    after = await scrape(gql.client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    ops = "sieve_graphql_operations_total"
    assert grew(ops, operation="createSegment", type="mutation", outcome="ok") == 1
    assert grew(ops, operation="Page", type="query", outcome="ok") == 1
    assert grew(ops, operation="deleteSegment", type="mutation", outcome="user_error") == 1
    assert grew(ops, operation="segments", type="query", outcome="client_error") == 1
    assert grew("sieve_graphql_operation_seconds_count", operation="Page", type="query") == 1
    assert grew("sieve_graphql_errors_total", code="NOT_FOUND", kind="user_error") == 1
    assert grew("sieve_graphql_errors_total", code="UNAUTHENTICATED", kind="error") == 1
    assert grew("sieve_segment_evaluation_seconds_count", kind="count") >= 1
    assert grew("sieve_segment_evaluation_seconds_count", kind="page") >= 1


async def test_sends_are_counted_per_transport_and_outcome(tmp_path):
    transport = make_transport(
        settings.replace(email_transport="file", email_file_dir=str(tmp_path))
    )
    message = OutgoingMessage(
        sender="a@shop.test", recipient="b@shop.test", data=b"Subject: hi\r\n\r\nhi"
    )
    before = samples(await _render())
    await transport.send(message, "one")
    (tmp_path / "blocked.eml").mkdir()  # a name the file transport cannot write
    failed = await transport.send(message, "blocked")
    after = samples(await _render())
    key = "sieve_email_sends_total"
    sent = (key, (("outcome", "sent"), ("transport", "file")))
    lost = (key, (("outcome", "failed"), ("transport", "file")))
    assert after[sent] - before.get(sent, 0) == 1
    assert after[lost] - before.get(lost, 0) == 1 and failed.outcome == "failed"
    assert (tmp_path / "one.eml").read_bytes().endswith(b"hi")


async def _render() -> str:
    from app import metrics

    return metrics.render()[0].decode()


async def test_queue_depth_on_the_api(db, redis_server):
    from app.main import create_app

    redis_server.start()
    queue = f"sieve-depth:{uuid.uuid4().hex[:8]}"
    app = create_app(settings.replace(queue_name=queue))
    app.state.arq = pool = await open_arq(redis_server.url, queue)
    await pool.enqueue_job("heartbeat", _job_id="a")
    await pool.enqueue_job("heartbeat", _job_id="b")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        scraped = await scrape(c)
    await pool.aclose()
    assert scraped[("sieve_queue_depth", (("queue", queue),))] == 2


async def test_a_worker_logs_and_counts_its_jobs_on_its_own_port(db, arq_redis, log_output):
    async def fine(ctx):
        return "ok"

    async def broken(ctx):
        raise RuntimeError("the transport exploded")

    port = free_port()
    server = start_metrics_server(port)
    try:
        await arq_redis.enqueue_job("fine")
        await arq_redis.enqueue_job("broken")
        jobs = observe_all([func(fine, name="fine"), func(broken, name="broken")])
        worker = await run_burst_worker(arq_redis, jobs)
        assert (worker.jobs_complete, worker.jobs_failed) == (1, 1)
        async with httpx.AsyncClient() as client:
            scraped = samples((await client.get(f"http://127.0.0.1:{port}/metrics")).text)
    finally:
        server.shutdown()
    assert scraped[("sieve_worker_jobs_total", (("function", "fine"), ("outcome", "ok")))] >= 1
    assert (
        scraped[("sieve_worker_jobs_total", (("function", "broken"), ("outcome", "failed")))] >= 1
    )
    assert start_metrics_server(0) is None
    lines = [line for line in log_output() if line["event"].startswith("job_")]
    by_job = {(line["job"], line["event"]) for line in lines}
    assert {("fine", "job_started"), ("fine", "job_finished"), ("broken", "job_started"),
            ("broken", "job_failed")} <= by_job  # fmt: skip
    [failure] = [line for line in lines if line["event"] == "job_failed"]
    assert "Traceback" in failure["exception"] and "the transport exploded" in failure["exception"]
    assert failure["job_try"] == 1 and failure["job_id"]


async def test_flow_lag_and_queue_depth_are_recorded_by_the_worker(
    db, arq_redis, workspace, make_person
):
    from app.flows import service
    from app.flows.models import Enrollment, FlowStatus

    person = await make_person()
    flow = await service.create_flow(
        workspace.id, "Welcome", {"entry": "done", "steps": [{"id": "done", "exit": {}}]}
    )
    await service.set_status(workspace.id, flow.id, FlowStatus.ACTIVE)
    await service.enroll_people(workspace.id, flow.id, [person.id], _NoJobs())
    await Enrollment.filter(flow_id=flow.id).update(due_at=now_utc() - timedelta(minutes=2))
    await arq_redis.enqueue_job("heartbeat")
    ctx = {"redis": arq_redis, "queue_name": arq_redis.sieve_queue_name}
    recorded = await record_operations(ctx)
    assert recorded["queue_depth"] == 1
    assert 120 <= recorded["flow_lag_seconds"] < 180
    # nothing due: no lag
    await Enrollment.filter(flow_id=flow.id).update(due_at=now_utc() + timedelta(hours=1))
    assert (await record_operations(ctx))["flow_lag_seconds"] == 0


class _NoJobs:
    """A scheduler that keeps the enrollment unhandled, as if its job were lost."""

    async def schedule(self, *args: object, **kwargs: object) -> None:
        return None


def test_client_chosen_operation_names_cannot_grow_the_metrics_without_bound(monkeypatch):
    from app.graphql import observability

    monkeypatch.setattr(observability, "_labels", set())
    monkeypatch.setattr(observability, "settings", settings.replace(metrics_max_operations=3))
    labels = [observability.metric_label(f"Op{i}") for i in range(5)]
    assert labels == ["Op0", "Op1", "Op2", "(other)", "(other)"]
    assert observability.metric_label("Op1") == "Op1"  # names already seen keep theirs

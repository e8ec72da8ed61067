"""The Redis token bucket (driven by a fake clock) and signed unsubscribe links."""

from __future__ import annotations

import uuid

import pytest

from app.broadcasts.ratelimit import TokenBucket
from app.email.unsubscribe import make_token, read_token
from app.people.models import Person, Status


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def bucket(arq_redis):
    def make(rate: float, capacity: float | None = None) -> tuple[TokenBucket, FakeClock]:
        clock = FakeClock()
        key = f"{arq_redis.sieve_queue_name}:bucket:{uuid.uuid4().hex}"
        return TokenBucket(arq_redis, key, rate, capacity, clock=clock, sleep=clock.sleep), clock

    return make


async def test_the_bucket_grants_a_burst_then_refills_at_the_rate(bucket):
    limiter, clock = bucket(rate=10)
    assert await limiter.try_take(25) == (10, 1.0)  # a full bucket: one second of tokens
    assert (await limiter.try_take(1))[0] == 0
    clock.now += 0.5
    assert (await limiter.try_take(10))[0] == 5
    clock.now += 100  # refills only up to the capacity
    assert (await limiter.try_take(50))[0] == 10


async def test_taking_many_tokens_never_beats_the_rate(bucket):
    limiter, clock = bucket(rate=100)
    start = clock.now
    for _ in range(30):
        await limiter.take(37)  # 1,110 messages in groups of 37
    elapsed = clock.now - start
    # 100 may go at once (the burst), the other 1,010 need 10.1 s at 100/s
    assert elapsed == pytest.approx(10.1, abs=0.05)


async def test_two_senders_share_one_workspace_bucket(bucket, arq_redis):
    limiter, clock = bucket(rate=50)
    twin = TokenBucket(arq_redis, limiter.key, 50, clock=clock, sleep=clock.sleep)
    granted = [(await limiter.try_take(40))[0], (await twin.try_take(40))[0]]
    assert granted == [40, 10]


async def test_a_token_is_tied_to_its_person_and_key():
    token = make_token(3, 42, secret="s1")
    assert read_token(token, secret="s1") == (3, 42)
    assert read_token(token, secret="s2") is None
    workspace, _person, signature = token.split(".")
    assert read_token(f"{workspace}.43.{signature}", secret="s1") is None
    assert read_token("3.42", secret="s1") is None


async def test_the_unsubscribe_link_asks_then_unsubscribes(http_app, workspace, make_person):
    person = await make_person("sue@x.test")
    url = f"/unsubscribe/{make_token(workspace.id, person.id)}"
    page = await http_app.get(url)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert (await Person.get(id=person.id)).status is Status.SUBSCRIBED  # GET changes nothing
    done = await http_app.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "sue@x.test" in done.text
    assert (await Person.get(id=person.id)).status is Status.UNSUBSCRIBED


async def test_a_tampered_token_is_refused(http_app, workspace, make_person):
    person = await make_person()
    token = make_token(workspace.id, person.id)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (forged, f"{workspace.id}.{person.id + 1}.{token.split('.')[2]}", "nonsense"):
        response = await http_app.post(f"/unsubscribe/{bad}")
        assert response.status_code == 404
    assert (await Person.get(id=person.id)).status is Status.SUBSCRIBED

"""The float test in front of an aggregate's exact comparison (conditions/aggregate.py
`aggregate_having`) never changes an answer.

PostgreSQL decides most groups of `round(sum(value)::numeric, 6) > $t` by `sum(value) >
$t - margin` alone, because the double-to-numeric conversion is the expensive part. The
margin has to cover the rounding to 6 places and the 15-significant-digit conversion at
every magnitude: here random doubles (tiny, huge, and within a few ulps or a rounding
step of the target) are compared both ways, for every operator, in one statement each.
On SQLite both are the same expression, so both are also compared with the answer
computed in Python wherever the engines' digit conversions cannot decide it.

Guards the float prefilter (docs/performance.md, change 1): (iii)'s page at 1M people,
half of whose 21.4 ms went to converting doubles to numeric.
"""

from __future__ import annotations

import math
import operator
import os
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.segments.ast import Aggregate, AggregateCondition, Op
from app.segments.compiler_values import COMPARE_SQL, bind_number
from app.segments.conditions.aggregate import aggregate_expr, aggregate_having
from app.sql import Dialect, SqlParams, connection, dialect_of, fetch_one

EXAMPLES = int(os.environ.get("SIEVE_HYPOTHESIS_EXAMPLES", "100")) * 3

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
_OVER_VALUES = [Aggregate.SUM, Aggregate.AVG, Aggregate.MIN, Aggregate.MAX]
magnitudes = st.sampled_from([1e-9, 1e-6, 1.0, 500.0, 1e9, 1e10, 1e15, 1e17, 1e300])


@st.composite
def value_and_target(draw: st.DrawFn) -> tuple[float, float]:
    """A value, and a target that is the value nudged by ulps, by about the rounding
    step, by the 15-digit conversion, or anything at all."""
    scale = draw(magnitudes)
    value = draw(st.one_of(finite, st.floats(-scale, scale)))
    nudge = draw(st.sampled_from(["ulps", "rounding", "digits15", "any"]))
    if nudge == "ulps":
        target, towards = value, draw(st.sampled_from([math.inf, -math.inf]))
        for _ in range(draw(st.integers(0, 4))):
            target = math.nextafter(target, towards)
    elif nudge == "rounding":
        target = value + draw(st.sampled_from([-6e-7, -5e-7, -4e-7, 0.0, 4e-7, 5e-7, 6e-7]))
    elif nudge == "digits15":
        target = float(f"{value:.15g}") + draw(st.sampled_from([-1e-6, 0.0, 1e-6]))
    else:
        target = draw(finite)
    return value, target


_PYTHON_OPS = {Op.EQ: operator.eq, Op.NEQ: operator.ne, Op.GT: operator.gt,
               Op.GTE: operator.ge, Op.LT: operator.lt, Op.LTE: operator.le}  # fmt: skip


def python_answer(value: float, target: float, op: Op) -> bool | None:
    """`round(value, 6) op target` computed in Python, rounding half away from zero as
    both databases do. None where it depends on how an engine turns the double into
    digits (PostgreSQL: 15 significant ones; SQLite: its printf, about 19): the answer
    must then be the same from the exact value and from each of those digit strings."""
    answers = set()
    with localcontext() as decimal_context:
        decimal_context.prec = 400  # 1.8e308 to the 6th decimal place, exactly
        for digits in (Decimal(value), *(Decimal(f"{value:.{n}g}") for n in (15, 17, 19))):
            rounded = digits.quantize(Decimal("1e-6"), rounding=ROUND_HALF_UP)
            answers.add(_PYTHON_OPS[op](rounded, Decimal(repr(target))))  # PostgreSQL numeric
            answers.add(_PYTHON_OPS[op](float(rounded), target))  # SQLite REAL
    return answers.pop() if len(answers) == 1 else None


@pytest.mark.parametrize(
    ("value", "target", "op", "expected"),
    [(500.0000004, 500.0, Op.EQ, True), (500.0000006, 500.0, Op.GT, True),
     (-2.5, -2.4999999, Op.LT, True), (1e-9, 0.0, Op.EQ, True), (3.0, 2.0, Op.LTE, False)],
)  # fmt: skip
def test_the_python_answer_rounds_as_the_databases_do(value, target, op, expected):
    assert python_answer(value, target, op) is expected


async def _both(value: float, target: float, op: Op, fn: Aggregate) -> tuple[bool, bool]:
    condition = AggregateCondition("purchase", fn, op, target, None, None)
    params = SqlParams(dialect_of(connection()))
    bound = bind_number(params, target)
    exact = f"{aggregate_expr(condition, params)} {COMPARE_SQL[op]} {bound}"
    guarded = aggregate_having(condition, op, bound, params)
    prefiltered = params.dialect is Dialect.POSTGRES and op is not Op.NEQ
    assert guarded.startswith("CASE WHEN") is prefiltered, guarded
    source = params.add(value)
    cast = "::float8" if params.dialect is Dialect.POSTGRES else ""
    sql = (
        f"SELECT COALESCE({exact}, FALSE) AS exact, COALESCE({guarded}, FALSE) AS guarded"
        f" FROM (SELECT {source}{cast} AS value) e"
    )
    row = await fetch_one(connection(), sql, params.values)
    assert row is not None
    return bool(row["exact"]), bool(row["guarded"])


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(pair=value_and_target(), fn=st.sampled_from(_OVER_VALUES))
@example(pair=(9999999999.999998, 1e10), fn=Aggregate.SUM)  # 15 digits make it 1e10
@example(pair=(500.0000004, 500.0), fn=Aggregate.AVG)
@example(pair=(600.0, 500.0), fn=Aggregate.SUM)  # decided by the far bound, either side
@example(pair=(-1e17 - 16, -1e17), fn=Aggregate.MIN)
@pytest.mark.plan
async def test_float_prefilter_agrees_with_the_exact_comparison(db, pair, fn):
    """Guards the float prefilter (docs/performance.md, change 1): its `CASE WHEN` shape
    is pinned; on either database the answer must also be the one Python computes."""
    # one event: SUM, AVG, MIN and MAX are all the value itself
    value, target = pair
    for op in Op:
        if op in COMPARE_SQL:
            exact, guarded = await _both(value, target, op, fn)
            assert guarded == exact, f"{fn.value}={value!r} {op.value} {target!r}: {exact}"
            expected = python_answer(value, target, op)
            if expected is not None:  # decided whatever digits an engine reads
                assert exact == expected, f"{fn.value}={value!r} {op.value} {target!r}"

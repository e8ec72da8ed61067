"""RFM's pure rules: the named segments partition the R x FM grid, and scoring a value
against the edges gives exactly the rank-min quintile score (docs/rfm.md)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.rfm.model import (
    SCORES,
    SEGMENT_CELLS,
    Metric,
    RfmSegment,
    edges_from,
    fm_score,
    segment_of,
)


def test_the_named_segments_partition_the_grid():
    for r in SCORES:
        for fm in SCORES:
            owners = [
                s
                for s, (r_low, r_high, fm_low, fm_high) in SEGMENT_CELLS.items()
                if r_low <= r <= r_high and fm_low <= fm <= fm_high
            ]
            assert len(owners) == 1, (r, fm, owners)
    assert set(SEGMENT_CELLS) == set(RfmSegment) and len(RfmSegment) == 11


def test_segment_examples():
    assert segment_of(5, 5, 5) is RfmSegment.CHAMPIONS
    assert segment_of(5, 1, 1) is RfmSegment.NEW_CUSTOMERS
    assert segment_of(1, 5, 5) is RfmSegment.CANT_LOSE_THEM
    assert segment_of(1, 1, 1) is RfmSegment.LOST
    assert segment_of(2, 2, 1) is RfmSegment.HIBERNATING
    assert fm_score(4, 5) == 5 and fm_score(4, 3) == 4 and fm_score(1, 2) == 2


def rank_rule(values: list[float], worse: str) -> list[int]:
    n = len(values)
    if worse == "more":
        return [1 + 5 * sum(1 for w in values if w > v) // n for v in values]
    return [1 + 5 * sum(1 for w in values if w < v) // n for v in values]


@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=60),
    st.lists(st.integers(1, 9), min_size=1, max_size=60),
)
def test_edges_give_the_rank_rule(recency: list[int], frequency: list[int]):
    n = min(len(recency), len(frequency))
    recency, frequency = recency[:n], frequency[:n]
    r_scores, f_scores = rank_rule(recency, "more"), rank_rule(frequency, "less")
    r_pairs = list(zip(recency, r_scores, strict=True))
    f_pairs = list(zip(frequency, f_scores, strict=True))
    best = [(Metric.RECENCY, s, max(v for v, t in r_pairs if t == s)) for s in set(r_scores)]
    best += [(Metric.FREQUENCY, s, min(v for v, t in f_pairs if t == s)) for s in set(f_scores)]
    best += [(Metric.MONETARY, 1, 0.0)]
    edges = edges_from(n, best)
    assert [edges.score(Metric.RECENCY, v) for v in recency] == r_scores
    assert [edges.score(Metric.FREQUENCY, v) for v in frequency] == f_scores

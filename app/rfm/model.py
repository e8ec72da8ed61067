"""RFM's rules, pure: the settings, the scoring rule and its edges, the named segments.

The scoring rule (docs/rfm.md). Over the workspace's purchasers (people with at least
one purchase event in the window, at or before now), each metric is ranked from worst
to best (recency: most days first; frequency and monetary: least first) with ties
sharing the lowest rank (`rank()`, pandas `rank(method="min")`), and

    score = 1 + floor(5 x (rank - 1) / N)        N = the number of purchasers

so a score is the fifth of the purchasers that the people strictly worse than this one
fill, ties are never split, and the arithmetic is integers on both databases. A score is
a monotone step function of its metric, so it is also given by four *edges*: for s = 2..5
the least good metric value that scores at least s (`Edges`); a person's score is 1 plus
the number of edges their value reaches. The edges are what a segment definition
compiles against, which is how one person's score is known without ranking everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_PURCHASE_EVENT = "purchase"
SCORES = (1, 2, 3, 4, 5)


class Metric(StrEnum):
    RECENCY = "recency"
    FREQUENCY = "frequency"
    MONETARY = "monetary"


@dataclass(frozen=True)
class RfmSettings:
    purchase_event: str = DEFAULT_PURCHASE_EVENT
    window_days: int | None = None  # None: all time


@dataclass(frozen=True)
class Edges:
    """Per metric, the edge of each score 2..5 (index 0 is score 2), None when nobody
    scores that high. Recency edges are the most days that still score s; frequency
    and monetary edges the least value that does."""

    purchasers: int
    recency: tuple[int | None, ...]
    frequency: tuple[int | None, ...]
    monetary: tuple[float | None, ...]

    def score(self, metric: Metric, value: float) -> int:
        edges = self.of(metric)
        if metric is Metric.RECENCY:
            return 1 + sum(1 for e in edges if e is not None and value <= e)
        return 1 + sum(1 for e in edges if e is not None and value >= e)

    def of(self, metric: Metric) -> tuple[float | None, ...]:
        return {
            Metric.RECENCY: self.recency,
            Metric.FREQUENCY: self.frequency,
            Metric.MONETARY: self.monetary,
        }[metric]


@dataclass(frozen=True)
class RfmModel:
    """What compiling an `rfm` condition needs: the settings and the edges."""

    settings: RfmSettings
    edges: Edges


def edges_from(purchasers: int, best: Sequence[tuple[Metric, int, float]]) -> Edges:
    """Edges from each score's least good value `(metric, score, value)`: recency's
    largest days in the score, frequency's and monetary's smallest value."""
    out: dict[Metric, list[float | None]] = {}
    for metric in Metric:
        found = {score: value for m, score, value in best if m is metric}
        edges: list[float | None] = []
        for s in SCORES[1:]:
            values = [found[t] for t in found if t >= s]
            if not values:
                edges.append(None)
            elif metric is Metric.RECENCY:
                edges.append(max(values))
            else:
                edges.append(min(values))
        out[metric] = edges
    return Edges(
        purchasers,
        tuple(None if e is None else int(e) for e in out[Metric.RECENCY]),
        tuple(None if e is None else int(e) for e in out[Metric.FREQUENCY]),
        tuple(out[Metric.MONETARY]),
    )


# ------------------------------------------------------------------ named segments


class RfmSegment(StrEnum):
    CHAMPIONS = "CHAMPIONS"
    LOYAL = "LOYAL"
    POTENTIAL_LOYALIST = "POTENTIAL_LOYALIST"
    NEW_CUSTOMERS = "NEW_CUSTOMERS"
    PROMISING = "PROMISING"
    NEED_ATTENTION = "NEED_ATTENTION"
    ABOUT_TO_SLEEP = "ABOUT_TO_SLEEP"
    AT_RISK = "AT_RISK"
    CANT_LOSE_THEM = "CANT_LOSE_THEM"
    HIBERNATING = "HIBERNATING"
    LOST = "LOST"


SEGMENT_TITLES = {
    RfmSegment.CHAMPIONS: "Champions",
    RfmSegment.LOYAL: "Loyal",
    RfmSegment.POTENTIAL_LOYALIST: "Potential Loyalist",
    RfmSegment.NEW_CUSTOMERS: "New Customers",
    RfmSegment.PROMISING: "Promising",
    RfmSegment.NEED_ATTENTION: "Need Attention",
    RfmSegment.ABOUT_TO_SLEEP: "About to Sleep",
    RfmSegment.AT_RISK: "At Risk",
    RfmSegment.CANT_LOSE_THEM: "Can't Lose Them",
    RfmSegment.HIBERNATING: "Hibernating",
    RfmSegment.LOST: "Lost",
}

# (R low, R high, FM low, FM high): the 25 cells of R x FM, each in exactly one segment
# (tests/rfm/test_model.py checks the partition). FM = fm_score(F, M).
# fmt: off
SEGMENT_CELLS: dict[RfmSegment, tuple[int, int, int, int]] = {
    RfmSegment.CHAMPIONS:          (5, 5, 4, 5),
    RfmSegment.LOYAL:              (3, 4, 4, 5),
    RfmSegment.POTENTIAL_LOYALIST: (4, 5, 2, 3),
    RfmSegment.NEW_CUSTOMERS:      (5, 5, 1, 1),
    RfmSegment.PROMISING:          (4, 4, 1, 1),
    RfmSegment.NEED_ATTENTION:     (3, 3, 3, 3),
    RfmSegment.ABOUT_TO_SLEEP:     (3, 3, 1, 2),
    RfmSegment.AT_RISK:            (1, 2, 3, 4),
    RfmSegment.CANT_LOSE_THEM:     (1, 2, 5, 5),
    RfmSegment.HIBERNATING:        (2, 2, 1, 2),
    RfmSegment.LOST:               (1, 1, 1, 2),
}
# fmt: on


def fm_score(frequency: int, monetary: int) -> int:
    """The combined frequency-monetary score: their mean, halves rounded up."""
    return (frequency + monetary + 1) // 2


def segment_of(recency: int, frequency: int, monetary: int) -> RfmSegment:
    fm = fm_score(frequency, monetary)
    for segment, (r_low, r_high, fm_low, fm_high) in SEGMENT_CELLS.items():
        if r_low <= recency <= r_high and fm_low <= fm <= fm_high:
            return segment
    raise AssertionError(f"no segment for R={recency} FM={fm}")  # the cells cover 5 x 5

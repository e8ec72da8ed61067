"""RFM conditions: the person's RFM scores in ranges, or their named RFM segment
(docs/rfm.md): `{"rfm": {"recency": {"min": 4}, "frequency": {"min": 4, "max": 5}}}`,
`{"rfm": {"segments": ["CHAMPIONS", "LOYAL"]}}`.

Scores are relative to every purchaser of the workspace; the compiler gets their edges
in `CompileContext.rfm` (loaded by app/segments/context.py, app/rfm/service.py) and
compares the person's own purchases, read live, with them. A person with no purchase
(in the settings' window, up to now) has no scores and matches no rfm condition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.rfm import sql as rfm_sql
from app.rfm.model import Metric, RfmModel, RfmSegment
from app.segments.compiler_events import EventSet, events_select, grouped, person_events
from app.segments.compiler_summaries import summary_rows
from app.segments.compiler_values import FALSE, CompileError, bind_datetime
from app.segments.conditions.base import (
    NO_DEPENDENCIES,
    AddedEvents,
    ConditionKind,
    Dependencies,
    Direction,
    Observation,
    RowScope,
    SetPart,
    SetScope,
)
from app.segments.conditions.reader import DefinitionReader
from app.segments.input_reader import INVALID, REQUIRED, Path

METRICS = ("recency", "frequency", "monetary")


@dataclass(frozen=True)
class ScoreRange:
    low: int = 1
    high: int = 5


@dataclass(frozen=True)
class RfmCondition:
    """Named segments (any of them), or score ranges (all of them): one or the other."""

    segments: tuple[RfmSegment, ...] = ()
    recency: ScoreRange | None = None
    frequency: ScoreRange | None = None
    monetary: ScoreRange | None = None

    def ranges(self) -> list[tuple[Metric, ScoreRange]]:
        found = [(Metric.RECENCY, self.recency), (Metric.FREQUENCY, self.frequency)]
        found.append((Metric.MONETARY, self.monetary))
        return [(m, r) for m, r in found if r is not None]


class RfmKind(ConditionKind[RfmCondition]):
    key = "rfm"
    node = RfmCondition

    def affected_by(self, node: RfmCondition) -> Dependencies:
        """Nothing the change detector can follow per person: a score is a rank among
        every purchaser, moved by anyone's purchase and by each passing day. Entries and
        exits of segments using rfm are recorded at baselines and definition changes
        only (docs/changes.md, "Limits")."""
        return NO_DEPENDENCIES

    def direction(self, node: RfmCondition, added: AddedEvents) -> Direction:
        """Either way, whatever the names: a score is a rank, and it moves as the person's
        own purchases do in any direction (more recent, more frequent, a refund's value),
        besides everyone else's. Beside an event condition in a segment, the segment is
        re-checked both ways on its events, as it was before directions existed."""
        return Direction.EITHER

    def encode(self, node: RfmCondition) -> dict[str, Any]:
        if node.segments:
            return {"segments": [s.value for s in node.segments]}
        return {m.value: {"min": r.low, "max": r.high} for m, r in node.ranges()}

    def decode(self, body: Mapping[str, Any]) -> RfmCondition:
        ranges = {
            name: ScoreRange(int(body[name]["min"]), int(body[name]["max"]))
            for name in METRICS
            if body.get(name) is not None
        }
        segments = tuple(RfmSegment(s) for s in body.get("segments") or ())
        return RfmCondition(segments, **ranges)

    def parse(self, reader: DefinitionReader, body: Any, path: Path) -> RfmCondition | None:
        mark = len(reader.errors)
        if not reader.object(body, path, "An rfm condition", ("segments", *METRICS)):
            return None
        ranges = {
            name: _range(reader, body[name], (*path, name))
            for name in METRICS
            if body.get(name) is not None
        }
        segments: list[RfmSegment | None] = []
        if body.get("segments") is not None:
            seg_path = (*path, "segments")
            items = reader.sized_list(body["segments"], seg_path, "segments", len(RfmSegment))
            for i, item in enumerate(items):
                segments.append(reader.member(RfmSegment, item, (*seg_path, i), "An RFM segment"))
        if bool(ranges) == bool(body.get("segments") is not None):
            message = (
                "An rfm condition takes named segments or score ranges, not both."
                if ranges
                else "An rfm condition needs segments, or a score range (recency, frequency,"
                " monetary)."
            )
            reader.error(path, message, INVALID if ranges else REQUIRED)
        if reader.failed_since(mark):
            return None
        chosen = tuple(dict.fromkeys(s for s in segments if s is not None))
        return RfmCondition(chosen, **{k: v for k, v in ranges.items() if v is not None})

    def row(self, node: RfmCondition, scope: RowScope) -> str:
        model = _model(scope.rfm)
        filters = rfm_sql.purchase_filters(model.settings, scope.params, scope.now)
        source = person_events(scope.alias, filters)
        test = _test(node, model, rfm_sql.EVENTS, scope)
        return f"EXISTS (SELECT 1 {source} GROUP BY e.person_id HAVING {test})"

    def row_only(self, node: RfmCondition, referenced_row_only: Callable[[int], bool]) -> bool:
        return False

    def id_set(self, node: RfmCondition, negated: bool, scope: SetScope) -> SetPart:
        model = _model(scope.rfm)
        params, now = scope.params, scope.now
        if not rfm_sql.summarised(model.settings, scope.summaries):
            filters = rfm_sql.purchase_filters(model.settings, params, now)
            select = events_select(scope.ws, filters, scope.bounds)
            test = _test(node, model, rfm_sql.EVENTS, scope)
            return EventSet(grouped(select, test), not negated, distinct=True)
        # one summary row per purchaser with a purchase up to now (a row dated ahead
        # probes its events: rfm_sql.summary_source)
        at = bind_datetime(params, now)
        test = _test(node, model, rfm_sql.summary_source(at), scope)
        names = (model.settings.purchase_event,)
        members = summary_rows(
            scope.ws, names, params, scope.bounds, [f"s.first_at <= {at}", f"({test})"]
        )
        return EventSet(members, not negated, distinct=True)

    def observation(self, node: RfmCondition) -> Observation | None:
        return None  # Person.rfm shows the scores themselves


RFM = RfmKind()


def uses_rfm(roots: Iterable[Any]) -> bool:
    """Whether any of these trees has an rfm condition (groups walked, not references:
    the caller passes the referenced definitions too)."""
    stack = list(roots)
    while stack:
        node = stack.pop()
        if isinstance(node, RfmCondition):
            return True
        stack.extend(getattr(node, "conditions", ()))
    return False


def _range(reader: DefinitionReader, raw: Any, path: Path) -> ScoreRange | None:
    if not reader.object(raw, path, "A score range", ("min", "max")):
        return None
    low = 1 if raw.get("min") is None else reader.whole(raw["min"], (*path, "min"), "min", 5)
    high = 5 if raw.get("max") is None else reader.whole(raw["max"], (*path, "max"), "max", 5)
    if low is None or high is None:
        return None
    if low < 1:
        reader.error((*path, "min"), "Scores are 1 to 5: min must be at least 1.")
    elif high < 1:
        reader.error((*path, "max"), "Scores are 1 to 5: max must be at least 1.")
    elif low > high:
        reader.error(path, "min must not be more than max.")
    else:
        return ScoreRange(low, high)
    return None


def _model(model: RfmModel | None) -> RfmModel:
    if model is None:
        raise CompileError("an rfm condition needs the workspace's RFM model in the context")
    return model


def _test(node: RfmCondition, model: RfmModel, source: rfm_sql.Source, scope: Any) -> str:
    """The condition over the person's purchases as `source` gives them."""
    edges, params, now = model.edges, scope.params, scope.now
    if node.segments:
        return rfm_sql.segments_test(node.segments, edges, source, params, now)
    if any(rfm_sql.range_known(m, r.low, r.high, edges) is False for m, r in node.ranges()):
        return FALSE  # decided before binding: no unused parameters
    tests = [
        rfm_sql.in_range(metric, r.low, r.high, edges, source, params, now)
        for metric, r in node.ranges()
    ]
    return " AND ".join(f"({t})" for t in tests)

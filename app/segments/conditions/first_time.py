"""firstTime conditions: when the person first did one of `names` (up to now), in a
window or compared with an instant: "first purchase more than 90 days ago" is
`{"firstTime": {"names": ["purchase"], "window": {"moreThanDaysAgo": 90}}}`.

The shared stages are app/segments/conditions/timed.py; this module is the kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.segments.conditions.timed import TimedCondition, TimedKind


@dataclass(frozen=True)
class FirstTimeCondition(TimedCondition):
    """The earliest of the person's events named one of `names`, at or before now."""


class FirstTimeKind(TimedKind[FirstTimeCondition]):
    key = "firstTime"
    node = FirstTimeCondition
    fn = "min"
    what = "A firstTime condition"


FIRST_TIME = FirstTimeKind()

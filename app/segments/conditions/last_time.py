"""lastTime conditions: when the person last did one of `names` (up to now), in a
window or compared with an instant: "last opened within 7 days" is
`{"lastTime": {"names": ["email_opened"], "window": {"lastDays": 7}}}`.

The shared stages are app/segments/conditions/timed.py; this module is the kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.segments.conditions.timed import TimedCondition, TimedKind


@dataclass(frozen=True)
class LastTimeCondition(TimedCondition):
    """The latest of the person's events named one of `names`, at or before now."""


class LastTimeKind(TimedKind[LastTimeCondition]):
    key = "lastTime"
    node = LastTimeCondition
    fn = "max"
    what = "A lastTime condition"


LAST_TIME = LastTimeKind()

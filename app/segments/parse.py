"""Client input (the FilterGroupInput shape, camelCase) -> a validated filter AST.

Every problem is collected with its path relative to the root group, so a marketer's UI
can mark all of them at once. The input may be hostile: nesting stops at the depth
limit and counting stops at the size limits, so cost stays bounded whatever arrives.
Pure: no I/O; segment ids are only decoded here, the service checks they exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.errors import ErrorCode, UserInputError
from app.ids import decode_id
from app.segments.ast import (
    COMPARISONS,
    Aggregate,
    AggregateCondition,
    AttributeCondition,
    Between,
    Condition,
    Count,
    EventCondition,
    FieldCondition,
    Group,
    LastDays,
    LastHours,
    Match,
    MoreThanDaysAgo,
    Op,
    PersonAttribute,
    PropertyFilter,
    Scalar,
    SegmentCondition,
    TagCondition,
    ValueTest,
    Window,
)
from app.segments.input_reader import (
    EXAMPLE_MOMENT,
    MAX_STRING,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE,
    InputReader,
    Path,
    is_set,
    kind_of,
    listing,
    show,
)

MAX_DEPTH = 8
MAX_CONDITIONS = 200
MAX_PROPERTY_FILTERS = 200
MAX_VALUES = 1_000
MAX_NAMES = 1_000
MAX_DAYS = 36_500
MAX_COUNT = 2**31 - 1  # GraphQL Int
STATUSES = ("SUBSCRIBED", "UNSUBSCRIBED", "BOUNCED", "COMPLAINED")
CONDITION_KINDS = ("group", "tag", "field", "attribute", "event", "aggregate", "segment")
WINDOW_UNITS = {
    "lastDays": (LastDays, MAX_DAYS),
    "lastHours": (LastHours, MAX_DAYS * 24),
    "moreThanDaysAgo": (MoreThanDaysAgo, MAX_DAYS),
}
WINDOW_KINDS = (*WINDOW_UNITS, "between")
TEST_KEYS = ("op", "value", "values")
NO_NULL = "Null is not a value to compare with; use EXISTS or NOT_EXISTS to test for a missing one."

STRING_OPS = frozenset({Op.CONTAINS, Op.NOT_CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH})
ORDER_OPS = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE})
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})
PRESENCE_OPS = frozenset({Op.EXISTS, Op.NOT_EXISTS})
DAY_OPS = frozenset({Op.WITHIN_LAST_DAYS, Op.MORE_THAN_DAYS_AGO})
BOOLEAN_OPS = frozenset({Op.EQ, Op.NEQ, Op.IN, Op.NOT_IN})
SCALAR_OPS = frozenset(Op) - DAY_OPS  # fields, properties and the string attributes
CREATED_AT_OPS = ORDER_OPS | DAY_OPS | PRESENCE_OPS

# Checks one operand: (op, raw operand, its path, what is compared) -> the normalised operand.
Operand = Callable[[Op, Any, Path, str], Scalar]


def parse_definition(raw: Mapping[str, Any]) -> Group:
    """The validated tree for a FilterGroupInput dict, or UserInputError with every problem."""
    parser = _Parser()
    root = parser.group(raw, (), depth=1)
    if parser.errors or root is None:
        raise UserInputError(parser.errors)
    return root


def parse_window(raw: Mapping[str, Any] | None) -> Window | None:
    """A WindowInput on its own (analytics), validated like one inside a definition."""
    if raw is None:
        return None
    parser = _Parser()
    window = parser.window(raw, ())
    if parser.errors:
        raise UserInputError(parser.errors)
    return window


class _Parser(InputReader):
    """One pass over the input; errors accumulate in `errors`, the counters bound the work.

    Each node method records what is wrong and returns None when anything below it failed
    (`failed_since(mark)`), so a half-valid node is never built.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conditions = 0
        self.property_filters = 0
        self.over_limit = False

    # ------------------------------------------------------------------ groups

    def group(self, raw: Any, path: Path, depth: int) -> Group | None:
        mark = len(self.errors)
        if not self.object(raw, path, "A group", ("match", "conditions")):
            return None
        match = self.member(Match, raw.get("match"), (*path, "match"), "The match", Match.ALL)
        items, items_path = raw.get("conditions"), (*path, "conditions")
        if not isinstance(items, list | tuple | None):
            self.error(items_path, f"The conditions must be a list, not {kind_of(items)}.", TYPE)
            return None
        if not items:
            self.error(items_path, "A group needs at least one condition.", REQUIRED)
            return None
        conditions = []
        for index, item in enumerate(items):
            if self.over_limit:
                break
            conditions.append(self.condition(item, (*items_path, index), depth))
        if self.failed_since(mark) or match is None:
            return None
        return Group(match, tuple(conditions))

    def condition(self, raw: Any, path: Path, depth: int) -> Condition | None:
        """One ConditionInput of a group at `depth`; counts towards the definition's size."""
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            self.over_limit = True
            message = f"Too many conditions: at most {MAX_CONDITIONS} in all, groups included."
            self.error(path, message, TOO_MANY)
            return None
        if not self.object(raw, path, "A condition", CONDITION_KINDS):
            return None
        kind = self.one_of(raw, path, "A condition", CONDITION_KINDS)
        if kind is None:
            return None
        body, body_path = raw[kind], (*path, kind)
        if kind != "group":
            parse_body: Callable[[Any, Path], Condition | None] = getattr(self, f"{kind}_condition")
            return parse_body(body, body_path)
        if depth >= MAX_DEPTH:
            message = f"Groups are nested too deeply: at most {MAX_DEPTH} levels, root included."
            self.error(body_path, message, ErrorCode.TOO_DEEP)
            return None
        return self.group(body, body_path, depth + 1)

    # ------------------------------------------------------------------ person conditions

    def tag_condition(self, body: Any, path: Path) -> TagCondition | None:
        mark = len(self.errors)
        if not self.object(body, path, "A tag condition", ("tag", "has")):
            return None
        tag = self.text(body.get("tag"), (*path, "tag"), "The tag")
        has = self.flag(body.get("has"), (*path, "has"), "The value of has")
        return None if self.failed_since(mark) else TagCondition(tag, has)

    def field_condition(self, body: Any, path: Path) -> FieldCondition | None:
        mark = len(self.errors)
        if not self.object(body, path, "A field condition", ("key", *TEST_KEYS)):
            return None
        key = self.key(body.get("key"), (*path, "key"), "The field key")
        test = self.value_test(body, path, SCALAR_OPS, self.scalar_operand, "a custom field")
        return None if self.failed_since(mark) else FieldCondition(key, test)

    def attribute_condition(self, body: Any, path: Path) -> AttributeCondition | None:
        mark = len(self.errors)
        if not self.object(body, path, "An attribute condition", ("attribute", *TEST_KEYS)):
            return None
        attribute = self.member(
            PersonAttribute, body.get("attribute"), (*path, "attribute"), "The attribute"
        )
        if attribute is None:
            return None
        ops, operand = SCALAR_OPS, self.string_operand
        if attribute is PersonAttribute.STATUS:
            ops, operand = BOOLEAN_OPS, self.status_operand
        elif attribute is PersonAttribute.CREATED_AT:
            ops, operand = CREATED_AT_OPS, self.created_at_operand
        test = self.value_test(body, path, ops, operand, attribute.value)
        return None if self.failed_since(mark) else AttributeCondition(attribute, test)

    def segment_condition(self, body: Any, path: Path) -> SegmentCondition | None:
        mark = len(self.errors)
        if not self.object(body, path, "A segment condition", ("id", "member")):
            return None
        raw_id = self.text(body.get("id"), (*path, "id"), "The segment id")
        segment_id = decode_id("Segment", raw_id) if raw_id is not None else None
        if raw_id is not None and segment_id is None:
            message = f"No segment has the id {show(raw_id)}."
            self.error((*path, "id"), message, ErrorCode.NOT_FOUND)
        member = self.flag(body.get("member"), (*path, "member"), "The value of member")
        return None if self.failed_since(mark) else SegmentCondition(segment_id, member)

    # ------------------------------------------------------------------ value tests

    def value_test(
        self, body: Mapping[str, Any], path: Path, allowed: frozenset[Op], operand: Operand, on: str
    ) -> ValueTest | None:
        """`op` with `value` or `values` as SPEC rule 5 pairs them, each operand checked."""
        op = self.operator(body.get("op"), (*path, "op"), allowed, on)
        if op is None:
            return None
        mark = len(self.errors)
        wanted = () if op in PRESENCE_OPS else ("values",) if op in LIST_OPS else ("value",)
        for key in ("value", "values"):
            if is_set(body, key) and key not in wanted:
                takes = f"takes {wanted[0]}, not {key}" if wanted else "takes no value"
                self.error((*path, key), f"{op} {takes}.")
        if not wanted:
            return None if self.failed_since(mark) else ValueTest(op)
        key, key_path = wanted[0], (*path, wanted[0])
        if not is_set(body, key):
            if not self.failed_since(mark):
                needs = (
                    "a non-empty list in values"
                    if key == "values"
                    else f"a value ({NO_NULL[0].lower()}{NO_NULL[1:-1]})"
                )
                self.error(key_path, f"{op} needs {needs}", REQUIRED)
            return None
        if key == "value":
            value = operand(op, body["value"], key_path, on)
            return None if self.failed_since(mark) else ValueTest(op, value=value)
        items = self.sized_list(body["values"], key_path, "values", MAX_VALUES)
        values = tuple(operand(op, item, (*key_path, i), on) for i, item in enumerate(items))
        return None if self.failed_since(mark) else ValueTest(op, values=values)

    def scalar_operand(self, op: Op, raw: Any, path: Path, on: str) -> Scalar:
        """Fields and event properties: any JSON scalar that makes sense with `op`."""
        if raw is None:
            self.error(path, NO_NULL)
        elif isinstance(raw, bool):
            if op not in BOOLEAN_OPS:
                message = f"{op} cannot compare booleans; they go with EQ, NEQ, IN and NOT_IN."
                self.error(path, message, TYPE)
        elif isinstance(raw, int | float):
            if op in STRING_OPS:
                self.error(path, f"{op} needs a string, not a number.", TYPE)
            else:
                self.number(raw, path, "The value")
        elif isinstance(raw, str):
            self.string_operand(op, raw, path, on)
        else:
            message = f"The value must be a string, number or boolean, not {kind_of(raw)}."
            self.error(path, message, TYPE)
        return raw

    def string_operand(self, op: Op, raw: Any, path: Path, on: str) -> Scalar:
        if raw is None:
            self.error(path, NO_NULL)
        elif not isinstance(raw, str):
            self.error(path, f"{on} compares with strings, not {kind_of(raw)}.", TYPE)
        elif len(raw) > MAX_STRING:
            self.error(path, f"The value is longer than {MAX_STRING} characters.", TOO_LONG)
        return raw

    def status_operand(self, op: Op, raw: Any, path: Path, on: str) -> Scalar:
        mark = len(self.errors)
        self.string_operand(op, raw, path, on)
        if self.failed_since(mark):
            return None
        if raw.upper() not in STATUSES:
            self.error(
                path, f"The status {show(raw)} does not exist; use one of {listing(STATUSES)}."
            )
        return raw.upper()

    def created_at_operand(self, op: Op, raw: Any, path: Path, on: str) -> Scalar:
        if op in DAY_OPS:
            return self.whole(raw, path, f"The number of days for {op}", MAX_DAYS)
        if not isinstance(raw, str):
            self.error(path, f"{on} compares with {EXAMPLE_MOMENT}, not {kind_of(raw)}.", TYPE)
            return None
        moment = self.moment(raw, path, "The date and time")
        return moment.isoformat() if moment is not None else None

    # ------------------------------------------------------------------ events

    def event_condition(self, body: Any, path: Path) -> EventCondition | None:
        mark = len(self.errors)
        if not self.object(body, path, "An event condition", ("names", "count", "window", "where")):
            return None
        names_path = (*path, "names")
        items = self.sized_list(body.get("names"), names_path, "event names", MAX_NAMES)
        names = tuple(self.text(n, (*names_path, i), "An event name") for i, n in enumerate(items))
        count = self.count(body.get("count"), (*path, "count"))
        window = self.window(body.get("window"), (*path, "window"))
        where = self.where(body.get("where"), (*path, "where"))
        return None if self.failed_since(mark) else EventCondition(names, count, window, where)

    def count(self, raw: Any, path: Path) -> Count:
        if raw is None or not self.object(raw, path, "The count", ("op", "value")):
            return Count()
        op = self.operator(raw.get("op"), (*path, "op"), COMPARISONS, "a count", Op.GTE)
        value = raw.get("value", 1)
        value = 1 if value is None else self.whole(value, (*path, "value"), "The count", MAX_COUNT)
        return Count(op or Op.GTE, value or 0)

    def window(self, raw: Any, path: Path) -> Window | None:
        if raw is None or not self.object(raw, path, "A window", WINDOW_KINDS):
            return None
        kind = self.one_of(raw, path, "A window", WINDOW_KINDS)
        if kind is None:
            return None
        body, body_path = raw[kind], (*path, kind)
        if kind in WINDOW_UNITS:
            node, high = WINDOW_UNITS[kind]
            amount = self.whole(body, body_path, f"The value of {kind}", high)
            return None if amount is None else node(amount)
        if not self.object(body, body_path, "The between range", ("from", "to")):
            return None
        start = self.moment(body.get("from"), (*body_path, "from"), "The start (from)")
        end = self.moment(body.get("to"), (*body_path, "to"), "The end (to)")
        if start is None or end is None:
            return None
        if start > end:
            self.error(body_path, "The start (from) must not be after the end (to).")
            return None
        return Between(start, end)

    def where(self, raw: Any, path: Path) -> tuple[PropertyFilter | None, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list | tuple):
            self.error(
                path,
                f"The where filters must be a list of property filters, not {kind_of(raw)}.",
                TYPE,
            )
            return ()
        filters = []
        for index, item in enumerate(raw):
            self.property_filters += 1
            if self.property_filters > MAX_PROPERTY_FILTERS:
                message = f"Too many property filters: at most {MAX_PROPERTY_FILTERS} in all."
                self.error((*path, index), message, TOO_MANY)
                self.over_limit = True
                break
            filters.append(self.property_filter(item, (*path, index)))
        return tuple(filters)

    def property_filter(self, body: Any, path: Path) -> PropertyFilter | None:
        mark = len(self.errors)
        if not self.object(body, path, "A property filter", ("key", *TEST_KEYS)):
            return None
        key = self.key(body.get("key"), (*path, "key"), "The property key")
        test = self.value_test(body, path, SCALAR_OPS, self.scalar_operand, "an event property")
        return None if self.failed_since(mark) else PropertyFilter(key, test)

    def aggregate_condition(self, body: Any, path: Path) -> AggregateCondition | None:
        mark = len(self.errors)
        keys = ("name", "fn", "property", "op", "value", "window")
        if not self.object(body, path, "An aggregate condition", keys):
            return None
        name = self.text(body.get("name"), (*path, "name"), "The event name")
        fn = self.member(Aggregate, body.get("fn"), (*path, "fn"), "The aggregate function (fn)")
        prop = body.get("property")
        if prop is not None:
            prop = self.key(prop, (*path, "property"), "The property")
            if fn is Aggregate.COUNT:
                message = "COUNT counts events and takes no property (SUM, AVG, MIN, MAX do)."
                self.error((*path, "property"), message)
        op = self.operator(body.get("op"), (*path, "op"), COMPARISONS, "an aggregate")
        value = self.number(body.get("value"), (*path, "value"), "The value")
        window = self.window(body.get("window"), (*path, "window"))
        if self.failed_since(mark):
            return None
        return AggregateCondition(name, fn, op, value, prop, window)

"""Person-attribute conditions: the allow-listed columns of `people` (SPEC rule 6).

Text attributes (email, country, ...) follow the string rules of value tests; `STATUS`
compares with the four statuses; `CREATED_AT` with moments and day counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from app.segments.compiler_values import (
    COMPARE_SQL,
    FALSE,
    TRUE,
    CompileError,
    bind_datetime,
    is_number,
    negate_sql,
    split_negation,
    string_test,
)
from app.segments.conditions.base import PersonRowKind, RowScope
from app.segments.conditions.reader import (
    BOOLEAN_OPS,
    DAY_OPS,
    MAX_DAYS,
    ORDER_OPS,
    PRESENCE_OPS,
    SCALAR_OPS,
    TEST_KEYS,
    DefinitionReader,
    Operand,
)
from app.segments.input_reader import EXAMPLE_MOMENT, TYPE, Path, kind_of, listing, show
from app.segments.terms import (
    Op,
    PersonAttribute,
    Scalar,
    ValueTest,
    value_test_from,
    value_test_json,
)
from app.sql import SqlParams, bind_list

STATUSES = ("SUBSCRIBED", "UNSUBSCRIBED", "BOUNCED", "COMPLAINED")
CREATED_AT_OPS = ORDER_OPS | DAY_OPS | PRESENCE_OPS

# The allow-list: attribute -> column of `people`. Nothing else is ever named.
ATTRIBUTE_COLUMNS: dict[PersonAttribute, str] = {
    PersonAttribute.EMAIL: "email",
    PersonAttribute.STATUS: "status",
    PersonAttribute.CREATED_AT: "created_at",
    PersonAttribute.COUNTRY: "country",
    PersonAttribute.REGION: "region",
    PersonAttribute.CITY: "city",
    PersonAttribute.TIMEZONE: "timezone",
}


@dataclass(frozen=True)
class AttributeCondition:
    attribute: PersonAttribute
    test: ValueTest


class AttributeKind(PersonRowKind[AttributeCondition]):
    key = "attribute"
    node = AttributeCondition

    def encode(self, node: AttributeCondition) -> dict[str, Any]:
        return {"attribute": node.attribute.value, **value_test_json(node.test)}

    def decode(self, body: Mapping[str, Any]) -> AttributeCondition:
        return AttributeCondition(PersonAttribute(body["attribute"]), value_test_from(body))

    def parse(self, reader: DefinitionReader, body: Any, path: Path) -> AttributeCondition | None:
        mark = len(reader.errors)
        if not reader.object(body, path, "An attribute condition", ("attribute", *TEST_KEYS)):
            return None
        attribute = reader.member(
            PersonAttribute, body.get("attribute"), (*path, "attribute"), "The attribute"
        )
        if attribute is None:
            return None
        ops, operand = _operands(reader, attribute)
        test = reader.value_test(body, path, ops, operand, attribute.value)
        if reader.failed_since(mark) or test is None:
            return None
        return AttributeCondition(attribute, test)

    def row(self, node: AttributeCondition, scope: RowScope) -> str:
        return attribute_test(node.attribute, node.test, scope.params, scope.alias, scope.now)


ATTRIBUTE = AttributeKind()


# ---------------------------------------------------------------------- input


def _operands(
    reader: DefinitionReader, attribute: PersonAttribute
) -> tuple[frozenset[Op], Operand]:
    """The operators an attribute takes, and the check of one operand."""
    if attribute is PersonAttribute.STATUS:
        return BOOLEAN_OPS, partial(_status_operand, reader)
    if attribute is PersonAttribute.CREATED_AT:
        return CREATED_AT_OPS, partial(_created_at_operand, reader)
    return SCALAR_OPS, reader.string_operand


def _status_operand(reader: DefinitionReader, op: Op, raw: Any, path: Path, on: str) -> Scalar:
    mark = len(reader.errors)
    reader.string_operand(op, raw, path, on)
    if reader.failed_since(mark):
        return None
    if raw.upper() not in STATUSES:
        reader.error(
            path, f"The status {show(raw)} does not exist; use one of {listing(STATUSES)}."
        )
    return str(raw.upper())


def _created_at_operand(reader: DefinitionReader, op: Op, raw: Any, path: Path, on: str) -> Scalar:
    if op in DAY_OPS:
        return reader.whole(raw, path, f"The number of days for {op}", MAX_DAYS)
    if not isinstance(raw, str):
        reader.error(path, f"{on} compares with {EXAMPLE_MOMENT}, not {kind_of(raw)}.", TYPE)
        return None
    moment = reader.moment(raw, path, "The date and time")
    return moment.isoformat() if moment is not None else None


# ---------------------------------------------------------------------- SQL


def attribute_test(
    attribute: PersonAttribute, test: ValueTest, params: SqlParams, alias: str, now: datetime
) -> str:
    """A person attribute: nullable text columns with the string rules, or `created_at`."""
    column = f"{alias}.{ATTRIBUTE_COLUMNS[attribute]}"
    op, negated = split_negation(test.op)
    if attribute is PersonAttribute.CREATED_AT:
        positive = _created_at_test(column, op, test, params, now)
    else:
        positive = _text_column_test(column, op, test, params)
    return negate_sql(positive, negated)


def _text_column_test(column: str, op: Op, test: ValueTest, params: SqlParams) -> str:
    # `present AND test` is two-valued (FALSE AND NULL is FALSE) and, unlike a CASE,
    # lets PostgreSQL use an index on sieve_lower(column) (people_workspace_country_ci;
    # people_workspace_country_ci_id for pages, in id order)
    present = f"{column} IS NOT NULL"
    if op is Op.EXISTS:
        return present
    if op is Op.IN:
        strings = sorted({v.lower() for v in test.values or () if isinstance(v, str)})
        if not strings:
            return FALSE
        return f"({present} AND sieve_lower({column}) {bind_list(params, strings, 'text')})"
    if not isinstance(test.value, str):
        return FALSE  # a number or boolean never equals a text attribute (rule 3)
    comparison = string_test(column, op, test.value, params)
    return present if comparison == TRUE else f"({present} AND {comparison})"


def parse_datetime(value: Scalar) -> datetime:
    if not isinstance(value, str):
        raise CompileError("CREATED_AT compares with an ISO-8601 datetime")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _created_at_test(column: str, op: Op, test: ValueTest, params: SqlParams, now: datetime) -> str:
    if op is Op.EXISTS:
        return TRUE  # created_at is NOT NULL
    if op is Op.WITHIN_LAST_DAYS:
        since = now - timedelta(days=_days(test.value))
        return f"({column} >= {bind_datetime(params, since)} AND {column} <= {bind_datetime(params, now)})"
    if op is Op.MORE_THAN_DAYS_AGO:
        return f"{column} < {bind_datetime(params, now - timedelta(days=_days(test.value)))}"
    if op is Op.IN:
        moments = [parse_datetime(v) for v in test.values or ()]
        if not moments:
            return FALSE
        return "(" + " OR ".join(f"{column} = {bind_datetime(params, m)}" for m in moments) + ")"
    if op in COMPARE_SQL:
        return f"{column} {COMPARE_SQL[op]} {bind_datetime(params, parse_datetime(test.value))}"
    raise CompileError(f"{op} does not apply to CREATED_AT")


def _days(value: Scalar) -> int:
    if not is_number(value):
        raise CompileError("a number of days is needed")
    return int(value)

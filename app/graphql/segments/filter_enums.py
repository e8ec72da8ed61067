"""The enums of the filter language, registered with GraphQL once for the inputs
(app/graphql/segments/filters.py) and the output types (filter_outputs.py) alike.

The Python enums are the tree's own (app/segments/ast.py, app/rfm/model.py); the aliases
below are the names the GraphQL modules annotate with.
"""

from __future__ import annotations

from app.graphql.enums import graphql_enum
from app.rfm.model import SEGMENT_CELLS, SEGMENT_TITLES, RfmSegment
from app.segments.ast import Aggregate as AggregateEnum
from app.segments.ast import Match, Op, PersonAttribute

graphql_enum(
    Match,
    name="GroupMatch",
    description="AND, OR, NOT-OR of the conditions.",
    values={
        Match.ALL: "People matching every condition.",
        Match.ANY: "People matching at least one condition.",
        Match.NONE: "People matching none of the conditions.",
    },
)
GroupMatch = Match
graphql_enum(
    Op,
    name="FilterOp",
    description="How a value is compared. Strings compare case-insensitively except GT, GTE,"
    " LT and LTE (by code point); a value of another JSON type never matches a positive"
    " operator, and each NOT_/NEQ form is the exact complement of its positive one.",
    values={
        Op.EQ: "Equal to `value`.",
        Op.NEQ: "Not EQ (also true when the value is missing).",
        Op.GT: "Greater than `value`.",
        Op.GTE: "Greater than or equal to `value`.",
        Op.LT: "Less than `value`.",
        Op.LTE: "Less than or equal to `value`.",
        Op.CONTAINS: "A string containing `value` (% and _ are literal).",
        Op.NOT_CONTAINS: "Not CONTAINS.",
        Op.STARTS_WITH: "A string starting with `value`.",
        Op.ENDS_WITH: "A string ending with `value`.",
        Op.IN: "Equal to one of `values`.",
        Op.NOT_IN: "Not IN.",
        Op.EXISTS: "Present and not null; takes no value.",
        Op.NOT_EXISTS: "Not EXISTS.",
        Op.WITHIN_LAST_DAYS: "A datetime from `value` days ago until now (CREATED_AT).",
        Op.MORE_THAN_DAYS_AGO: "A datetime before `value` days ago (CREATED_AT).",
    },
)
FilterOp = Op
graphql_enum(
    PersonAttribute,
    name="PersonAttribute",
    description="A built-in attribute of a person that an attribute filter can test.",
    values={
        PersonAttribute.EMAIL: "The email address (lower-cased).",
        PersonAttribute.STATUS: "The status: SUBSCRIBED, UNSUBSCRIBED, BOUNCED or COMPLAINED.",
        PersonAttribute.CREATED_AT: "When the person was first recorded.",
        PersonAttribute.COUNTRY: "ISO 3166-1 alpha-2 country code.",
        PersonAttribute.REGION: "Region or state.",
        PersonAttribute.CITY: "City.",
        PersonAttribute.TIMEZONE: "IANA time zone name.",
    },
)
PersonAttributeEnum = PersonAttribute
graphql_enum(
    AggregateEnum,
    name="Aggregate",
    description="How an aggregate condition combines the values of a person's events.",
    values={
        AggregateEnum.SUM: "The sum of the values (0 for no events).",
        AggregateEnum.AVG: "The mean of the values (none for no events).",
        AggregateEnum.MIN: "The least value (none for no events).",
        AggregateEnum.MAX: "The greatest value (none for no events).",
        AggregateEnum.COUNT: "How many events (values are not needed).",
    },
)
Aggregate = AggregateEnum

graphql_enum(
    RfmSegment,
    name="RfmSegment",
    description="The named RFM segments, each a set of R x FM score cells (docs/rfm.md).",
    values={
        segment: f"{SEGMENT_TITLES[segment]}: recency score {r_low}-{r_high},"
        f" FM score {fm_low}-{fm_high}."
        for segment, (r_low, r_high, fm_low, fm_high) in SEGMENT_CELLS.items()
    },
)
RfmSegmentEnum = RfmSegment

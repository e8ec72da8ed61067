"""The root schema: only merges the domain Query and Mutation types."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from app.graphql.analytics.queries import AnalyticsQuery
from app.graphql.broadcasts.mutations import BroadcastMutation
from app.graphql.broadcasts.queries import BroadcastQuery
from app.graphql.broadcasts.subscriptions import BroadcastSubscription
from app.graphql.errors import should_mask
from app.graphql.flows.mutations import FlowMutation
from app.graphql.flows.queries import FlowQuery
from app.graphql.frequency.mutations import FrequencyMutation
from app.graphql.frequency.queries import FrequencyQuery
from app.graphql.people.mutations import PeopleMutation
from app.graphql.people.queries import PeopleQuery
from app.graphql.scalars import SCALAR_OVERRIDES
from app.graphql.segments.mutations import SegmentMutation
from app.graphql.segments.queries import SegmentQuery
from app.graphql.senders.mutations import SenderMutation
from app.graphql.senders.queries import SenderQuery
from app.graphql.suppression.mutations import SuppressionMutation
from app.graphql.suppression.queries import SuppressionQuery

Query = merge_types(
    "Query",
    (
        PeopleQuery,
        SegmentQuery,
        AnalyticsQuery,
        BroadcastQuery,
        FlowQuery,
        SuppressionQuery,
        SenderQuery,
        FrequencyQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        PeopleMutation,
        SegmentMutation,
        BroadcastMutation,
        FlowMutation,
        SuppressionMutation,
        SenderMutation,
        FrequencyMutation,
    ),
)
Subscription = merge_types("Subscription", (BroadcastSubscription,))

# The limits' validation rules are built once, so every request validates with the same
# rule tuple and ValidationCache can reuse the verdict for a document it has seen:
# parsing and validating a small query cost more than resolving it (docs/performance.md).
_LIMITS = [
    *QueryDepthLimiter(max_depth=12).validation_rules,
    *MaxAliasesLimiter(max_alias_count=60).validation_rules,
]

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    scalar_overrides=SCALAR_OVERRIDES,
    config=StrawberryConfig(),
    extensions=[
        lambda: MaskErrors(should_mask_error=should_mask),
        lambda: AddValidationRules(_LIMITS),
        lambda: MaxTokensLimiter(max_token_count=20_000),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
    ],
)

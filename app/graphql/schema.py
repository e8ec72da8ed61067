"""The root schema: only merges the domain Query and Mutation types."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLInputObjectType
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types.base import get_object_definition

from app import settings as app_settings
from app.graphql.admin.mutations import AdminMutation
from app.graphql.admin.queries import AdminQuery
from app.graphql.admin.workspace import WorkspaceQuery
from app.graphql.analytics.queries import AnalyticsQuery
from app.graphql.broadcasts.mutations import BroadcastMutation
from app.graphql.broadcasts.preview import EmailPreviewQuery
from app.graphql.broadcasts.queries import BroadcastQuery
from app.graphql.broadcasts.subscriptions import BroadcastSubscription
from app.graphql.catalog.queries import CatalogQuery
from app.graphql.changes.webhooks import SegmentWebhookMutation, SegmentWebhookQuery
from app.graphql.errors import should_mask
from app.graphql.extensions import ErrorCodes, FilterNulls, PricedValidation
from app.graphql.flows.mutations import FlowMutation
from app.graphql.flows.queries import FlowQuery
from app.graphql.frequency.mutations import FrequencyMutation
from app.graphql.frequency.queries import FrequencyQuery
from app.graphql.imports.queries import ImportQuery
from app.graphql.lists import ListExecutor
from app.graphql.observability import ObservedSchema, OperationObserver, tracing_extensions
from app.graphql.people.mutations import PeopleMutation
from app.graphql.people.queries import PeopleQuery
from app.graphql.rfm.mutations import RfmMutation
from app.graphql.rfm.queries import RfmQuery
from app.graphql.scalars import SCALAR_OVERRIDES
from app.graphql.segments.mutations import SegmentMutation
from app.graphql.segments.queries import SegmentQuery
from app.graphql.senders.mutations import SenderMutation
from app.graphql.senders.queries import SenderQuery
from app.graphql.suppression.mutations import SuppressionMutation
from app.graphql.suppression.queries import SuppressionQuery
from app.graphql.text_guard import RefuseUnstorableArguments
from app.graphql.webhooks.mutations import WebhookMutation
from app.graphql.webhooks.queries import WebhookQuery
from app.settings import settings

Query = merge_types(
    "Query",
    (
        PeopleQuery,
        SegmentQuery,
        AnalyticsQuery,
        BroadcastQuery,
        EmailPreviewQuery,
        FlowQuery,
        AdminQuery,
        WorkspaceQuery,
        SuppressionQuery,
        SenderQuery,
        FrequencyQuery,
        SegmentWebhookQuery,
        ImportQuery,
        CatalogQuery,
        RfmQuery,
        WebhookQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        PeopleMutation,
        SegmentMutation,
        BroadcastMutation,
        FlowMutation,
        AdminMutation,
        SuppressionMutation,
        SenderMutation,
        FrequencyMutation,
        WebhookMutation,
        RfmMutation,
        SegmentWebhookMutation,
    ),
)
Subscription = merge_types("Subscription", (BroadcastSubscription,))

# merge_types takes no description: the roots get theirs here
for _root, _description in (
    (Query, "Reads, all within the API key's workspace and answered as of now."),
    (Mutation, "Writes; expected refusals come back as the payload's userErrors."),
    (Subscription, "Live updates over a WebSocket on /graphql."),
):
    get_object_definition(_root, strict=True).description = _description

# The limits' validation rules are built once, so every request validates with the same
# rule tuple and ValidationCache can reuse the verdict for a document it has seen:
# parsing and validating a small query cost more than resolving it (docs/performance.md).
_LIMITS = [
    *QueryDepthLimiter(max_depth=12).validation_rules,
    *MaxAliasesLimiter(max_alias_count=60).validation_rules,
]

schema = ObservedSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    scalar_overrides=SCALAR_OVERRIDES,
    config=StrawberryConfig(),
    # long lists of plain objects (member pages) completed by recipe: app/graphql/lists.py
    execution_context_class=ListExecutor,
    # ErrorCodes first: extensions leave in reverse order, so it sees the masked errors
    extensions=[
        ErrorCodes,
        lambda: MaskErrors(should_mask_error=should_mask),
        lambda: AddValidationRules(_LIMITS),
        lambda: MaxTokensLimiter(max_token_count=20_000),
        lambda: ParserCache(maxsize=512),
        FilterNulls,
        lambda: PricedValidation(
            app_settings.settings.max_query_cost, app_settings.settings.max_page, maxsize=512
        ),
        RefuseUnstorableArguments,
        OperationObserver,  # after MaskErrors: it sees the errors unmasked
        *tracing_extensions(settings.tracing_enabled),
    ],
)


def _as_is(value: dict[str, Any]) -> dict[str, Any]:
    return value


# Two members of a @oneOf filter input (or a null one), sent in variables, are left to the
# filter parser, which names the offending node's path: a userError in createSegment and
# updateSegment, `extensions.path` in queries. Strawberry's coercion refused them first,
# with no path and as a top-level error. (In a literal, document validation still refuses
# them; ErrorCodes adds the path.) The SDL keeps @oneOf: the contract is unchanged.
for _one_of in ("ConditionInput", "WindowInput"):
    _input = schema._schema.type_map[_one_of]
    assert isinstance(_input, GraphQLInputObjectType)
    # graphql-core declares out_type a method; an instance may override it all the same
    _input.out_type = _as_is  # type: ignore[method-assign]

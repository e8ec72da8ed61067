"""Webhooks for segment entries and exits in GraphQL (docs/changes.md, "Webhooks").

Managing them needs an `admin` key: a webhook sends the workspace's data to a URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.changes import delivery as sending
from app.changes import webhooks as service
from app.changes.outbox import DeliveryEventKind, Topic
from app.errors import ErrorCode, UserInputError
from app.graphql.changes.types import AfterArgument, FirstArgument, SegmentChangeKind
from app.graphql.context import Info
from app.graphql.enums import graphql_enum
from app.graphql.errors import USER_ERRORS, UserError, user_errors
from app.graphql.pagination import Edge, PageInfo, decode_cursor, edges_of, page_size
from app.graphql.permissions import ADMIN
from app.ids import decode_id, encode_id

graphql_enum(
    Topic,
    name="WebhookTopic",
    description="What a webhook subscription receives.",
    values={
        Topic.SEGMENT_CHANGES: "Segment entries and exits (the change log): `changes` in the body.",
        Topic.DELIVERY_EVENTS: "What happened to sent email and its recipients: `events` in the body.",
    },
)
graphql_enum(
    DeliveryEventKind,
    name="DeliveryEventKind",
    description="A delivery event a webhook can receive (docs/changes.md, Delivery events).",
    values={
        DeliveryEventKind.SENT: "The relay accepted the message (SMTP 250).",
        DeliveryEventKind.DELIVERED: "The provider reported the message reached the mailbox.",
        DeliveryEventKind.FAILED: "The message could not be sent, and it was not a bounce.",
        DeliveryEventKind.BOUNCED_HARD: "A permanent bounce (SMTP 5xx or the provider's report).",
        DeliveryEventKind.BOUNCED_SOFT: "A temporary bounce; the SOFT_BOUNCE_LIMIT-th in a row bounces the person.",
        DeliveryEventKind.COMPLAINED: "The recipient reported the message as spam.",
        DeliveryEventKind.OPENED: "The message was opened (its tracking pixel was fetched).",
        DeliveryEventKind.CLICKED: "A tracked link was followed.",
        DeliveryEventKind.UNSUBSCRIBED: "The person became unsubscribed (the unsubscribe page, or setStatus).",
        DeliveryEventKind.SKIPPED: (
            "A broadcast or flow send not attempted: when its turn came the person was"
            " unsubscribed, bounced, complained or on the suppression list (detail.reason)."
        ),
        DeliveryEventKind.CAPPED: (
            "A broadcast delivery held back by the frequency cap (detail: the cap); resendCapped"
            " may send it later, and then SENT etc. follow for the same sendId."
        ),
    },
)


@strawberry.type(
    description="One POST of a batch of changes or delivery events, with its attempts."
)
class SegmentWebhookDelivery:
    id: strawberry.ID = strawberry.field(description="Opaque; sent as Sieve-Delivery-Id.")
    status: str = strawberry.field(description="PENDING, DELIVERED or FAILED.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    topic: Topic = strawberry.field(
        description="What the batch carries: changes or delivery events."
    )
    change_count: int = strawberry.field(
        description="Changes in the batch (0 for delivery events)."
    )
    first_change_id: strawberry.ID | None = strawberry.field(
        description="The batch's first change; null for delivery events."
    )
    last_change_id: strawberry.ID | None = strawberry.field(
        description="The batch's last change; null for delivery events."
    )
    event_count: int = strawberry.field(description="Delivery events in the batch (0 for changes).")
    first_event_id: strawberry.ID | None = strawberry.field(
        description="The batch's first delivery event; null for changes."
    )
    last_event_id: strawberry.ID | None = strawberry.field(
        description="The batch's last delivery event; null for changes."
    )
    next_attempt_at: datetime = strawberry.field(description="When it is (re)tried next.")
    last_status_code: int | None = strawberry.field(description="The last HTTP status seen.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed.")
    replay_of: strawberry.ID | None = strawberry.field(description="The delivery it replays.")
    created_at: datetime = strawberry.field(description="When the batch was cut.")
    delivered_at: datetime | None = strawberry.field(description="When it was accepted.")

    @classmethod
    def of(cls, d: sending.Delivery) -> SegmentWebhookDelivery:
        changes = d.topic == Topic.SEGMENT_CHANGES.value
        kind = "SegmentChange" if changes else "DeliveryEvent"
        first, last = (
            strawberry.ID(encode_id(kind, d.first_change_id)),
            strawberry.ID(encode_id(kind, d.last_change_id)),
        )
        return cls(
            id=strawberry.ID(encode_id("WebhookDelivery", d.id)),
            status=d.status,
            attempts=d.attempts,
            topic=Topic(d.topic),
            change_count=d.change_count if changes else 0,
            first_change_id=first if changes else None,
            last_change_id=last if changes else None,
            event_count=0 if changes else d.change_count,
            first_event_id=None if changes else first,
            last_event_id=None if changes else last,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            replay_of=None
            if d.replay_of is None
            else strawberry.ID(encode_id("WebhookDelivery", d.replay_of)),
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )


@strawberry.type(description="Deliveries, oldest first.")
class SegmentWebhookDeliveryConnection:
    edges: list[Edge[SegmentWebhookDelivery]] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")


@strawberry.type(
    description="A subscription to a segment's (or every segment's) entries and exits,"
    " and/or to delivery events."
)
class SegmentWebhook:
    id: strawberry.ID = strawberry.field(description="Opaque; sent as Sieve-Webhook-Id.")
    url: str = strawberry.field(description="Where batches are POSTed.")
    segment_id: strawberry.ID | None = strawberry.field(description="The segment; null: all.")
    kinds: list[SegmentChangeKind] = strawberry.field(
        description="Which changes it receives (empty without the SEGMENT_CHANGES topic)."
    )
    created_at: datetime = strawberry.field(description="When it was made.")
    topics: list[Topic] = strawberry.field(description="What it receives.")
    delivery_event_kinds: list[DeliveryEventKind] | None = strawberry.field(
        description="Which delivery events it receives; null: every kind (or not subscribed)."
    )
    broadcast_id: strawberry.ID | None = strawberry.field(
        description="Only this broadcast's delivery events; null: any."
    )
    flow_id: strawberry.ID | None = strawberry.field(
        description="Only this flow's delivery events; null: any."
    )
    pk: strawberry.Private[int]
    workspace_id: strawberry.Private[int]

    @classmethod
    def of(cls, hook: service.Webhook) -> SegmentWebhook:
        return cls(
            id=strawberry.ID(encode_id("Webhook", hook.id)),
            url=hook.url,
            segment_id=None
            if hook.segment_id is None
            else strawberry.ID(encode_id("Segment", hook.segment_id)),
            kinds=[SegmentChangeKind(k) for k in hook.kinds],
            created_at=hook.created_at,
            topics=[Topic(t) for t in hook.topics],
            delivery_event_kinds=None
            if hook.event_kinds is None
            else [DeliveryEventKind(k) for k in hook.event_kinds],
            broadcast_id=None
            if hook.broadcast_id is None
            else strawberry.ID(encode_id("Broadcast", hook.broadcast_id)),
            flow_id=None
            if hook.flow_id is None
            else strawberry.ID(encode_id("Flow", hook.flow_id)),
            pk=hook.id,
            workspace_id=hook.workspace_id,
        )

    @strawberry.field(description="The delivery log, oldest first.")
    async def deliveries(
        self,
        status: Annotated[
            str | None, strawberry.argument(description="PENDING, DELIVERED or FAILED.")
        ] = None,
        first: FirstArgument = 100,
        after: AfterArgument = None,
    ) -> SegmentWebhookDeliveryConnection:
        size = page_size(first)
        rows = await sending.deliveries(
            self.workspace_id, self.pk, status=status, after_id=decode_cursor(after), limit=size + 1
        )
        edges, info = edges_of(rows, size, SegmentWebhookDelivery.of, lambda d: d.id)
        return SegmentWebhookDeliveryConnection(edges=edges, page_info=info)


@strawberry.input(
    description="Subscribe a URL to segment entries and exits and/or delivery events."
)
class CreateSegmentWebhookInput:
    url: str = strawberry.field(description="An http(s) URL that accepts POSTed JSON.")
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this segment's changes; omit for every segment."
    )
    kinds: list[SegmentChangeKind] | None = strawberry.field(
        default=None, description="ENTERED, EXITED or both (the default)."
    )
    topics: list[Topic] | None = strawberry.field(
        default=None,
        description="What it receives; default [SEGMENT_CHANGES]. segmentId and kinds need"
        " SEGMENT_CHANGES; deliveryEventKinds, broadcastId and flowId need DELIVERY_EVENTS.",
    )
    delivery_event_kinds: list[DeliveryEventKind] | None = strawberry.field(
        default=None, description="Only these delivery events; omit for every kind."
    )
    broadcast_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this broadcast's delivery events (not with flowId)."
    )
    flow_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this flow's delivery events (not with broadcastId)."
    )


@strawberry.type(description="The new webhook and its signing secret (shown only here).")
class CreateSegmentWebhookPayload:
    webhook: SegmentWebhook | None = strawberry.field(description="Null when refused.")
    secret: str | None = strawberry.field(description="The HMAC-SHA256 key that signs deliveries.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The deleted webhook's id.")
class DeleteSegmentWebhookPayload:
    deleted_webhook_id: strawberry.ID | None = strawberry.field(description="Null when refused.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The new delivery queued by a replay.")
class ReplayWebhookDeliveryPayload:
    delivery: SegmentWebhookDelivery | None = strawberry.field(description="Null when refused.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


WebhookIdArgument = Annotated[strawberry.ID, strawberry.argument(description="The webhook.")]
DeliveryIdArgument = Annotated[strawberry.ID, strawberry.argument(description="The delivery.")]


def _pk(kind: str, value: str, path: str) -> int:
    pk = decode_id(kind, value)
    if pk is None:
        raise UserInputError.single((path,), f"Not a {kind} ID.", ErrorCode.NOT_FOUND)
    return pk


def _filters(input: CreateSegmentWebhookInput) -> service.Filters:
    return service.Filters(
        topics=tuple(t.value for t in input.topics)
        if input.topics is not None
        else (Topic.SEGMENT_CHANGES.value,),
        event_kinds=None
        if input.delivery_event_kinds is None
        else tuple(k.value for k in input.delivery_event_kinds),
        broadcast_id=None
        if input.broadcast_id is None
        else _pk("Broadcast", input.broadcast_id, "broadcastId"),
        flow_id=None if input.flow_id is None else _pk("Flow", input.flow_id, "flowId"),
    )


@strawberry.type
class SegmentWebhookQuery:
    @strawberry.field(permission_classes=ADMIN, description="The workspace's segment webhooks.")
    async def segment_webhooks(self, info: Info) -> list[SegmentWebhook]:
        return [SegmentWebhook.of(h) for h in await service.webhooks(info.context.workspace)]


@strawberry.type
class SegmentWebhookMutation:
    @strawberry.mutation(
        permission_classes=ADMIN,
        description="Subscribe a URL to entries and exits and/or delivery events.",
    )
    async def create_segment_webhook(
        self,
        info: Info,
        input: Annotated[
            CreateSegmentWebhookInput, strawberry.argument(description="The URL and what it gets.")
        ],
    ) -> CreateSegmentWebhookPayload:
        try:
            segment = (
                None if input.segment_id is None else _pk("Segment", input.segment_id, "segmentId")
            )
            kinds = [str(k.value) for k in input.kinds] if input.kinds is not None else None
            hook = await service.create_webhook(
                info.context.workspace, input.url, segment, kinds, _filters(input)
            )
        except UserInputError as exc:
            return CreateSegmentWebhookPayload(
                webhook=None, secret=None, user_errors=user_errors(exc.errors)
            )
        return CreateSegmentWebhookPayload(
            webhook=SegmentWebhook.of(hook), secret=hook.secret, user_errors=[]
        )

    @strawberry.mutation(permission_classes=ADMIN, description="Stop and remove a webhook.")
    async def delete_segment_webhook(
        self, info: Info, id: WebhookIdArgument
    ) -> DeleteSegmentWebhookPayload:
        try:
            if not await service.delete_webhook(info.context.workspace, _pk("Webhook", id, "id")):
                raise UserInputError.single(("id",), "No such webhook.", ErrorCode.NOT_FOUND)
        except UserInputError as exc:
            return DeleteSegmentWebhookPayload(
                deleted_webhook_id=None, user_errors=user_errors(exc.errors)
            )
        return DeleteSegmentWebhookPayload(deleted_webhook_id=id, user_errors=[])

    @strawberry.mutation(
        permission_classes=ADMIN,
        description="Send a delivery's changes again, as a new delivery at the end of the queue.",
    )
    async def replay_webhook_delivery(
        self, info: Info, id: DeliveryIdArgument
    ) -> ReplayWebhookDeliveryPayload:
        try:
            made = await sending.replay(info.context.workspace, _pk("WebhookDelivery", id, "id"))
        except UserInputError as exc:
            return ReplayWebhookDeliveryPayload(delivery=None, user_errors=user_errors(exc.errors))
        return ReplayWebhookDeliveryPayload(
            delivery=SegmentWebhookDelivery.of(made), user_errors=[]
        )

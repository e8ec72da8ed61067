"""Broadcast.report: a thin type over app/broadcasts/report.py (computed live, never stored)."""

from __future__ import annotations

from datetime import timedelta

import strawberry

from app.broadcasts import models
from app.broadcasts import report as domain
from app.errors import ErrorCode
from app.graphql.errors import ClientError


@strawberry.type(description="Clicks on one URL of the message.")
class LinkClicks:
    url: str = strawberry.field(description="The link as written in the template.")
    clicks: int = strawberry.field(description="Every recorded click (repeats folded per minute).")
    unique_clicks: int = strawberry.field(description="People who clicked it.")
    human_clicks: int = strawberry.field(description="Of those, people not flagged `machine`.")


@strawberry.type(
    description="What one broadcast did, computed from its deliveries and events as they are"
    " now (docs/broadcasts.md, Reports). Rates are null when their denominator is 0."
)
class BroadcastReport:
    report: strawberry.Private[domain.BroadcastReport]

    @strawberry.field(description="Recipients resolved when sending started.")
    def audience(self) -> int:
        return self.report.audience

    @strawberry.field(description="Accepted by the recipient's server.")
    def sent(self) -> int:
        return self.report.sent

    @strawberry.field(description="Sent and not bounced back afterwards (webhooks).")
    def delivered(self) -> int:
        return self.report.delivered

    @strawberry.field(description="Refused (bounces included) or failed to render.")
    def failed(self) -> int:
        return self.report.failed

    @strawberry.field(description="No longer subscribed (or suppressed) when their turn came.")
    def skipped(self) -> int:
        return self.report.skipped

    @strawberry.field(description="In flight when a worker died: maybe delivered.")
    def unknown(self) -> int:
        return self.report.unknown

    @strawberry.field(description="Not attempted (yet, or ever after a cancel or failure).")
    def pending(self) -> int:
        return self.report.pending

    @strawberry.field(description="Deliveries with an `email_bounced` event: hard plus soft.")
    def bounced(self) -> int:
        return self.report.bounced

    @strawberry.field(description="Permanent refusals (5xx, or too many soft bounces).")
    def hard_bounced(self) -> int:
        return self.report.hard_bounced

    @strawberry.field(description="Temporary refusals until the retry deadline.")
    def soft_bounced(self) -> int:
        return self.report.soft_bounced

    @strawberry.field(description="Recipients who are COMPLAINED now, changed since their send.")
    def complained(self) -> int:
        return self.report.complained

    @strawberry.field(description="Recipients UNSUBSCRIBED now, changed since their send.")
    def unsubscribed(self) -> int:
        return self.report.unsubscribed

    @strawberry.field(description="People with an `email_opened` event of this broadcast.")
    def unique_opens(self) -> int:
        return self.report.opens.people

    @strawberry.field(description="Of those, people with an open not flagged `machine`.")
    def unique_human_opens(self) -> int:
        return self.report.opens.humans

    @strawberry.field(description="`email_opened` events (repeats folded per minute).")
    def opens(self) -> int:
        return self.report.opens.events

    @strawberry.field(description="People with an `email_clicked` event of this broadcast.")
    def unique_clicks(self) -> int:
        return self.report.clicks.people

    @strawberry.field(description="Of those, people with a click not flagged `machine`.")
    def unique_human_clicks(self) -> int:
        return self.report.clicks.humans

    @strawberry.field(description="`email_clicked` events (repeats folded per minute).")
    def clicks(self) -> int:
        return self.report.clicks.events

    @strawberry.field(description="uniqueOpens / delivered.")
    def open_rate(self) -> float | None:
        return self.report.rate(self.report.opens.people, self.report.delivered)

    @strawberry.field(description="uniqueHumanOpens / delivered.")
    def human_open_rate(self) -> float | None:
        return self.report.rate(self.report.opens.humans, self.report.delivered)

    @strawberry.field(description="uniqueClicks / delivered.")
    def click_rate(self) -> float | None:
        return self.report.rate(self.report.clicks.people, self.report.delivered)

    @strawberry.field(description="uniqueClicks / uniqueOpens.")
    def click_to_open_rate(self) -> float | None:
        return self.report.rate(self.report.clicks.people, self.report.opens.people)

    @strawberry.field(description="bounced / (sent + failed).")
    def bounce_rate(self) -> float | None:
        return self.report.rate(self.report.bounced, self.report.sent + self.report.failed)

    @strawberry.field(description="unsubscribed / delivered.")
    def unsubscribe_rate(self) -> float | None:
        return self.report.rate(self.report.unsubscribed, self.report.delivered)

    @strawberry.field(description="Clicks per URL, most clicked first.")
    def links(self) -> list[LinkClicks]:
        return [
            LinkClicks(
                url=x.url,
                clicks=x.clicks,
                unique_clicks=x.unique_clicks,
                human_clicks=x.human_clicks,
            )
            for x in self.report.links
        ]

    @strawberry.field(
        description="Sum of `value` of `purchase` events by recipients, from their message"
        " going out to revenueWindowHours after it."
    )
    def revenue(self) -> float:
        return self.report.revenue

    @strawberry.field(description="Those purchase events.")
    def purchases(self) -> int:
        return self.report.purchases

    @strawberry.field(description="People who made them.")
    def purchasers(self) -> int:
        return self.report.purchasers

    @strawberry.field(description="The revenue window used, in hours.")
    def revenue_window_hours(self) -> float:
        return self.report.revenue_window.total_seconds() / 3600


DEFAULT_WINDOW_HOURS = int(domain.DEFAULT_REVENUE_WINDOW.total_seconds() // 3600)
MAX_WINDOW_HOURS = int(domain.MAX_REVENUE_WINDOW.total_seconds() // 3600)


async def report_of(broadcast: models.Broadcast, revenue_window_hours: int) -> BroadcastReport:
    if not 0 < revenue_window_hours <= MAX_WINDOW_HOURS:
        raise ClientError(
            f"revenueWindowHours must be between 1 and {MAX_WINDOW_HOURS}.",
            ErrorCode.INVALID,
            "revenueWindowHours",
        )
    window = timedelta(hours=revenue_window_hours)
    return BroadcastReport(report=await domain.broadcast_report(broadcast, window))

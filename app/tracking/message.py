"""A rendered message made trackable: what compose() calls when a send opted in."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from app.email.templates import Rendered
from app.settings import Settings
from app.tracking.links import instrument
from app.tracking.tokens import Delivery, Source, click_token, open_token


@dataclass(frozen=True)
class Tracking:
    """Which delivery a message is, and what to track in it (both off: nothing changes)."""

    source: Source
    source_id: int
    delivery_id: int
    opens: bool = False
    clicks: bool = False

    @classmethod
    def of_broadcast(cls, broadcast: Any, delivery_id: int) -> Tracking | None:
        """What a broadcast (its `track_opens` / `track_clicks`) opted in to; None: nothing."""
        if not (broadcast.track_opens or broadcast.track_clicks):
            return None
        return cls(
            Source.BROADCAST,
            broadcast.id,
            delivery_id,
            broadcast.track_opens,
            broadcast.track_clicks,
        )

    @property
    def enabled(self) -> bool:
        return self.opens or self.clicks


def pixel_url(config: Settings, token: str) -> str:
    return f"{config.public_url}/t/o/{token}.gif"


def click_url(config: Settings, token: str) -> str:
    return f"{config.public_url}/t/c/{token}"


def track_rendered(
    rendered: Rendered, tracking: Tracking, workspace_id: int, person_id: int, config: Settings
) -> Rendered:
    """The html part with its links through the click redirect and an open pixel, as the
    send opted in; the text part and subject as they were (a text link is not rewritten)."""
    if not tracking.enabled or not rendered.html:
        return rendered
    delivery = Delivery(
        tracking.source,
        tracking.source_id,
        tracking.delivery_id,
        workspace_id,
        person_id,
        int(time.time()),
    )
    secret = config.secret_key
    html = instrument(
        rendered.html,
        click_url=(
            (lambda index, url: click_url(config, click_token(delivery, index, url, secret)))
            if tracking.clicks
            else None
        ),
        pixel_url=pixel_url(config, open_token(delivery, secret)) if tracking.opens else None,
        unsubscribe_prefix=f"{config.public_url}/unsubscribe/",
    )
    return dataclasses.replace(rendered, html=html)

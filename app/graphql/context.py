"""Per-request context: the request, the authenticated workspace, loaders, the arq pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from app import settings as app_settings
from app.people import activity as activities
from app.people import service as people
from app.settings import Settings
from app.tenancy import Principal


@dataclass
class Loaders:
    """One loader per access pattern, created per request (after authentication)."""

    workspace_id: int
    person: DataLoader[int, Any] = field(init=False)
    # (person id, event names) -> that person's activity of those names
    activity: DataLoader[tuple[int, tuple[str, ...]], list[activities.Activity]] = field(init=False)

    def __post_init__(self) -> None:
        self.person = DataLoader(lambda ids: people.people_by_ids(self.workspace_id, list(ids)))
        self.activity = DataLoader(self._activities)

    async def _activities(
        self, keys: list[tuple[int, tuple[str, ...]]]
    ) -> list[list[activities.Activity]]:
        """One statement per distinct list of names (a page asks the same of everyone)."""
        found: dict[tuple[str, ...], dict[int, list[activities.Activity]]] = {}
        for names in dict.fromkeys(names for _, names in keys):
            ids = [pid for pid, asked in keys if asked == names]
            found[names] = await activities.activity_of(self.workspace_id, ids, names)
        return [found[names][pid] for pid, names in keys]


@dataclass
class Context:
    request: Request | WebSocket | None
    arq: Any = None
    # strawberry's sub-response: a status (429) and headers (Retry-After) set by a resolver
    response: Any = None
    settings: Settings = field(default_factory=lambda: app_settings.settings)
    workspace_id: int | None = None
    principal: Principal | None = None  # the key that authenticated (its scope, its id)
    _loaders: Loaders | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the WebSocket `connection_init` payload (strawberry sets it): browsers cannot add
    # headers to a WebSocket handshake, so subscriptions may authenticate here instead
    connection_params: dict[str, Any] | None = None

    @property
    def workspace(self) -> int:
        """The caller's workspace; resolvers run only after IsAuthenticated set it."""
        assert self.workspace_id is not None, "resolver ran without IsAuthenticated"
        return self.workspace_id

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.workspace)
        return self._loaders


Info = StrawberryInfo[Context, None]

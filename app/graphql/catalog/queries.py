"""The catalog query: a thin adapter over app.catalog.service."""

from __future__ import annotations

import strawberry
from strawberry.permission import BasePermission

from app.graphql.catalog.types import Catalog, catalog_of
from app.graphql.context import Info
from app.graphql.permissions import AUTHENTICATED

_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type
class CatalogQuery:
    @strawberry.field(
        permission_classes=_AUTHENTICATED,
        description="The workspace's tags, field keys and event names with counts, for a"
        " segment builder's pickers (docs/imports.md, Catalog).",
    )
    def catalog(self, info: Info) -> Catalog:
        return catalog_of(info)

"""Adding to and removing from the suppression list."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from app.errors import UserInputError
from app.graphql.context import Info
from app.graphql.errors import user_errors
from app.graphql.inputs import to_plain
from app.graphql.permissions import AUTHENTICATED
from app.graphql.suppression.access import may_lift_complaints
from app.graphql.suppression.types import (
    AddSuppressionsPayload,
    RemoveSuppressionsPayload,
    Suppression,
    SuppressionInput,
)
from app.suppression import service

# typed as strawberry expects (a list of the base class)
_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type
class SuppressionMutation:
    @strawberry.mutation(
        permission_classes=_AUTHENTICATED,
        description="Put addresses on the list (reason MANUAL unless given); a SUBSCRIBED"
        " person holding one takes the status the reason says.",
    )
    async def add_suppressions(
        self,
        info: Info,
        suppressions: Annotated[
            list[SuppressionInput],
            strawberry.argument(description="The addresses, at most MAX_BATCH (1,000 by default)."),
        ],
    ) -> AddSuppressionsPayload:
        try:
            # plain_input: each item arrives as the dict the domain takes
            rows, errors = await service.add_suppressions(
                info.context.workspace, to_plain(suppressions)
            )
        except UserInputError as exc:
            return AddSuppressionsPayload(suppressions=[], user_errors=user_errors(exc.errors))
        return AddSuppressionsPayload(
            suppressions=[Suppression.from_row(r) if r else None for r in rows],
            user_errors=user_errors(errors),
        )

    @strawberry.mutation(
        permission_classes=_AUTHENTICATED,
        description="Take addresses off the list (a complaint only with an admin-scoped key)."
        " People keep their status: subscribe them again with upsertPeople and resubscribe.",
    )
    async def remove_suppressions(
        self,
        info: Info,
        emails: Annotated[list[str], strawberry.argument(description="The addresses to take off.")],
    ) -> RemoveSuppressionsPayload:
        try:
            removed, errors = await service.remove_suppressions(
                info.context.workspace, emails, admin=may_lift_complaints(info)
            )
        except UserInputError as exc:
            return RemoveSuppressionsPayload(removed=0, user_errors=user_errors(exc.errors))
        return RemoveSuppressionsPayload(removed=removed, user_errors=user_errors(errors))

"""Rendering unsaved email templates for one person, for a composer's preview."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from app.email.preview import render_preview
from app.errors import ErrorCode, UserInputError
from app.graphql.context import Info
from app.graphql.errors import ClientError, raise_for
from app.graphql.permissions import AUTHENTICATED
from app.graphql.segments.types import person_pk
from app.people.service import get_person

_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type(description="An email as one person would receive it (without tracking).")
class RenderedEmail:
    subject: str = strawberry.field(description="The rendered subject line.")
    html: str = strawberry.field(description="The rendered HTML body (empty when none given).")
    text: str = strawberry.field(description="The rendered plain-text body.")
    error: str | None = strawberry.field(
        description="Why the templates fail for this person (then nothing would be sent)."
    )


@strawberry.type
class EmailPreviewQuery:
    @strawberry.field(
        permission_classes=_AUTHENTICATED,
        description="Render a subject, html and text (Jinja, sandboxed) for one person,"
        " as a send would, without saving anything.",
    )
    async def render_email(
        self,
        info: Info,
        person_id: Annotated[
            strawberry.ID, strawberry.argument(description="The person to render for.")
        ],
        subject: Annotated[str, strawberry.argument(description="The subject template.")],
        html: Annotated[
            str | None, strawberry.argument(description="The HTML body template.")
        ] = None,
        text: Annotated[
            str | None, strawberry.argument(description="The plain-text body template.")
        ] = None,
    ) -> RenderedEmail:
        workspace = info.context.workspace
        person = await get_person(workspace, person_id=person_pk(person_id))
        if person is None:
            raise ClientError("No such person.", ErrorCode.NOT_FOUND, "personId")
        try:
            preview = await render_preview(
                workspace, person, subject, html or "", text or "", info.context.settings
            )
        except UserInputError as exc:
            raise_for(exc)
        return RenderedEmail(
            subject=preview.subject, html=preview.html, text=preview.text, error=preview.error
        )

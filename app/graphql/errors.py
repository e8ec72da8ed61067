"""The one adapter from domain errors to GraphQL: typed `userErrors` in mutation payloads,
GraphQL errors with `extensions.code`/`extensions.path` for queries, and a mask over
everything unexpected so that no stack trace or SQL reaches a client.
"""

from __future__ import annotations

from collections.abc import Iterable

import strawberry
from graphql import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError

from app.errors import ErrorCode as DomainErrorCode
from app.errors import UserError as DomainUserError
from app.errors import UserInputError
from app.settings import settings

ErrorCode = strawberry.enum(DomainErrorCode, name="ErrorCode")


@strawberry.type(description="Something in the input that cannot be applied, and where it is.")
class UserError:
    path: list[str]
    message: str
    code: ErrorCode  # type: ignore[valid-type]


def user_error(error: DomainUserError) -> UserError:
    return UserError(path=[str(p) for p in error.path], message=error.message, code=error.code)


def user_errors(errors: Iterable[DomainUserError], *prefix: str | int) -> list[UserError]:
    return [user_error(e.under(*prefix)) for e in errors]


class ClientError(GraphQLError):
    """A query error the client caused; shown as is, with a code and an input path."""

    def __init__(
        self,
        message: str,
        code: DomainErrorCode = DomainErrorCode.INVALID,
        path: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        extensions: dict[str, str | int] = {"code": code.value}
        if path:
            extensions["path"] = path
        if retry_after is not None:
            extensions["retryAfter"] = retry_after  # seconds
        super().__init__(message, extensions=extensions)


def unavailable(what: str) -> ClientError:
    """An outage is no client error: UNAVAILABLE, with when to try again."""
    seconds = settings.unavailable_retry_seconds
    return ClientError(
        f"{what} Try again in {seconds} s.", DomainErrorCode.UNAVAILABLE, retry_after=seconds
    )


def raise_for(exc: UserInputError, *prefix: str | int) -> None:
    """Queries have no payload: turn the first input error into a ClientError."""
    first = exc.errors[0].under(*prefix)
    detail = "; ".join(f"{e.under(*prefix).dotted_path}: {e.message}" for e in exc.errors)
    raise ClientError(detail, first.code, first.dotted_path) from None


def should_mask(error: GraphQLError) -> bool:
    """Mask anything that is not a GraphQL validation error or one of ours."""
    original = error.original_error
    if original is None or error.path is None:
        # request validation and variable coercion: graphql-core's own messages
        return False
    # permission failures (authentication) are raised by strawberry as GraphQL errors
    return not isinstance(original, ClientError | StrawberryGraphQLError)

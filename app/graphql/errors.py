"""The one adapter from domain errors to GraphQL: typed `userErrors` in mutation payloads,
GraphQL errors with `extensions.code`/`extensions.path` for queries, and a mask over
everything unexpected so that no stack trace or SQL reaches a client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import strawberry
from asyncpg.exceptions import QueryCanceledError
from graphql import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError

from app.errors import ErrorCode as DomainErrorCode
from app.errors import PathPart, UserInputError, format_path
from app.errors import UserError as DomainUserError
from app.graphql.enums import graphql_enum
from app.settings import settings

graphql_enum(
    DomainErrorCode,
    name="ErrorCode",
    description="What kind of problem a userError or a GraphQL error (`extensions.code`) is.",
    values={
        DomainErrorCode.INVALID: "The value is not acceptable here (the message says why).",
        DomainErrorCode.REQUIRED: "A value that must be given is missing or empty.",
        DomainErrorCode.NOT_FOUND: "No such thing in this workspace (or not an ID of its kind).",
        DomainErrorCode.DUPLICATE: "Something with this name or key already exists.",
        DomainErrorCode.TOO_LARGE: "A number or a batch over its limit.",
        DomainErrorCode.TOO_LONG: "A text over its length limit.",
        DomainErrorCode.TOO_DEEP: "A filter or segment-reference chain nested too deeply.",
        DomainErrorCode.TOO_MANY: "More items than allowed (conditions, ids, tags, ...).",
        DomainErrorCode.TYPE_MISMATCH: "A value of the wrong type for the operator or field.",
        DomainErrorCode.UNSUPPORTED_OPERATOR: "The operator does not apply to this kind of value.",
        DomainErrorCode.CYCLE: "Segments that would refer to each other in a loop.",
        DomainErrorCode.IN_USE: "Still used by a segment, broadcast or flow; remove that first.",
        DomainErrorCode.INVALID_STATE: "Not allowed in the thing's current status.",
        DomainErrorCode.TEMPLATE_ERROR: "A template that does not parse or render.",
        DomainErrorCode.EMPTY_AUDIENCE: "A broadcast whose audience has no one to send to.",
        DomainErrorCode.UNAUTHENTICATED: "No API key, or one that is unknown or revoked.",
        DomainErrorCode.FORBIDDEN: "The key's scope does not allow this operation.",
        DomainErrorCode.UNAVAILABLE: "A dependency (Redis) is down: nothing changed; retry.",
        DomainErrorCode.SUPPRESSED: "The address is on the workspace's suppression list.",
        DomainErrorCode.INTERRUPTED: "A job stopped before it finished (the process stopped).",
    },
)
ErrorCode = DomainErrorCode

# every mutation payload's userErrors
USER_ERRORS = "What was refused and where; empty when everything was applied."


@strawberry.type(description="Something in the input that cannot be applied, and where it is.")
class UserError:
    path: list[str] = strawberry.field(
        description="Where in the input: argument, then field names and list indexes,"
        " down to the node of a filter tree."
    )
    message: str = strawberry.field(description="What is wrong, for a person to read.")
    code: ErrorCode = strawberry.field(description="What kind of problem it is.")


def user_error(error: DomainUserError) -> UserError:
    return UserError(path=[str(p) for p in error.path], message=error.message, code=error.code)


def user_errors(errors: Iterable[DomainUserError], *prefix: str | int) -> list[UserError]:
    return [user_error(e.under(*prefix)) for e in errors]


_PATH_PART = re.compile(r"[^.\[\]]+")


def path_parts(dotted: str) -> list[str]:
    """`definition.conditions[0].tag` -> `["definition", "conditions", "0", "tag"]`, the
    form of `userErrors.path`."""
    return _PATH_PART.findall(dotted)


class ClientError(GraphQLError):
    """A query error the client caused; shown as is, with a code and an input path: the
    dotted `extensions.path` and the same as a list in `extensions.inputPath`."""

    def __init__(
        self,
        message: str,
        code: DomainErrorCode | str = DomainErrorCode.INVALID,
        path: str | Sequence[PathPart] | None = None,
        retry_after: int | None = None,
    ) -> None:
        extensions: dict[str, object] = {"code": str(code)}
        if path:
            dotted = path if isinstance(path, str) else format_path(path)
            extensions["path"] = dotted
            extensions["inputPath"] = (
                path_parts(path) if isinstance(path, str) else [str(p) for p in path]
            )
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
    raise ClientError(detail, first.code, first.path) from None


def should_mask(error: GraphQLError) -> bool:
    """Mask anything that is not a GraphQL validation error or one of ours."""
    original = error.original_error
    if original is None or error.path is None:
        # request validation and variable coercion: graphql-core's own messages
        return False
    # permission failures (authentication) are raised by strawberry as GraphQL errors; a
    # statement stopped by statement_timeout is told as a timeout (extensions.with_code)
    return not isinstance(original, ClientError | StrawberryGraphQLError | QueryCanceledError)

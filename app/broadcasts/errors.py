"""How broadcast problems reach a client: the shared codes, with broadcast wording."""

from __future__ import annotations

from app.errors import ErrorCode, UserInputError


def not_found(path: tuple[str, ...] = ("id",)) -> UserInputError:
    return UserInputError.single(path, "No such broadcast.", ErrorCode.NOT_FOUND)


def invalid_state(status: str, action: str, path: tuple[str, ...] = ("id",)) -> UserInputError:
    return UserInputError.single(
        path, f"The broadcast is {status}: it cannot be {action}.", ErrorCode.INVALID_STATE
    )


class QueueUnavailable(RuntimeError):
    """No connection to Redis: a broadcast cannot be handed to the workers."""

"""Flow-specific error messages; codes are the shared `app.errors.ErrorCode`."""

from __future__ import annotations

from app.errors import ErrorCode, UserInputError


def flow_not_found(path: tuple[str, ...] = ("id",)) -> UserInputError:
    return UserInputError.single(path, "No such flow.", ErrorCode.NOT_FOUND)


def flow_not_active(status: str, path: tuple[str, ...] = ("flowId",)) -> UserInputError:
    return UserInputError.single(
        path,
        f"The flow is {status}; only an ACTIVE flow takes enrollments. Nothing was enrolled.",
        ErrorCode.INVALID_STATE,
    )

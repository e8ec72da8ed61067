"""What a key may do. Scopes are ordered: each one allows everything the one below does."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    READ = "read"  # queries and subscriptions
    WRITE = "write"  # and every mutation of the workspace's data
    ADMIN = "admin"  # and managing the workspace's keys

    def allows(self, required: Scope) -> bool:
        return _RANK[self] >= _RANK[required]


_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}

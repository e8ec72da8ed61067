"""Workspaces, API keys, people and events. The tables are created by app/migrations."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields as f
from tortoise.models import Model


class Status(StrEnum):
    SUBSCRIBED = "SUBSCRIBED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    BOUNCED = "BOUNCED"
    COMPLAINED = "COMPLAINED"


class Workspace(Model):
    id = f.BigIntField(primary_key=True)
    name = f.TextField()
    created_at = f.DatetimeField(auto_now_add=True)

    class Meta:
        table = "workspaces"


class ApiKey(Model):
    id = f.BigIntField(primary_key=True)
    workspace: f.ForeignKeyRelation[Workspace] = f.ForeignKeyField(
        "sieve.Workspace", related_name="api_keys", on_delete=f.CASCADE
    )
    workspace_id: int  # the foreign key's column, for type checkers
    name = f.TextField(default="")
    scope = f.CharField(max_length=8, default="write")  # app.keys.scopes.Scope
    prefix = f.TextField()
    key_hash = f.CharField(max_length=128, unique=True)
    created_at = f.DatetimeField(auto_now_add=True)
    last_used_at = f.DatetimeField(null=True)
    revoked_at = f.DatetimeField(null=True)

    class Meta:
        table = "api_keys"


class Person(Model):
    id = f.BigIntField(primary_key=True)
    workspace: f.ForeignKeyRelation[Workspace] = f.ForeignKeyField(
        "sieve.Workspace", related_name="people", on_delete=f.CASCADE
    )
    workspace_id: int  # the foreign key's column, for type checkers
    email = f.TextField()
    status = f.CharEnumField(Status, max_length=16, default=Status.SUBSCRIBED)
    tags: f.JSONField[list[str]] = f.JSONField(default=list)
    fields: f.JSONField[dict[str, Any]] = f.JSONField(default=dict)
    country = f.TextField(null=True)
    region = f.TextField(null=True)
    city = f.TextField(null=True)
    timezone = f.TextField(null=True)
    created_at = f.DatetimeField(auto_now_add=True)
    updated_at = f.DatetimeField(auto_now=True)

    class Meta:
        table = "people"


class Event(Model):
    id = f.BigIntField(primary_key=True)
    workspace: f.ForeignKeyRelation[Workspace] = f.ForeignKeyField(
        "sieve.Workspace", related_name="events", on_delete=f.CASCADE
    )
    workspace_id: int  # the foreign key's column, for type checkers
    person: f.ForeignKeyRelation[Person] = f.ForeignKeyField(
        "sieve.Person", related_name="events", on_delete=f.CASCADE
    )
    name = f.TextField()
    occurred_at = f.DatetimeField()
    value = f.FloatField(null=True)
    properties: f.JSONField[dict[str, Any]] = f.JSONField(default=dict)
    idempotency_key = f.TextField(null=True)
    created_at = f.DatetimeField(auto_now_add=True)

    class Meta:
        table = "events"

"""What `sieve demo` prepares: the README's sample workspace, a bigger generated one, and a
key for each that survives restarts (in the demo's state folder, readable by its owner only).

The sample comes first, so that in an empty database its ids are the README's; the
generated people go to a workspace of their own, where they cannot change a README answer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from app.demo.bulk import load_demo
from app.demo.sample import SAMPLE_WORKSPACE, load_sample
from app.keys.scopes import Scope
from app.keys.service import create_key
from app.people.models import Workspace
from app.tenancy import authenticate, create_workspace

BULK_WORKSPACE = "demo"
KEYS_FILE = "demo-keys.json"


@dataclass(frozen=True)
class DemoWorkspace:
    name: str
    id: int
    key: str
    note: str


def _stored_keys(path: Path) -> dict[str, str]:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return (
        {k: v for k, v in stored.items() if isinstance(v, str)} if isinstance(stored, dict) else {}
    )


def _store_keys(path: Path, keys: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(keys, out, indent=2)


async def _key_for(workspace: Workspace, stored: str | None) -> str:
    """The stored key while it still works for this workspace, else a new admin key."""
    principal = await authenticate(stored)
    if stored is not None and principal is not None and principal.workspace_id == workspace.id:
        return stored
    return (await create_key(workspace.id, name="sieve demo", scope=Scope.ADMIN)).secret


async def _sample() -> tuple[Workspace, str]:
    existing = await Workspace.filter(name=SAMPLE_WORKSPACE).first()
    if existing is not None:
        return existing, "the README's sample, as you left it"
    workspace = await create_workspace(SAMPLE_WORKSPACE)
    made = await load_sample(workspace.id)
    note = "the README's sample, loaded now"
    if made["people"][0] != "per_1" or made["flows"][0] != "flw_1":
        note += (
            f" (this database held other data, so its ids differ from the README's: ada is"
            f" {made['people'][0]}; use a fresh DATABASE_URL for the README's ids)"
        )
    return workspace, note


async def _bulk(people: int) -> tuple[Workspace, str]:
    existing = await Workspace.filter(name=BULK_WORKSPACE).first()
    if existing is not None:
        return existing, "generated people, as you left them"
    workspace = await create_workspace(BULK_WORKSPACE)
    loaded_people, loaded_events = await load_demo(workspace.id, people)
    return workspace, f"{loaded_people} generated people and {loaded_events} events, loaded now"


async def prepare_demo(state_dir: Path, people: int = 3000) -> list[DemoWorkspace]:
    """The two demo workspaces (made once, reused after) and a working key for each."""
    keys_path = state_dir / KEYS_FILE
    stored = _stored_keys(keys_path)
    prepared = []
    for workspace, note in (await _sample(), await _bulk(people)):
        key = await _key_for(workspace, stored.get(workspace.name))
        stored[workspace.name] = key
        prepared.append(DemoWorkspace(workspace.name, workspace.id, key, note))
    _store_keys(keys_path, stored)
    return prepared

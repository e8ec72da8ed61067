"""`sieve import FILE.csv --workspace W`, run as a user would, on SQLite and PostgreSQL:
the same code path as the upload, with a progress bar and an error report file."""

from __future__ import annotations

import asyncio
import csv
import json
import uuid

from app.db import database
from app.people.models import Person
from tests.test_cli import database_url, sieve  # noqa: F401  (the fixture, both databases)


def _people(url: str, workspace_id: int) -> dict[str, Person]:
    async def read() -> dict[str, Person]:
        async with database(url):
            return {p.email: p for p in await Person.filter(workspace_id=workspace_id)}

    return asyncio.run(read())


def test_sieve_import_with_a_mapping_and_an_error_report(database_url, tmp_path):  # noqa: F811
    name = f"Acme {uuid.uuid4().hex[:8]}"
    created = sieve(database_url, "workspace", "create", name)
    assert created.returncode == 0, created.stderr
    workspace_id = int(created.stdout.split()[1])
    source = tmp_path / "list.csv"
    source.write_text(
        "E-mail,Labels,Plan,Seats\n"
        'ada@example.com,"vip;beta",pro,3\n'
        "nobody,vip,free,1\n"
        "grace@example.com,,team,lots\n"
        "linus@example.com,,free,\n",
        encoding="utf-8",
    )
    mapping = {"email": "E-mail", "tags": "Labels", "tagSeparator": ";",
               "fields": {"plan": "Plan", "seats": {"column": "Seats", "type": "number"}}}  # fmt: skip
    report = tmp_path / "errors.csv"
    ran = sieve(database_url, "import", str(source), "--workspace", name,
                "--mapping", json.dumps(mapping), "--errors", str(report))  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "DONE: 4 rows, 2 created, 0 updated, 0 unchanged, 0 skipped, 2 rejected" in ran.stdout
    assert "importing list.csv" in ran.stdout  # the progress bar's label
    with open(report, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert [r[:3] for r in rows] == [["row", "column", "code"], ["3", "E-mail", "INVALID"],
                                     ["4", "Seats", "TYPE_MISMATCH"]]  # fmt: skip
    people = _people(database_url, workspace_id)
    assert sorted(people) == ["ada@example.com", "linus@example.com"]
    assert people["ada@example.com"].tags == ["beta", "vip"]
    assert people["ada@example.com"].fields == {"plan": "pro", "seats": 3}

    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(json.dumps(mapping))
    again = sieve(database_url, "import", str(source), "--workspace", name,
                  "--mapping", f"@{mapping_file}", "--mode", "create-only")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 updated, 0 unchanged, 2 skipped, 2 rejected" in again.stdout


def test_sieve_import_refuses_a_bad_mapping_with_one_line(database_url, tmp_path):  # noqa: F811
    name = f"Acme {uuid.uuid4().hex[:8]}"
    assert sieve(database_url, "workspace", "create", name).returncode == 0
    source = tmp_path / "list.csv"
    source.write_text("Mail\nada@example.com\n", encoding="utf-8")
    ran = sieve(database_url, "import", str(source), "--workspace", name)
    assert ran.returncode == 1
    assert "Map a column to email" in ran.stderr and "Traceback" not in ran.stderr
    bad = sieve(database_url, "import", str(source), "--workspace", name, "--mapping", "{nope")
    assert bad.returncode == 2 and "not JSON" in bad.stderr

"""CSV imports through real multipart HTTP posts to the ASGI app, on SQLite and PostgreSQL:
the upload, the job's progress in GraphQL, the error report, modes, suppression, limits."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from app import settings as app_settings
from app.imports import service
from app.keys.scopes import Scope
from app.people.models import Person, Status
from app.sql import connection
from app.suppression import service as suppression
from app.tenancy import create_api_key

JOB = """
query($id: ID!) {
  importJob(id: $id) {
    id status mode filename bytesTotal rowsTotal rowsProcessed created updated unchanged skipped
    rejected mapping errorsUrl error { code message }
    errors(first: 100) { totalCount edges { node { row column code message } } pageInfo { hasNextPage } }
  }
}"""
JOBS = "query { importJobs(first: 10) { totalCount edges { node { id status } } } }"
PEOPLE_CSV = (
    "Email,Tags,First name,Seats,Country,City,Status\n"
    ' Ada@Example.com ,"VIP, beta",Ada,3,us,San Francisco,\n'
    "not-an-email,vip,Bob,2,,,\n"
    "grace@example.com,beta,Grace,many,FR,,\n"
    "linus@example.com,,Linus,,,Helsinki,UNSUBSCRIBED\n"
    "margaret@example.com,,Margaret,1,,,\n"
)
MAPPING = {
    "email": "Email", "tags": "Tags", "country": "Country", "city": "City", "status": "Status",
    "fields": {"first_name": "First name", "seats": {"column": "Seats", "type": "number"}},
}  # fmt: skip


async def finished_imports() -> None:
    """Wait for every import this process runs in the background (the condition itself)."""
    await asyncio.gather(*list(service._background))


async def upload(
    http_app, key, text: str | bytes, *, mapping=None, mode=None, filename="people.csv"
):
    data = {}
    if mapping is not None:
        data["mapping"] = json.dumps(mapping)
    if mode is not None:
        data["mode"] = mode
    body = text.encode() if isinstance(text, str) else text
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await http_app.post("/imports/people", files={"file": (filename, body, "text/csv")},
                               data=data, headers=headers)  # fmt: skip


async def run_to_end(http_app, gql, text, **options):
    response = await upload(http_app, gql.key, text, **options)
    assert response.status_code == 202, response.text
    await finished_imports()
    return (await gql.ok(JOB, {"id": response.json()["job"]["id"]}))["importJob"]


async def test_an_upload_imports_rows_and_reports_the_bad_ones(http_app, gql, workspace):
    response = await upload(http_app, gql.key, PEOPLE_CSV, mapping=MAPPING)
    assert response.status_code == 202, response.text
    started = response.json()["job"]
    assert started["status"] == "QUEUED" and started["filename"] == "people.csv"
    assert started["bytesTotal"] == len(PEOPLE_CSV.encode())
    await finished_imports()
    job = (await gql.ok(JOB, {"id": started["id"]}))["importJob"]
    assert job["status"] == "DONE", job
    assert (job["rowsTotal"], job["rowsProcessed"], job["created"], job["rejected"]) == (5, 5, 3, 2)
    assert job["error"] is None and job["mapping"]["fields"]["seats"]["type"] == "number"
    errors = [e["node"] for e in job["errors"]["edges"]]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [
        (3, "Email", "INVALID"), (4, "Seats", "TYPE_MISMATCH")]  # fmt: skip
    ada = await Person.get(workspace_id=workspace.id, email="ada@example.com")
    assert ada.tags == ["beta", "vip"] and ada.fields == {"first_name": "Ada", "seats": 3}
    assert (ada.country, ada.city, ada.status) == ("US", "San Francisco", Status.SUBSCRIBED)
    linus = await Person.get(workspace_id=workspace.id, email="linus@example.com")
    assert linus.status == Status.UNSUBSCRIBED and linus.fields == {"first_name": "Linus"}
    # a refused row changed nothing: grace (bad seats) was not created at all
    assert not await Person.filter(email="grace@example.com").exists()
    assert await suppression.suppressed_people(connection(), workspace.id, {linus.id: linus.email})
    report = await http_app.get(job["errorsUrl"], headers={"Authorization": f"Bearer {gql.key}"})
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(report.text))) == [
        ["row", "column", "code", "message"],
        ["3", "Email", "INVALID", errors[0]["message"]],
        ["4", "Seats", "TYPE_MISMATCH", errors[1]["message"]],
    ]
    listed = (await gql.ok(JOBS))["importJobs"]
    assert listed["totalCount"] == 1 and listed["edges"][0]["node"]["id"] == started["id"]


async def test_without_a_mapping_columns_are_matched_by_name(http_app, gql, workspace):
    job = await run_to_end(http_app, gql, "email,TAGS,plan,country\nada@example.com,vip,pro,de\n")
    assert job["status"] == "DONE" and job["created"] == 1
    ada = await Person.get(workspace_id=workspace.id, email="ada@example.com")
    assert (ada.tags, ada.fields, ada.country) == (["vip"], {"plan": "pro"}, "DE")


async def test_update_merges_and_create_only_leaves_people_alone(
    http_app, gql, workspace, make_person
):
    await make_person("ada@example.com", tags=["old"], fields={"plan": "free", "keep": 1})
    await make_person("grace@example.com", fields={"plan": "team"})
    text = "email,tags,plan\nada@example.com,new,pro\ngrace@example.com,,team\nnew@example.com,x,free\n"
    only = await run_to_end(http_app, gql, text, mode="CREATE_ONLY")
    assert (only["mode"], only["created"], only["skipped"], only["updated"]) == (
        "CREATE_ONLY",
        1,
        2,
        0,
    )
    ada = await Person.get(workspace_id=workspace.id, email="ada@example.com")
    assert ada.tags == ["old"] and ada.fields == {"plan": "free", "keep": 1}
    merged = await run_to_end(http_app, gql, text)
    assert (merged["created"], merged["updated"], merged["unchanged"]) == (
        0,
        1,
        2,
    )  # ada; grace, new
    ada = await Person.get(workspace_id=workspace.id, email="ada@example.com")
    assert ada.tags == ["new", "old"] and ada.fields == {"plan": "pro", "keep": 1}


async def test_rows_for_one_email_merge_in_file_order_across_chunks(
    http_app, gql, workspace, monkeypatch
):
    monkeypatch.setattr(
        app_settings, "settings", app_settings.settings.replace(import_chunk_rows=2)
    )
    rows = ["email,tags,plan"] + [f"ada@example.com,t{i},p{i}" for i in range(5)]
    rows += [f"p{i}@example.com,,x" for i in range(4)]
    job = await run_to_end(http_app, gql, "\n".join(rows) + "\n")
    assert (job["rowsProcessed"], job["created"], job["updated"]) == (9, 5, 4)
    ada = await Person.get(workspace_id=workspace.id, email="ada@example.com")
    assert ada.tags == [f"t{i}" for i in range(5)] and ada.fields == {"plan": "p4"}
    assert await Person.filter(workspace_id=workspace.id).count() == 5


async def test_suppressed_addresses_are_never_subscribed_by_an_import(
    http_app, gql, workspace, make_person
):
    await make_person("gone@example.com", status=Status.UNSUBSCRIBED, fields={"plan": "free"})
    await suppression.add_suppressions(workspace.id, [{"email": "listed@example.com"}])
    text = ("email,status,plan\n"
            "gone@example.com,SUBSCRIBED,pro\n"  # unsubscribed: needs consent, refused whole
            "listed@example.com,,pro\n"  # on the list: created with the reason's status
            "fresh@example.com,unsubscribed,pro\n"
            "fresh@example.com,subscribed,team\n")  # fmt: skip
    job = await run_to_end(http_app, gql, text)
    errors = [e["node"] for e in job["errors"]["edges"]]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [
        (2, "status", "SUPPRESSED"), (5, "status", "SUPPRESSED")]  # fmt: skip
    gone = await Person.get(workspace_id=workspace.id, email="gone@example.com")
    assert gone.status == Status.UNSUBSCRIBED and gone.fields == {"plan": "free"}
    listed = await Person.get(workspace_id=workspace.id, email="listed@example.com")
    assert listed.status == Status.UNSUBSCRIBED and listed.fields == {"plan": "pro"}
    fresh = await Person.get(workspace_id=workspace.id, email="fresh@example.com")
    assert fresh.status == Status.UNSUBSCRIBED and fresh.fields == {"plan": "pro"}


async def test_keys_scopes_and_workspaces(http_app, gql, workspace, make_workspace):
    assert (await upload(http_app, None, PEOPLE_CSV)).status_code == 401
    wrong = await upload(http_app, "sk_wrong", PEOPLE_CSV)
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["code"] == "UNAUTHENTICATED"
    reader = await create_api_key(workspace.id, scope=Scope.READ)
    forbidden = await upload(http_app, reader, PEOPLE_CSV)
    assert forbidden.status_code == 403 and forbidden.json()["errors"][0]["code"] == "FORBIDDEN"
    assert await Person.all().count() == 0
    job = await run_to_end(http_app, gql, "email\nada@example.com\n")
    other = await make_workspace("other")
    theirs = await create_api_key(other.id)
    body = await gql(JOB, {"id": job["id"]}, key=theirs)
    assert body["data"]["importJob"] is None
    report = await http_app.get(job["errorsUrl"], headers={"Authorization": f"Bearer {theirs}"})
    assert report.status_code == 404


@pytest.mark.parametrize(
    ("text", "mapping", "status", "code", "path"),
    [
        ("", None, 400, "REQUIRED", "file"),
        ("email,email\na@b.co,c@d.co\n", None, 400, "DUPLICATE", "mapping.header[1]"),
        ("email,first name\n", None, 400, "INVALID", "mapping.fields.first name"),
        ("mail,name\n", None, 400, "REQUIRED", "mapping.email"),
        ("E-mail\n", {"email": "Email"}, 400, "NOT_FOUND", "mapping.email"),
        ("Email,Plan\n", {"email": "Email", "fields": {"1plan": "Plan"}}, 400, "INVALID", "mapping.fields.1plan"),
        ("Email,Plan\n", {"email": "Email", "fields": {"plan": {"column": "Plan", "type": "date"}}},
         400, "INVALID", "mapping.fields.plan.type"),
        ("Email\n", {"email": "Email", "colour": "x"}, 400, "INVALID", "mapping.colour"),
    ],
)  # fmt: skip
async def test_a_bad_header_or_mapping_is_refused_before_any_job(http_app, gql, text, mapping,
                                                                 status, code, path):  # fmt: skip
    response = await upload(http_app, gql.key, text, mapping=mapping)
    assert response.status_code == status, response.text
    assert (response.json()["errors"][0]["code"], response.json()["errors"][0]["path"]) == (
        code,
        path,
    )
    assert (await gql.ok(JOBS))["importJobs"]["totalCount"] == 0


async def test_refusals_of_the_request_itself(http_app, gql):
    auth = {"Authorization": f"Bearer {gql.key}"}
    plain = await http_app.post("/imports/people", content=b"email\n", headers=auth)
    assert plain.status_code == 415 and plain.json()["errors"][0]["code"] == "INVALID"
    no_file = await http_app.post("/imports/people", data={"mode": "CREATE_ONLY"},
                                  files={"other": ("x.csv", b"email\n")}, headers=auth)  # fmt: skip
    assert no_file.status_code == 400 and no_file.json()["errors"][0]["path"] == "other"
    bad_mode = await upload(http_app, gql.key, "email\n", mode="REPLACE")
    assert bad_mode.status_code == 400 and bad_mode.json()["errors"][0]["path"] == "mode"
    bad_json = await http_app.post("/imports/people", data={"mapping": "{not json"},
                                   files={"file": ("x.csv", b"email\n")}, headers=auth)  # fmt: skip
    assert bad_json.status_code == 400 and bad_json.json()["errors"][0]["path"] == "mapping"
    assert (await gql.ok(JOBS))["importJobs"]["totalCount"] == 0


async def test_limits_refuse_the_whole_file_and_write_nothing(http_app, gql, monkeypatch):
    limited = app_settings.settings.replace(
        import_max_bytes=200, import_max_rows=3, import_max_columns=3
    )
    monkeypatch.setattr(app_settings, "settings", limited)
    big = await upload(http_app, gql.key, "email\n" + "a@example.com\n" * 30)
    assert big.status_code == 413 and big.json()["errors"][0]["code"] == "TOO_LARGE"
    wide = await upload(http_app, gql.key, "email,a,b,c\n")
    assert wide.status_code == 400 and wide.json()["errors"][0]["code"] == "TOO_MANY"
    long = await run_to_end(
        http_app, gql, "email\n" + "".join(f"p{i}@example.com\n" for i in range(4))
    )
    assert long["status"] == "FAILED" and long["error"]["code"] == "TOO_LARGE"
    assert long["rowsProcessed"] == 0
    early = await upload(http_app, gql.key, b"email,plan\na@example.com,caf\xe9\n")
    assert early.status_code == 400 and early.json()["errors"][0]["code"] == "INVALID"
    quoted = await run_to_end(http_app, gql, 'email,plan\na@example.com,"unclosed\n')
    assert quoted["status"] == "FAILED" and quoted["error"]["code"] == "INVALID"
    assert await Person.all().count() == 0


async def test_bad_bytes_far_into_the_file_fail_it_before_anything_is_written(http_app, gql):
    rows = "".join(f"person{i}@example.com,pro\n" for i in range(4000))
    broken = await run_to_end(
        http_app, gql, b"email,plan\n" + rows.encode() + b"z@example.com,caf\xe9\n"
    )
    assert broken["status"] == "FAILED" and broken["error"]["code"] == "INVALID"
    assert "UTF-8" in broken["error"]["message"] and broken["rowsProcessed"] == 0
    assert await Person.all().count() == 0


async def test_a_row_wider_than_the_header_is_refused_alone(http_app, gql, workspace):
    job = await run_to_end(http_app, gql, "email,plan\na@example.com,pro,extra\nb@example.com\n")
    errors = [e["node"] for e in job["errors"]["edges"]]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [(2, "", "TOO_MANY")]
    assert await Person.filter(workspace_id=workspace.id).values_list("email", flat=True) == [
        "b@example.com"
    ]


async def test_a_job_whose_process_stopped_reads_as_interrupted(http_app, gql, workspace):
    from app.imports import jobs
    from app.imports.jobs import ImportMode

    job = await jobs.create_job(workspace.id, mode=ImportMode.CREATE_OR_UPDATE, mapping={},
                                filename="x.csv", bytes_total=1, source="api")  # fmt: skip
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    await jobs.update_job(job.id, status="RUNNING", heartbeat_at=long_ago)
    read = (await gql.ok(JOB, {"id": f"imp_{job.id}"}))["importJob"]
    assert read["status"] == "FAILED" and read["error"]["code"] == "INTERRUPTED"


async def test_imports_per_workspace_are_limited(http_app, gql, workspace, monkeypatch):
    from app.imports import jobs
    from app.imports.jobs import ImportMode

    monkeypatch.setattr(
        app_settings, "settings", app_settings.settings.replace(import_max_active=1)
    )
    await jobs.create_job(workspace.id, mode=ImportMode.CREATE_OR_UPDATE, mapping={},
                          filename="x.csv", bytes_total=1, source="api")  # fmt: skip
    busy = await upload(http_app, gql.key, "email\na@example.com\n")
    assert busy.status_code == 429 and busy.json()["errors"][0]["code"] == "TOO_MANY"


async def test_a_shutdown_interrupts_an_import_between_whole_chunks(http_app, gql, workspace, monkeypatch):
    from app.imports import jobs

    monkeypatch.setattr(app_settings, "settings", app_settings.settings.replace(import_chunk_rows=50))
    text = "email,plan\n" + "".join(f"p{i}@example.com,pro\n" for i in range(20_000))
    response = await upload(http_app, gql.key, text)
    job_id = int(response.json()["job"]["id"].removeprefix("imp_"))
    for _ in range(10_000):  # until the first chunks are written (a condition, not a delay)
        job = await jobs.get_job(workspace.id, job_id)
        if job is not None and job.rows_processed > 0:
            break
        await asyncio.sleep(0.01)
    await service.stop_background()  # what the app's lifespan does at shutdown
    job = await jobs.get_job(workspace.id, job_id)
    assert job is not None and job.status.value == "FAILED"
    assert job.error_code is not None and job.error_code.value == "INTERRUPTED"
    assert 0 < job.rows_processed < 20_000 and job.rows_processed % 50 == 0
    # exactly the rows counted were written: whole chunks, none half-applied
    assert await Person.filter(workspace_id=workspace.id).count() == job.created == job.rows_processed


async def test_the_report_keeps_the_first_errors_up_to_the_limit(http_app, gql, monkeypatch):
    limited = app_settings.settings.replace(import_chunk_rows=2, import_max_errors=3)
    monkeypatch.setattr(app_settings, "settings", limited)
    rows = [f"bad{i}" if i % 2 else f"good{i}@example.com" for i in range(12)]
    job = await run_to_end(http_app, gql, "email\n" + "\n".join(rows) + "\n")
    assert (job["rejected"], job["created"], job["errors"]["totalCount"]) == (6, 6, 6)
    assert [e["node"]["row"] for e in job["errors"]["edges"]] == [3, 5, 7]


async def test_a_full_chunk_of_unsubscribes_lists_every_address(http_app, gql, workspace):
    count = app_settings.settings.import_chunk_rows + 10
    text = "email,status\n" + "".join(f"u{i}@example.com,UNSUBSCRIBED\n" for i in range(count))
    job = await run_to_end(http_app, gql, text)
    assert (job["status"], job["created"]) == ("DONE", count)
    assert await suppression.count_suppressions(workspace.id) == count

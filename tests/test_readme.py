"""The README tells the truth: every GraphQL example in it runs, in order, against the
demo's sample workspace (made by `sieve demo`), and answers what is printed under it.

A printed answer is a `# →` comment after an operation: the value of its root field, or
with a name (`# explain →`) the first field of that name in the response. It may run
over the following comment lines. In it, `"..."` stands for any value (times, tokens),
`...` in an object for more fields, and `...` at the end of a list for more items;
anything after the closing bracket is prose.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, OperationType, parse, validate

from app.demo.sample import SAMPLE_WORKSPACE, load_sample
from app.demo.workspaces import prepare_demo
from app.graphql.schema import schema
from app.main import create_app
from app.people.models import Workspace
from tests.factories import GraphQLClient

README = Path(__file__).parents[1] / "README.md"
ANSWER = re.compile(r"^#\s*(?:(\w+)\s+)?→\s?(.*)$")


class _Rest:
    """`...`: more fields, or more items."""


ANY = object()  # "..."
REST = _Rest()


@dataclass
class Example:
    operation: str
    kind: OperationType
    line: int  # in README.md, for the failure message
    label: str | None = None
    expected: Any = None
    printed: str = ""


# --- reading the README ----------------------------------------------------------------


def _balanced_end(text: str) -> int | None:
    """Where the first complete JSON-ish value in text ends, or None if it is not closed."""
    depth, in_string, escaped = 0, False, False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _answer(comment_lines: list[str]) -> tuple[str | None, str] | None:
    """(label, printed JSON) from the comment lines after an operation, if any."""
    for n, line in enumerate(comment_lines):
        found = ANSWER.match(line.strip())
        if not found:
            continue
        text = found.group(2)
        for more in comment_lines[n + 1 :]:
            if _balanced_end(text) is not None:
                break
            text += " " + more.strip().removeprefix("#").strip()
        end = _balanced_end(text)
        assert end is not None, f"unclosed printed answer: {text}"
        return found.group(1), text[:end]
    return None


def readme_examples(markdown: str) -> list[Example]:
    examples = []
    for block in re.finditer(r"```graphql\n(.*?)```", markdown, re.S):
        body, first_line = block.group(1), markdown[: block.start()].count("\n") + 2
        operations = [d for d in parse(body).definitions if isinstance(d, OperationDefinitionNode)]
        for n, op in enumerate(operations):
            assert op.loc is not None
            after = operations[n + 1].loc.start if n + 1 < len(operations) else len(body)  # type: ignore[union-attr]
            example = Example(body[op.loc.start : op.loc.end], op.operation,
                              first_line + body[: op.loc.start].count("\n"))  # fmt: skip
            # the comments between this operation and the next (from the end of its line)
            tail = body[op.loc.end : after].split("\n")
            answer = _answer([t.strip() for t in tail if t.strip().startswith("#")])
            if answer is not None:
                example.label, example.printed = answer
                example.expected = parse_printed(example.printed)
            examples.append(example)
    return examples


def parse_printed(text: str) -> Any:
    value, end = _value(text, 0)
    assert not text[end:].strip(), f"trailing text in {text!r}"
    return value


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\n,":
        i += 1
    return i


def _value(text: str, i: int) -> tuple[Any, int]:
    i = _skip(text, i)
    if text.startswith("...", i):
        return REST, i + 3
    if text[i] == "{":
        out: dict[Any, Any] = {}
        i = _skip(text, i + 1)
        while text[i] != "}":
            key, i = _value(text, i)
            if key is REST:
                out[REST] = True
            else:
                i = _skip(text, i)
                assert text[i] == ":", f"expected ':' at {text[i : i + 20]!r}"
                out[key], i = _value(text, i + 1)
            i = _skip(text, i)
        return out, i + 1
    if text[i] == "[":
        items = []
        i = _skip(text, i + 1)
        while text[i] != "]":
            item, i = _value(text, i)
            items.append(item)
            i = _skip(text, i)
        return items, i + 1
    scalar, end = json.JSONDecoder().raw_decode(text, i)
    return (ANY if scalar == "..." else scalar), end


# --- comparing -------------------------------------------------------------------------


def mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    if expected is ANY:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path or '.'}: expected an object, got {actual!r}"]
        keys = [k for k in expected if k is not REST]
        out = [f"{path}.{k}: missing" for k in keys if k not in actual]
        if REST not in expected:
            out += [f"{path}.{k}: not printed" for k in actual if k not in expected]
        for k in keys:
            if k in actual:
                out += mismatches(expected[k], actual[k], f"{path}.{k}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path or '.'}: expected a list, got {actual!r}"]
        open_ended = bool(expected) and expected[-1] is REST
        items = expected[:-1] if open_ended else expected
        if len(actual) < len(items) or (not open_ended and len(actual) != len(items)):
            return [f"{path}: {len(actual)} items, printed {len(items)}{'+' if open_ended else ''}"]
        return [m for n, e in enumerate(items) for m in mismatches(e, actual[n], f"{path}[{n}]")]
    if expected != actual or type(expected) is bool is not type(actual):
        return [f"{path or '.'}: printed {expected!r}, got {actual!r}"]
    return []


def answered(example: Example, data: dict[str, Any]) -> Any:
    if example.label is None:
        return next(iter(data.values())) if len(data) == 1 else data
    found = _find(data, example.label)
    assert found is not _MISSING, f"no field {example.label} in the response"
    return found


_MISSING = object()


def _find(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        if key in value:
            return value[key]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _find(item, key)
            if found is not _MISSING:
                return found
    return _MISSING


# --- the tests -------------------------------------------------------------------------


def test_the_readme_examples_are_read_as_intended():
    examples = readme_examples(README.read_text())
    assert len(examples) >= 35
    printed = [e for e in examples if e.printed]
    assert len(printed) >= 20
    labels = {e.label for e in printed}
    assert {"explain", "enrollments"} <= labels
    assert parse_printed('{"a": [1, ...], "b": "...", ...}') == {
        "a": [1, REST],
        "b": ANY,
        REST: True,
    }
    assert mismatches(parse_printed('{"a": [1, ...], ...}'), {"a": [1, 2], "c": 3}) == []
    assert mismatches(parse_printed('{"a": [1]}'), {"a": [1, 2]}) == [".a: 2 items, printed 1"]
    assert mismatches(parse_printed('{"a": 1}'), {"a": 1, "b": 2}) == [".b: not printed"]
    assert mismatches(parse_printed('{"a": true}'), {"a": 1}) == [".a: printed True, got 1"]


@pytest.fixture
async def sample_gql(db, arq_redis, tmp_path):
    """A client of the sample workspace as `sieve demo` prepares it (the generated people
    in their own workspace beside it), on an app whose arq pool is the test's queue."""
    prepared = await prepare_demo(tmp_path, people=50)
    assert [w.name for w in prepared] == [SAMPLE_WORKSPACE, "demo"]
    app = create_app()
    app.state.arq = arq_redis
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield GraphQLClient(client, prepared[0].key)


async def test_every_readme_example_answers_as_printed(sample_gql):
    failures = []
    for example in readme_examples(README.read_text()):
        if example.kind is OperationType.SUBSCRIPTION:  # over WebSocket: tests/broadcasts
            assert validate(schema._schema, parse(example.operation)) == []
            continue
        body = await sample_gql(example.operation)
        if body.get("errors"):
            failures.append(f"README.md:{example.line}: {body['errors'][0]['message']}")
            continue
        if example.printed:
            got = answered(example, body["data"])
            for problem in mismatches(example.expected, got):
                failures.append(f"README.md:{example.line}: {problem}\n    got {json.dumps(got)}")
    assert not failures, "\n".join(failures)


async def test_the_sample_loads_with_the_readme_ids_and_is_reused(db, tmp_path):
    made = await load_sample((await Workspace.create(name=SAMPLE_WORKSPACE)).id)
    assert made == {
        "people": ["per_1", "per_2", "per_3", "per_4"],
        "segments": ["seg_1", "seg_2", "seg_3"],
        "broadcasts": ["brd_1", "brd_2"],
        "flows": ["flw_1"],
    }
    first = await prepare_demo(tmp_path, people=20)
    again = await prepare_demo(tmp_path, people=20)
    assert [(w.id, w.key) for w in again] == [(w.id, w.key) for w in first]  # keys reused
    assert "as you left it" in again[0].note
    keys_file = tmp_path / "demo-keys.json"
    assert json.loads(keys_file.read_text()) == {w.name: w.key for w in first}
    assert keys_file.stat().st_mode & 0o777 == 0o600

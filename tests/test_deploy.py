"""The deployment files: docker-compose.yml's service graph, the Dockerfile, .env.example and
constraints.txt. Docker does not run here, so these read the files as compose and pip would."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from redis import Redis

from app.main import create_app
from app.settings import load_settings
from tests.conftest import REDIS_TEST_URL

ROOT = Path(__file__).resolve().parent.parent
SIEVE_SERVICES = ("migrate", "api", "worker")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution (the subset the file uses); a missing required
    variable raises, as `docker compose config` refuses to start."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        present = name in env and (env[name] != "" or op not in (":-", ":?"))
        if present:
            return env[name]
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return INTERPOLATION.sub(substitute, value)


def _service_env(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    return {key: interpolate(str(value), env) for key, value in service["environment"].items()}


def _depends(service: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


def test_migrate_runs_once_before_api_and_worker():
    services = _compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["sieve", "migrate"]
    assert migrate["restart"] == "no"  # one-shot: a restart policy would loop it
    assert _depends(migrate) == {"postgres": "service_healthy"}
    for name in ("api", "worker"):
        depends = _depends(services[name])
        assert depends["migrate"] == "service_completed_successfully", name
        assert depends["postgres"] == "service_healthy", name
        assert depends["redis"] == "service_healthy", name
        assert services[name]["restart"] in {"unless-stopped", "always", "on-failure"}, name


def test_long_running_services_have_healthchecks_and_restart():
    services = _compose()["services"]
    for name in ("postgres", "redis", "api", "worker"):
        check = services[name]["healthcheck"]
        assert not check.get("disable"), name
        assert check["test"][0] in {"CMD", "CMD-SHELL"} and len(check["test"]) > 1, name
        assert services[name]["restart"] == "unless-stopped", name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    assert "/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"][1:3] == ["arq", "--check"]


def test_secrets_and_transport_come_from_env_file():
    compose = _compose()
    text = (ROOT / "docker-compose.yml").read_text() + (ROOT / ".env.example").read_text()
    assert "change-me" not in text.lower()
    example = _env_example()
    for name in SIEVE_SERVICES:
        raw = compose["services"][name]["environment"]
        assert raw["SECRET_KEY"].startswith("${SECRET_KEY:?"), name
        assert raw["EMAIL_TRANSPORT"].startswith("${EMAIL_TRANSPORT:?"), name
        # without a .env compose refuses to start rather than run with a public secret
        with pytest.raises(KeyError, match="SECRET_KEY"):
            _service_env(
                compose["services"][name], {"POSTGRES_PASSWORD": "x", "EMAIL_TRANSPORT": "smtp"}
            )
    assert example["SECRET_KEY"] == "" and example["POSTGRES_PASSWORD"] == ""
    # every variable the compose file substitutes is explained in .env.example
    used = set(INTERPOLATION.findall((ROOT / "docker-compose.yml").read_text()))
    assert {name for name, _, _ in used} <= set(example)


def test_filled_env_file_gives_valid_settings():
    compose = _compose()
    # filled in as the comments of .env.example say
    filled = {"SECRET_KEY": secrets.token_urlsafe(32), "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
              "SMTP_HOST": "smtp.example.com", "SMTP_USERNAME": "sieve", "SMTP_PASSWORD": "pw"}  # fmt: skip
    env = {key: value or filled[key] for key, value in _env_example().items()}
    for name in SIEVE_SERVICES:
        resolved = _service_env(compose["services"][name], env)
        config = load_settings(resolved)
        assert config.secret_key == env["SECRET_KEY"]
        assert config.email_transport == "smtp"
        assert (
            config.database_url
            == f"postgres://sieve:{env['POSTGRES_PASSWORD']}@postgres:5432/sieve"
        )
        assert config.redis_url == "redis://redis:6379"


async def test_api_healthcheck_path_answers_200():
    compose = _compose()
    command = " ".join(compose["services"]["api"]["healthcheck"]["test"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    path = re.search(r"http://127\.0\.0\.1:8000(/[\w/]*)", command)
    assert path is not None and path[0] in dockerfile
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sieve") as client:
        response = await client.get(path[1])
    assert response.status_code == 200


def test_dockerfile_is_non_root_pinned_and_healthchecked():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    installs = [line for line in lines if "pip install" in line]
    assert installs and all("-c constraints.txt" in line for line in installs)
    assert any(line.startswith("COPY ") and "constraints.txt" in line for line in lines)


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = version
    return pins


def _project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += [Requirement(r) for r in extra if not r.startswith("sieve[")]
    return requirements


def test_constraints_pin_every_dependency_within_its_range():
    """A dependency added to pyproject.toml without `bash .ci/refresh-constraints` fails here."""
    pins = _pins()
    for requirement in _project_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, (
            f"{requirement.name} is not in constraints.txt: run .ci/refresh-constraints"
        )
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject's {requirement}"
        )


def test_constraints_pin_the_runtime_closure():
    """Transitive dependencies too (read from the installed metadata), so an install
    with the constraints resolves nothing by itself."""
    pins = _pins()
    marker_env = {**default_environment(), "extra": ""}
    todo = [r for r in _project_requirements() if r.marker is None or r.marker.evaluate(marker_env)]
    seen: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        assert name in pins, f"{name} (needed by sieve) is not in constraints.txt"
        wanted = set(requirement.extras) | {""}
        for raw in metadata.requires(requirement.name) or []:
            child = Requirement(raw)
            if child.marker is None or any(
                child.marker.evaluate({**marker_env, "extra": extra}) for extra in wanted
            ):
                todo.append(child)
    assert len(seen) > 20  # the walk really followed dependencies


# ------------------------------------------------------------------ the healthcheck commands


@pytest.fixture(params=["sqlite", "postgres"])
def process_env(request, tmp_path, pg_database) -> dict[str, str]:
    """Environment of a real `sieve` process: its own queue, a null mail transport."""
    url = f"sqlite://{tmp_path}/deploy.sqlite3" if request.param == "sqlite" else pg_database
    return {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_TEST_URL,
        "SIEVE_QUEUE": f"sieve-test:{uuid.uuid4().hex[:12]}",
        "EMAIL_TRANSPORT": "null",
    }


def _until(check: Any, what: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert process.poll() is None, f"{what}: the process exited with {process.returncode}"
        assert time.monotonic() < deadline, f"{what} not healthy after {timeout}s"
        time.sleep(0.5)


def _healthy(command: list[str], env: dict[str, str]) -> bool:
    done = subprocess.run(command[1:], env=env, capture_output=True, timeout=30)
    return done.returncode == 0


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args], env=env, cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_healthcheck_commands_tell_a_serving_api_and_a_live_worker(process_env, tmp_path):
    """compose's own healthcheck commands, run against real `sieve serve` and `sieve
    worker` processes (the API's on a free port instead of 8000)."""
    services = _compose()["services"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api_check = [p.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for p in services["api"]["healthcheck"]["test"]]  # fmt: skip
    worker_check = services["worker"]["healthcheck"]["test"]
    # nothing serves this port, no worker listens on this queue
    assert not _healthy(api_check, process_env)
    assert not _healthy(worker_check, process_env)
    api = _start(["serve", "--port", str(port)], process_env, tmp_path)
    worker = _start(["worker"], process_env, tmp_path)
    try:
        _until(lambda: _healthy(api_check, process_env), "api", api)
        _until(lambda: _healthy(worker_check, process_env), "worker", worker)
    finally:
        for process in (api, worker):
            process.terminate()
        for process in (api, worker):
            process.wait(timeout=30)
        redis = Redis.from_url(REDIS_TEST_URL)
        redis.delete(f"{process_env['SIEVE_QUEUE']}:health-check")
        redis.close()

"""The package picture holds: people never import flows (not even through another
module: events reach flows through app/people/hooks.py), and flows get email from
app/email, never from broadcasts. Read statically from the source, so a test that
happened to import a module first changes nothing."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _package_modules(package: str) -> list[str]:
    folder = ROOT.joinpath(*package.split("."))
    return [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in sorted(folder.rglob("*.py"))
    ]


def _imports(module: str) -> set[str]:
    """Every app module named by an import statement of `module` (anywhere in it)."""
    path = _module_file(module)
    if path is None:
        return set()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from app.flows import store` names the module app.flows.store
            found |= {
                f"{node.module}.{a.name}"
                for a in node.names
                if _module_file(f"{node.module}.{a.name}")
            }
    return {name for name in found if name == "app" or name.startswith("app.")}


def _reachable(start: list[str]) -> dict[str, str]:
    """Every app module imported, directly or not, from `start`: module -> who imports it."""
    seen: dict[str, str] = {m: m for m in start}
    todo = list(start)
    while todo:
        module = todo.pop()
        for name in _imports(module):
            if name not in seen and _module_file(name) is not None:
                seen[name] = module
                todo.append(name)
    return seen


def test_people_import_nothing_from_flows_even_indirectly():
    reached = _reachable(_package_modules("app.people"))
    assert "app.people.service" in reached and "app.people.hooks" in reached
    flows = {m: by for m, by in reached.items() if m == "app.flows" or m.startswith("app.flows.")}
    assert flows == {}, f"app.people reaches flows through {flows}"


def test_flows_take_email_from_app_email_not_from_broadcasts():
    for module in _package_modules("app.flows"):
        broadcasts = {n for n in _imports(module) if n.startswith("app.broadcasts")}
        assert broadcasts == set(), f"{module} imports {broadcasts}"
    assert any(n.startswith("app.email") for n in _imports("app.flows.send_email"))


def test_the_walk_sees_imports_inside_functions():
    # the check above would pass vacuously if nested imports were missed
    assert "app.main" in _imports("app.cli")
    # and reaches flows from a module that does import them, through `from x import y`
    assert "app.flows.triggers" in _reachable(["app.main"])
    assert "app.flows.store" in _reachable(["app.flows.triggers"])

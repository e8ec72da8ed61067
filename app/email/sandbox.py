"""A Jinja sandbox that caps what a template may compute, not only what it may touch.

Jinja's own sandbox keeps a template away from Python internals but lets it spend
unbounded time and memory: `{{ 9**(9**9) }}` is even folded as a constant while the
template compiles, `{{ 'x' * 10**9 }}` allocates a gigabyte, and nested loops over
`range(100000)` run for hours. Here every way a template does work is metered against a
per-render `Budget` (limits from settings, docs/templates.md):

- `**`, `*`, `+` and `%` are intercepted (so never folded at compile time) and refused
  when the result would be too big: integers of more than TEMPLATE_MAX_INT_BITS,
  strings or lists longer than TEMPLATE_MAX_STRING, printf widths over it;
- `range()` holds at most TEMPLATE_MAX_RANGE items;
- every loop iteration and every call (macros, methods, `caller()`) is one step of
  TEMPLATE_MAX_ITERATIONS, and checks the render deadline;
- everything written (expressions, loop bodies' text, macro results) counts towards
  TEMPLATE_MAX_OUTPUT, so no join can grow past it;
- filters are wrapped so they run at render time under the budget, with numeric
  arguments (widths, counts) at most TEMPLATE_MAX_STRING; `lipsum` is removed.

The deadline is checked cooperatively at each step, which is what lets a render run in a
thread (a thread cannot be killed): a single step is bounded by the size caps, so no
step can run long, and the deadline catches whatever the caps let through.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from app.settings import Settings, settings


class TemplateLimitError(Exception):
    """A template tried to compute more than a limit allows."""


@dataclass(frozen=True)
class Limits:
    iterations: int
    range: int
    string: int
    output: int
    int_bits: int
    seconds: float

    @classmethod
    def of(cls, config: Settings) -> Limits:
        return cls(
            config.template_max_iterations,
            config.template_max_range,
            config.template_max_string,
            config.template_max_output,
            config.template_max_int_bits,
            config.template_render_seconds,
        )


@dataclass
class Budget:
    """What one render may still spend; `charge` raises once a limit is passed."""

    limits: Limits
    deadline: float = field(default=0.0)
    steps: int = 0
    written: int = 0

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.limits.seconds

    def step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > self.limits.iterations:
            raise TemplateLimitError(
                f"more than {self.limits.iterations} loop iterations and calls"
                " (TEMPLATE_MAX_ITERATIONS)"
            )
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(
                f"rendering took longer than {self.limits.seconds:g} s (TEMPLATE_RENDER_SECONDS)"
            )

    def write(self, n: int) -> None:
        self.written += n
        if self.written > self.limits.output:
            raise TemplateLimitError(
                f"more than {self.limits.output} characters of output (TEMPLATE_MAX_OUTPUT)"
            )

    def length(self, n: int) -> None:
        """A string or list of `n` items is about to be made."""
        if n > self.limits.string:
            raise TemplateLimitError(
                f"a string or list longer than {self.limits.string} (TEMPLATE_MAX_STRING)"
            )

    def sized(self, value: Any) -> Any:
        if isinstance(value, str | list | tuple):
            self.length(len(value))
        return value


_budget: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def budget() -> Budget:
    """The current render's budget; outside `metered` (which every render in
    app/email/templates.py is in) each check gets a fresh one with the default limits."""
    current = _budget.get()
    return current if current is not None else Budget(Limits.of(settings))


class metered:
    """`with metered(limits):` — renders inside share one fresh budget."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def __enter__(self) -> Budget:
        self.current = Budget(self.limits)
        self.token = _budget.set(self.current)
        return self.current

    def __exit__(self, *exc: object) -> None:
        _budget.reset(self.token)


_WIDTH = re.compile(r"\d{6,}|\*")  # a printf or format width of 100000 or more, or `*`


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _WIDTH.search(text):
        raise TemplateLimitError("format widths are limited (TEMPLATE_MAX_STRING)")


def _check_numbers(args: Iterable[Any]) -> None:
    high = budget().limits.string
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > high:
            raise TemplateLimitError(
                f"numbers given to filters and methods are at most {high} (TEMPLATE_MAX_STRING)"
            )


def _int_bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def _power(left: Any, right: Any) -> Any:
    big = isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
    if big and _int_bits(left) * right > budget().limits.int_bits:
        raise TemplateLimitError(
            f"a power of more than {budget().limits.int_bits} bits (TEMPLATE_MAX_INT_BITS)"
        )
    return left**right


def _times(left: Any, right: Any) -> Any:
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(n, int):
            budget().length(len(seq) * n)
    ints = isinstance(left, int) and isinstance(right, int)
    if ints and _int_bits(left) + _int_bits(right) > budget().limits.int_bits:
        raise TemplateLimitError(
            f"a product of more than {budget().limits.int_bits} bits (TEMPLATE_MAX_INT_BITS)"
        )
    return left * right


def _plus(left: Any, right: Any) -> Any:
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        budget().length(len(left) + len(right))
    return left + right


def _modulo(left: Any, right: Any) -> Any:
    _check_format(left)
    return budget().sized(left % right)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "**": _power,
    "*": _times,
    "+": _plus,
    "%": _modulo,
}


@pass_context
def _counted(context: Context, items: Any, literal: int) -> Iterator[Any]:
    """A loop's iterable: each item is a step and writes the body's literal text."""
    meter = budget()
    for item in items:
        meter.step()
        meter.write(literal)
        yield item


@pass_context
def _written(context: Context, value: Any) -> Any:
    budget().write(len(value) if isinstance(value, str) else 8)
    return value


@pass_context
def _sized(context: Context, value: Any) -> Any:
    return budget().sized(value)


def _capped_range(*args: int) -> range:
    items = range(*args)
    if len(items) > budget().limits.range:
        raise TemplateLimitError(
            f"range() gives at most {budget().limits.range} items (TEMPLATE_MAX_RANGE)"
        )
    return items


_FIRST_ARGUMENT: dict[str, Callable[[Context], Any]] = {
    "context": lambda context: context,
    "eval_context": lambda context: context.eval_ctx,
    "environment": lambda context: context.environment,
}


def _precheck(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """What a filter is about to make, estimated before it runs (the value, as given)."""
    _check_numbers((*args, *kwargs.values()))
    if name == "format":
        _check_format(value)
    elif name == "replace" and isinstance(value, str) and len(args) >= 2:
        grows = value.count(str(args[0])) * max(len(str(args[1])) - len(str(args[0])), 0)
        budget().length(len(value) + grows)
    elif name == "indent" and isinstance(value, str):
        width = args[0] if args and isinstance(args[0], int) else 4
        budget().length(len(value) + value.count("\n") * width)
    elif name == "join":
        return _joinable(value, args[0] if args else kwargs.get("d", ""))
    return value


def _metered_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Run the filter at render time (pass_context stops compile-time folding), with its
    numeric arguments capped and its result sized."""
    passed = getattr(func, "jinja_pass_arg", None)
    first = _FIRST_ARGUMENT.get(passed.name) if passed is not None else None

    @pass_context
    @wraps(func)
    def run(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        meter = budget()
        meter.step()
        if args or kwargs or name == "join":
            value = _precheck(name, value, args, kwargs)
        if first is None:
            return meter.sized(func(value, *args, **kwargs))
        return meter.sized(func(first(context), value, *args, **kwargs))

    return run


def _joinable(value: Any, separator: Any) -> list[Any]:
    """The items of a join, each a step, the joined length checked as it grows: one
    join is a single C call that could otherwise build gigabytes."""
    meter = budget()
    items = list(value)
    meter.length(len(items))
    total = len(str(separator)) * max(len(items) - 1, 0)
    meter.length(total)
    for item in items:
        meter.step()
        total += len(item) if isinstance(item, str) else len(str(item))
        meter.length(total)
    return items


class _Meter(NodeTransformer):
    """Rewrites a parsed template so that loops, output and concatenation are metered."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        literal = sum(len(d.data) for d in node.find_all(nodes.TemplateData))
        node.iter = _filter(node.iter, "_counted", nodes.Const(literal))
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [
            n if isinstance(n, nodes.TemplateData) else _filter(n, "_written") for n in node.nodes
        ]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(node, "_sized")


def _filter(node: nodes.Node, name: str, *args: nodes.Expr) -> nodes.Filter:
    return nodes.Filter(node, name, list(args), [], None, None, lineno=node.lineno)


class LimitedSandbox(SandboxedEnvironment):
    """The sandbox every message template is compiled in."""

    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, **options)
        self.globals.pop("lipsum", None)
        self.globals["range"] = _capped_range
        self.filters = {name: _metered_filter(name, f) for name, f in self.filters.items()}
        self.filters["_counted"] = _counted
        self.filters["_written"] = _written
        self.filters["_sized"] = _sized

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _Meter().visit(super()._parse(source, name, filename))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget().step(0)
        return _BINOPS[operator](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        meter = budget()
        meter.step()
        _check_numbers((*args, *kwargs.values()))
        wrapped = getattr(__obj, "__wrapped__", __obj)
        name, owner = getattr(wrapped, "__name__", ""), getattr(wrapped, "__self__", None)
        if name in ("format", "format_map"):
            _check_format(owner)
        if name == "expandtabs" and isinstance(owner, str):
            tab = args[0] if args and isinstance(args[0], int) else 8
            meter.length(len(owner) * max(tab, 1))
        result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        if isinstance(result, str):
            meter.write(len(result))
        return meter.sized(result)

"""Templates that cannot hurt (issue 11): every bomb is refused quickly, with its reason,
when a broadcast or flow is saved; ordinary templates render as before."""

from __future__ import annotations

import time

import pytest

from app.email import templates as templates_module
from app.email.templates import RenderError, check_templates, compile_templates, person_context

BOMBS = {
    "constant power": ("{{ 9**(9**9) }}", "TEMPLATE_MAX_INT_BITS"),
    "power": ("{{ 2**100000 }}", "TEMPLATE_MAX_INT_BITS"),
    "squaring": ("{% set ns = namespace(n=3) %}{% for i in range(60) %}"
                 "{% set ns.n = ns.n * ns.n %}{% endfor %}", "TEMPLATE_MAX_INT_BITS"),
    "repetition": ("{{ 'x' * 100000000 }}", "TEMPLATE_MAX_STRING"),
    "list repetition": ("{{ ([1] * 100000000)|length }}", "TEMPLATE_MAX_STRING"),
    "big range": ("{% for i in range(100000) %}{% endfor %}", "TEMPLATE_MAX_RANGE"),
    "nested loops": ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}"
                     "{% endfor %}", "TEMPLATE_MAX_ITERATIONS"),
    "loops over strings": ("{% set s = 'x' * 900000 %}{% for a in s %}{% for b in s %}"
                           "{% endfor %}{% endfor %}", "TEMPLATE_MAX_ITERATIONS"),
    "doubling with ~": ("{% set ns = namespace(s='x') %}{% for i in range(60) %}"
                        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "TEMPLATE_MAX_STRING"),
    "doubling with +": ("{% set ns = namespace(s='x') %}{% for i in range(60) %}"
                        "{% set ns.s = ns.s + ns.s %}{% endfor %}", "TEMPLATE_MAX_STRING"),
    "exponential macro": ("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}"
                          "{% endmacro %}{{ f(40) }}", "TEMPLATE_MAX_ITERATIONS"),
    "output": ("{% for i in range(10000) %}{{ 'x' * 900000 }}{% endfor %}", "TEMPLATE_MAX_OUTPUT"),
    "set block": ("{% set big %}{% for i in range(10000) %}{{ 'y' * 900000 }}{% endfor %}"
                  "{% endset %}{{ big|length }}", "TEMPLATE_MAX_OUTPUT"),
    "center filter": ("{{ 'x'|center(999999999) }}", "TEMPLATE_MAX_STRING"),
    "center method": ("{{ 'x'.center(999999999) }}", "TEMPLATE_MAX_STRING"),
    "format width": ("{{ '{:>999999999}'.format(1) }}", "TEMPLATE_MAX_STRING"),
    "printf width": ("{{ '%999999999s' % 'x' }}", "TEMPLATE_MAX_STRING"),
    "printf star": ("{{ '%*s' % (999999999, 'x') }}", "TEMPLATE_MAX_STRING"),
    "expandtabs": ("{{ ('\t' * 900000).expandtabs(900000) }}", "TEMPLATE_MAX_STRING"),
    "replace": ("{{ ('x' * 900000)|replace('x', 'y' * 900000) }}", "TEMPLATE_MAX_STRING"),
    "join": ("{{ range(10000)|join(',' * 900000) }}", "TEMPLATE_MAX_STRING"),
    "indent": ("{{ ('\n' * 900000)|indent(900000) }}", "TEMPLATE_MAX_STRING"),
    "slice": ("{{ [1]|slice(999999999)|list }}", "TEMPLATE_MAX_STRING"),
}  # fmt: skip


@pytest.mark.parametrize("name", BOMBS)
def test_each_bomb_is_refused_quickly_with_the_limit_it_hit(name):
    source, limit = BOMBS[name]
    started = time.monotonic()
    errors = check_templates("Hi", source, "")
    assert time.monotonic() - started < 2.0
    assert [(e.path, e.code.value) for e in errors] == [(("html",), "TEMPLATE_ERROR")]
    assert limit in errors[0].message


def test_a_template_that_fails_for_anyone_is_refused_and_one_needing_data_is_not():
    (error,) = check_templates("{{ 1/0 }}", "", "x")
    assert error.path == ("subject",) and "ZeroDivisionError" in error.message
    assert check_templates("{{ person.fields.plan.upper() }}", "", "x") == []
    assert check_templates("{% if %}", "", "x")[0].message.startswith("Template syntax error")


def test_the_render_deadline_stops_a_slow_template(monkeypatch):
    config = templates_module.settings.replace(template_render_seconds=0.3)
    monkeypatch.setattr(templates_module, "settings", config)
    slow = "{% for i in range(10000) %}{% set _ = ('ab ' * 300000)|wordwrap(3) %}{% endfor %}"
    started = time.monotonic()
    (error,) = check_templates("Hi", slow, "")
    assert "TEMPLATE_RENDER_SECONDS" in error.message
    assert time.monotonic() - started < 5.0


def test_limits_are_settings(monkeypatch):
    config = templates_module.settings.replace(template_max_range=5)
    monkeypatch.setattr(templates_module, "settings", config)
    assert check_templates("{{ range(5)|list }}", "", "x") == []
    assert "TEMPLATE_MAX_RANGE" in check_templates("{{ range(6)|list }}", "", "x")[0].message


def test_ordinary_templates_render_as_before():
    templates = compile_templates(
        "Hello {{ person.fields.first_name | default('there') }}",
        "<p>{{ person.fields.note }}</p>{% for tag in ['a', 'b'] %}<i>{{ loop.index }}"
        "{{ tag|upper }}</i>{% endfor %}{% macro b(x) %}<b>{{ x }}</b>{% endmacro %}{{ b('y') }}"
        "{{ '%s-%d' % ('a', 2) }}{{ ', '.join(['x', 'y']) }}{{ 2**10 }}{{ 'ab' * 2 }}",
        "Hi {{ person.email }}, {{ '{:>5}'.format(7) }} {{ range(3)|join('|') }}",
    )
    context = person_context("per_1", "a@x.test", {"note": "<script>"}, "http://u")
    rendered = templates.render(context)
    assert rendered.subject == "Hello there"
    assert rendered.html == ("<p>&lt;script&gt;</p><i>1A</i><i>2B</i><b>y</b>a-2x, y1024abab")
    assert rendered.text == "Hi a@x.test,     7 0|1|2"


def test_a_render_error_names_the_field_and_the_limit():
    templates = compile_templates("Hi", "{{ 'x' * person.fields.n }}", "")
    context = person_context("per_1", "a@x.test", {"n": 10**9}, "http://u")
    with pytest.raises(RenderError) as caught:
        templates.render(context)
    assert caught.value.field == "html" and "TEMPLATE_MAX_STRING" in caught.value.reason

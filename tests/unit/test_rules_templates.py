"""Templates of an alert's fields: compiled once, missing fields render empty, bad ones refused."""

from __future__ import annotations

from typing import Any

import pytest

from tocsin.actors.domain.rules import view_of
from tocsin.actors.domain.rules.problems import Problems
from tocsin.actors.domain.rules.templates import compile_template

VIEW = view_of("alertmanager", {
    "labels": {"alertname": "DiskFull", "instance": "db-7:9100", "cluster": "eu-1"},
    "annotations": {"summary": "Disk full"}, "free": 12, "ok": False, "hosts": ["a", "b"], "meta": {"k": 1},
}, summary="Disk full", severity="critical")


def render(template: str) -> str:
    problems = Problems()
    compiled = compile_template(template, "actions.summary", problems)
    problems.raise_any()
    assert compiled is not None
    return compiled.render(VIEW)


@pytest.mark.parametrize(("template", "text"), [
    ("{{labels.alertname}} on {{labels.instance}}", "DiskFull on db-7:9100"),
    ("{{labels.alertname}}/{{labels.cluster}}", "DiskFull/eu-1"),
    ("{{ labels.alertname }}", "DiskFull"),
    ("{{labels.alertname}} on {{labels.host}}", "DiskFull on "),  # a missing field is empty
    ("[{{severity}}] {{summary}}", "[critical] Disk full"),
    ("free: {{payload.free}} MB, ok: {{payload.ok}}", "free: 12 MB, ok: false"),
    ("{{payload.hosts}} {{payload.meta}}", 'a, b {"k":1}'),
    ("no fields at all", "no fields at all"),
    ("", ""),
    ("{braces} and }} alone {x}", "{braces} and }} alone {x}"),
    ("{{{labels.cluster}}}", "{eu-1}"),
    ("{{labels.alertname}}{{labels.cluster}}", "DiskFulleu-1"),
])
def test_rendering(template: str, text: str) -> None:
    assert render(template) == text


@pytest.mark.parametrize(("template", "message"), [
    ("{{labels}}", 'in the template, "labels" names no field; write labels.<name>'),
    ("{{ }}", 'in the template, "" names no field: a field path has no empty part'),
    ("{{labels.alertname", '"{{" at "{{labels.alertname" is not closed by "}}"'),
    ("{{if labels.x}}", 'in the template, "if labels.x" names no field; fields are summary'),
])
def test_a_template_that_refers_to_nothing_is_refused(template: str, message: str) -> None:
    problems = Problems()
    assert compile_template(template, "rules[0].actions.summary", problems) is None
    with pytest.raises(ValueError) as refused:
        problems.raise_any()
    assert str(refused.value).startswith(f"rules[0].actions.summary: {message}")


def test_every_bad_field_of_a_template_is_reported() -> None:
    problems = Problems()
    compile_template("{{labels}} {{nope}} {{summary}} {{details}}", "t", problems)
    assert problems.count() == 3


@pytest.mark.parametrize("spec", [None, 5, ["{{summary}}"], {"a": 1}])
def test_a_template_must_be_a_string(spec: Any) -> None:
    problems = Problems()
    assert compile_template(spec, "t", problems) is None
    assert problems.count() == 1

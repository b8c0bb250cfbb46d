"""The configuration file, pure: its problems with their paths, plans field by field, a
directory of files, and the published JSON Schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import TypeAdapter

from tocsin.actors.domain.config import document as document_module
from tocsin.actors.domain.config.check import check
from tocsin.actors.domain.config.document import Document, Integration, Service, document_data
from tocsin.actors.domain.config.plan import SECRET, plan
from tocsin.cluster.config_cli import load, render

DOCUMENT = TypeAdapter(Document)
EXAMPLE = yaml.safe_load(str(document_module.__doc__).split("A small example:")[1])


def _document(data: object) -> Document:
    return DOCUMENT.validate_python(data)


def test_the_example_checks_and_plans_every_object_to_create() -> None:
    example = _document(EXAMPLE)
    assert check(example, Document()) == []
    created = plan(example, Document())
    assert [(c.action, c.kind, c.name) for c in created.changes] == [
        ("create", "user", "ada@example.com"), ("create", "team", "payments"),
        ("create", "schedule", "payments-primary"), ("create", "escalation_policy", "payments"),
        ("create", "service", "checkout")]
    assert plan(example, example).changes == ()


def test_every_problem_is_named_with_its_path_in_the_file() -> None:
    bad = _document({
        "users": [{"name": "Ada", "email": "ada@example.com", "time_zone": "Mars/Olympus"}],
        "services": [{"name": "a"}, {"name": "b"}, {"name": "c"},
                     {"name": "d", "escalation_policy": "db-primary", "team": "nobody",
                      "rules": [{"actions": {"explode": True}}]}],
        "escalation_policies": [{"name": "p", "levels": [{"targets": [{"user": "eve@example.com"}, {}]}]}],
    })
    problems = [str(p) for p in check(bad, Document())]
    assert problems == [
        'users[0].time_zone: "Mars/Olympus" is not an IANA time zone such as Europe/Paris',
        "escalation_policies[0].levels[0].targets[0].user: no user with e-mail address \"eve@example.com\"",
        "escalation_policies[0].levels[0].targets[1]: names either a user or a schedule",
        'services[3].team: no team named "nobody"',
        'services[3].escalation_policy: no escalation policy named "db-primary"',
        problems[-1],
    ]
    assert problems[-1].startswith("services[3].rules[0].actions.explode: unknown key")


def test_names_may_refer_to_objects_the_deployment_keeps_unless_it_prunes_them() -> None:
    file = _document({"services": [{"name": "checkout", "escalation_policy": "db-primary"}]})
    deployment = _document({"escalation_policies": [{"name": "db-primary", "levels": [
        {"targets": [{"user": "ada@example.com"}]}]}]})
    assert check(file, deployment) == []
    assert [str(p) for p in check(file, deployment, prune=True)] == [
        'services[0].escalation_policy: no escalation policy named "db-primary"']


def test_a_change_is_shown_field_by_field_and_keys_are_never_shown() -> None:
    key, other = "a" * 32, "b" * 32
    before = Document(services=(Service("checkout", urgency="high", integrations=(
        Integration("alertmanager", "prom", key),)),))
    after = Document(services=(Service("checkout", urgency="low", description="shop", integrations=(
        Integration("alertmanager", "prom", other),)),))
    (change,) = plan(after, before).changes
    shown = [(f.path, f.old, f.new) for f in change.fields]
    assert ("urgency", "high", "low") in shown
    assert ("description", "", "shop") in shown
    assert ("integrations[prom].key", None, SECRET) in shown  # a key stated anew: another integration
    assert key not in json.dumps([f.__dict__ for f in change.fields])
    assert other not in render({"changes": [{"action": change.action, "kind": change.kind, "name": change.name,
                                             "fields": [f.__dict__ for f in change.fields]}],
                                "create": 0, "update": 1, "delete": 0})


def test_parts_the_file_leaves_out_are_left_alone() -> None:
    deployment = Document(services=(Service("checkout", integrations=(Integration("generic", "x", "c" * 32),)),))
    assert plan(Document(services=(Service("checkout"),)), deployment).changes == ()
    assert plan(Document(services=(Service("checkout", integrations=(Integration("generic", "x"),)),)),
                deployment).changes == ()  # no key stated: the one Tocsin made stands
    (removed,) = plan(Document(services=(Service("checkout", integrations=()),)), deployment).changes
    assert [f.path for f in removed.fields] == ["integrations[x].type", "integrations[x].name",
                                                "integrations[x].key", "integrations[x].config"]


def test_objects_left_out_are_deleted_only_when_pruning_and_never_the_caller() -> None:
    deployment = _document({"users": [{"name": "Me", "email": "me@example.com"}, {"name": "Old", "email": "o@x.io"}],
                            "services": [{"name": "old"}]})
    assert plan(Document(), deployment).changes == ()
    pruned = plan(Document(), deployment, prune=True, spared=["me@example.com"])
    assert [(c.action, c.kind, c.name) for c in pruned.changes] == [
        ("delete", "user", "o@x.io"), ("delete", "service", "old")]


def test_a_directory_of_files_joins_their_lists(tmp_path: Path) -> None:
    (tmp_path / "10-people.yaml").write_text(yaml.safe_dump({"users": EXAMPLE["users"], "teams": EXAMPLE["teams"]}))
    (tmp_path / "20-paging.yml").write_text(yaml.safe_dump(
        {key: EXAMPLE[key] for key in ("schedules", "escalation_policies", "services")}))
    (tmp_path / "notes.txt").write_text("not configuration")
    assert _document(load(tmp_path)) == _document(EXAMPLE)


def test_the_published_schema_checks_files_as_editors_would(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "tocsin.cluster.cli", "config", "schema"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    schema = json.loads(out)
    jsonschema.validate(load_example(tmp_path), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"services": [{"name": "x", "urgency": "urgent"}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"servces": []}, schema)


def load_example(tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(EXAMPLE))
    return load(path)


def test_document_data_reads_back_as_the_same_document() -> None:
    example = _document(EXAMPLE)
    assert _document(yaml.safe_load(yaml.safe_dump(document_data(example)))) == example

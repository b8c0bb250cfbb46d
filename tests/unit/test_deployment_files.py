"""The deployment files: each parses and fits its schema, they deploy the same application,
GCS fault tolerance is on, and no secret is written in them. Also the Serve entrypoint's
settings. No Ray runtime and no database."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from tocsin.cluster.entrypoint import SECRET_SETTINGS, cluster_settings
from tocsin.cluster.haproxy_ingress import LAUNCHER_NAME
from tocsin.cluster.raystart import NODE_HEALTH_CHECK_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAME = "tocsin-secrets"
# Environment variables whose values are secrets though no setting is a SecretStr.
_SECRET_LOOKING = re.compile(r"PASSWORD|TOKEN|SECRET|DATABASE_URL|REDIS_URL|ACCESS_KEY|ACCOUNT_SID")


def _load(relative: str) -> Any:
    return yaml.safe_load((ROOT / relative).read_text())


@pytest.fixture(scope="module")
def launcher() -> dict[str, Any]:
    config: dict[str, Any] = _load("ray-cluster.yaml")
    return config


@pytest.fixture(scope="module")
def rayservice() -> dict[str, Any]:
    manifest: dict[str, Any] = _load("cluster/kuberay/rayservice.yaml")
    return manifest


@pytest.fixture(scope="module")
def serve_config() -> dict[str, Any]:
    config: dict[str, Any] = _load("cluster/serve_config.yaml")
    return config


def _head_commands(launcher: dict[str, Any]) -> list[str]:
    return list(launcher["head_start_ray_commands"])


def _ray_start(commands: list[str]) -> str:
    (command,) = [c for c in commands if "ray start" in c]
    return command


def _containers(rayservice: dict[str, Any]) -> list[dict[str, Any]]:
    cluster = rayservice["spec"]["rayClusterConfig"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    return [container for group in groups for container in group["template"]["spec"]["containers"]]


# -- the cluster launcher ------------------------------------------------------------------

def test_the_cluster_launcher_config_fits_rays_own_schema(launcher: dict[str, Any]) -> None:
    spec = importlib.util.find_spec("ray")  # the schema ships with Ray; no need to import it
    assert spec is not None and spec.submodule_search_locations
    schema_path = Path(next(iter(spec.submodule_search_locations))) / "autoscaler" / "ray-schema.json"
    jsonschema.validate(launcher, json.loads(schema_path.read_text()))


def test_the_head_runs_tocsin_up_attached_to_the_cluster_after_ray_starts(launcher: dict[str, Any]) -> None:
    commands = _head_commands(launcher)
    (up,) = [i for i, c in enumerate(commands) if "tocsin up --address auto --host 0.0.0.0" in c]
    assert up > commands.index(_ray_start(commands))
    # Refuses to start without a production database and a known token, rather than
    # falling back to an embedded Postgres on the head.
    assert "${TOCSIN_DATABASE_URL:?" in commands[up] and "${TOCSIN_ADMIN_TOKEN:?" in commands[up]


def test_the_head_keeps_the_gcs_in_redis_when_an_address_is_given(launcher: dict[str, Any]) -> None:
    start = _ray_start(_head_commands(launcher))
    assert "ray start --head" in start
    assert '[ -n "$RAY_REDIS_ADDRESS" ] || unset RAY_REDIS_ADDRESS' in start
    assert '--redis-password="$REDIS_PASSWORD"' in start


def test_every_node_starts_ray_with_the_haproxy_ingress_and_the_settings(launcher: dict[str, Any]) -> None:
    for commands in (_head_commands(launcher), launcher["worker_start_ray_commands"]):
        start = _ray_start(commands)
        assert "RAY_SERVE_ENABLE_HA_PROXY=1" in start and "RAY_SERVE_THROUGHPUT_OPTIMIZED=1" in start
        assert 'RAY_SERVE_HAPROXY_BINARY_PATH="$(command -v tocsin-haproxy)"' in start
        assert re.search(r"\bFORWARDED_ALLOW_IPS=;", start)
        assert ". ~/tocsin.env" in start


def test_both_clusters_notice_a_dead_node_as_the_failover_tests_and_benchmark_do(
    launcher: dict[str, Any], rayservice: dict[str, Any]
) -> None:
    start = _ray_start(_head_commands(launcher))
    for name, value in NODE_HEALTH_CHECK_VARIABLES.items():
        assert f"{name}={value}" in start
    [head] = _containers(rayservice)[:1]
    env = {e["name"]: e.get("value") for e in head["env"]}
    assert {name: env.get(name) for name in NODE_HEALTH_CHECK_VARIABLES} == NODE_HEALTH_CHECK_VARIABLES


def test_every_node_installs_tocsin_and_receives_the_settings_file(launcher: dict[str, Any]) -> None:
    assert launcher["file_mounts"]["~/tocsin.env"] == "./tocsin.env"
    assert any("pip install" in c and "tocsin" in c for c in launcher["setup_commands"])


def test_the_cluster_launcher_config_names_settings_but_never_sets_them(launcher: dict[str, Any]) -> None:
    text = (ROOT / "ray-cluster.yaml").read_text()
    assert not re.search(r"\b(TOCSIN_\w+|RAY_REDIS_ADDRESS|REDIS_PASSWORD|REDIS_USERNAME)=", text)
    example = (ROOT / "cluster" / "tocsin.env.example").read_text()
    for line in example.splitlines():
        name, _, value = line.partition("=")
        if _SECRET_LOOKING.search(name) and not line.startswith("#"):
            assert "CHANGE_ME" in value, line


# -- the Serve config and the RayService ---------------------------------------------------

def test_the_serve_config_is_a_serve_config_of_one_application(serve_config: dict[str, Any]) -> None:
    (application,) = ServeDeploySchema.model_validate(serve_config).applications
    assert application.route_prefix == "/"


def test_the_import_path_names_an_application_builder(serve_config: dict[str, Any]) -> None:
    (application,) = serve_config["applications"]
    module, _, attribute = application["import_path"].partition(":")
    builder = getattr(importlib.import_module(module), attribute)
    assert inspect.isfunction(builder)  # Serve calls a function with the config's args
    assert len(inspect.signature(builder).parameters) == 1


def test_the_rayservice_deploys_the_same_application(rayservice: dict[str, Any],
                                                     serve_config: dict[str, Any]) -> None:
    assert rayservice["apiVersion"] == "ray.io/v1"
    assert rayservice["kind"] == "RayService"
    embedded = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    ServeDeploySchema.model_validate(embedded)
    assert embedded == serve_config


def test_the_rayservice_never_runs_two_clusters_at_once(rayservice: dict[str, Any]) -> None:
    assert rayservice["spec"]["upgradeStrategy"]["type"] == "None"  # one writer per service


def test_the_rayservice_keeps_the_gcs_in_redis_with_the_password_from_the_secret(
        rayservice: dict[str, Any]) -> None:
    options = rayservice["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]
    assert re.fullmatch(r"[\w.-]+:\d+", options["redisAddress"])
    assert options["redisPassword"]["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME
    # KubeRay refuses these beside gcsFaultToleranceOptions.
    head = _containers(rayservice)[0]
    assert not {"RAY_REDIS_ADDRESS", "REDIS_PASSWORD"} & {e["name"] for e in head["env"]}
    assert "redis-password" not in rayservice["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"]


def test_the_rayservice_has_a_head_and_an_autoscaled_worker_group(rayservice: dict[str, Any]) -> None:
    cluster = rayservice["spec"]["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    (workers,) = cluster["workerGroupSpecs"]
    assert 2 <= workers["minReplicas"] <= workers["replicas"] <= workers["maxReplicas"]
    assert workers["minReplicas"] < workers["maxReplicas"]


def test_every_rayservice_node_has_the_settings_and_the_haproxy_ingress(rayservice: dict[str, Any]) -> None:
    for container in _containers(rayservice):
        env = {e["name"]: e for e in container["env"]}
        assert env["RAY_SERVE_ENABLE_HA_PROXY"]["value"] == "1"
        assert Path(env["RAY_SERVE_HAPROXY_BINARY_PATH"]["value"]).name == LAUNCHER_NAME
        assert env["FORWARDED_ALLOW_IPS"]["value"] == ""
        for required in ("TOCSIN_DATABASE_URL", "TOCSIN_ADMIN_TOKEN"):
            assert not env[required]["valueFrom"]["secretKeyRef"].get("optional", False)


def test_the_rayservice_takes_every_secret_from_the_secret_by_name(rayservice: dict[str, Any]) -> None:
    secret_names = {f"TOCSIN_{name.upper()}" for name in SECRET_SETTINGS}
    for container in _containers(rayservice):
        for entry in container["env"]:
            if entry["name"] in secret_names or _SECRET_LOOKING.search(entry["name"]):
                assert "value" not in entry, entry["name"]
                assert entry["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME, entry["name"]
            else:
                assert "@" not in str(entry.get("value", "")), entry["name"]  # no credentials in a URL


def test_the_secret_example_has_every_key_the_rayservice_reads_and_only_placeholders(
        rayservice: dict[str, Any]) -> None:
    secret = _load("cluster/kuberay/secret.example.yaml")
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == SECRET_NAME
    read = {rayservice["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]["redisPassword"]
            ["valueFrom"]["secretKeyRef"]["key"]}
    read |= {e["valueFrom"]["secretKeyRef"]["key"]
             for container in _containers(rayservice) for e in container["env"] if "valueFrom" in e}
    assert read <= set(secret["stringData"])
    assert all("CHANGE_ME" in value for value in secret["stringData"].values())


# -- the entrypoint's settings ---------------------------------------------------------------

ADMIN_TOKEN = "an-admin-token-of-32-characters-"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment of a cluster node with the two required settings and nothing else of Tocsin's."""
    import os

    for name in [n for n in os.environ if n.startswith("TOCSIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TOCSIN_DATABASE_URL", "postgresql://tocsin:pw@db.internal/tocsin")
    monkeypatch.setenv("TOCSIN_ADMIN_TOKEN", ADMIN_TOKEN)
    return monkeypatch


def test_settings_come_from_the_environment_and_the_args_override_them(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("TOCSIN_SHARDS", "8")
    environment.setenv("TOCSIN_GATEWAY_REPLICAS", "3")
    settings = cluster_settings({"gateway_replicas": 2})
    assert (settings.shards, settings.gateway_replicas) == (8, 2)
    assert settings.database_url == "postgresql://tocsin:pw@db.internal/tocsin"
    assert settings.admin_token == ADMIN_TOKEN


@pytest.mark.parametrize("missing", ["TOCSIN_DATABASE_URL", "TOCSIN_ADMIN_TOKEN"])
def test_a_cluster_needs_a_production_database_and_an_admin_token(environment: pytest.MonkeyPatch,
                                                                  missing: str) -> None:
    environment.delenv(missing)
    with pytest.raises(ValueError, match=missing):
        cluster_settings({})


def test_a_cluster_refuses_an_admin_token_shorter_than_32_characters(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("TOCSIN_ADMIN_TOKEN", ADMIN_TOKEN[:31])
    with pytest.raises(ValueError, match="TOCSIN_ADMIN_TOKEN has 31 characters.*at least 32"):
        cluster_settings({})


@pytest.mark.parametrize("name", ["database_url", "admin_token", "twilio_auth_token", "smtp_password",
                                  "aws_secret_access_key", "slack_bot_token", "webhook_signing_secret"])
def test_secrets_are_refused_in_the_configs_args(environment: pytest.MonkeyPatch, name: str) -> None:
    with pytest.raises(ValueError, match=f"TOCSIN_{name.upper()}"):
        cluster_settings({name: "written-in-a-config-file"})


def test_unknown_args_are_refused(environment: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="shard_count"):
        cluster_settings({"shard_count": 8})


def test_shards_go_to_the_nodes_in_turn_and_may_move_when_theirs_is_gone() -> None:
    from tocsin.cluster.deploy import on_node_in_turn

    a, b, c = (f"{n:056x}" for n in (1, 2, 3))  # node ids are 28 bytes in hex
    strategies = [on_node_in_turn([a, b, c], i)["scheduling_strategy"] for i in range(4)]
    assert [s.node_id for s in strategies] == [a, b, c, a]
    assert all(s.soft for s in strategies)
    assert on_node_in_turn([a], 0) == {}  # one node: Ray's own placement

"""`tocsin-haproxy`, what Serve's HAProxy ingress runs as: Ray's own configuration gets
`option forwardfor` in its defaults section, and the real haproxy runs with Ray's arguments."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ray.serve._private.haproxy import HAProxyApi, HAProxyConfig

from tocsin.cluster.haproxy_ingress import LAUNCHER_NAME, REAL_BINARY_VARIABLE, with_forwardfor, write_launcher

CONFIG = """global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
frontend http_frontend
    bind *:8000
    default_backend default_backend
backend default_backend
    http-request return status 404
"""


def defaults_section(config: str) -> list[str]:
    lines = config.splitlines()
    start = lines.index("defaults")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
    return [line.strip() for line in lines[start + 1:end]]


def test_option_forwardfor_goes_into_the_defaults_section_once() -> None:
    changed = with_forwardfor(CONFIG)

    assert defaults_section(changed) == ["option forwardfor", "mode http", "timeout connect 5s"]
    assert changed.count("forwardfor") == 1
    assert with_forwardfor(changed) == changed


def test_a_configuration_without_defaults_is_refused_rather_than_run_without_the_address() -> None:
    with pytest.raises(ValueError, match="defaults"):
        with_forwardfor("global\n    maxconn 10\nfrontend f\n    bind *:1\n")


def rays_configuration(directory: Path) -> Path:
    """The configuration Ray's HAProxy manager writes, with no application deployed."""
    cfg = HAProxyConfig(socket_path=str(directory / "admin.sock"), server_state_base=str(directory),
                        server_state_file=str(directory / "state"), metrics_socket_path=str(directory / "metrics.sock"))
    path = directory / "haproxy.cfg"
    HAProxyApi(cfg=cfg, config_file_path=str(path))._generate_config_file_internal()
    return path


def fake_haproxy(directory: Path) -> Path:
    """A stand-in for haproxy that writes down its arguments and the configuration it was given."""
    fake = directory / "fake-haproxy"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/args"\n'
                    'cp "$3" "$(dirname "$0")/seen.cfg"\n')
    fake.chmod(0o755)
    return fake


def test_the_launcher_adds_the_option_to_rays_configuration_and_runs_haproxy_with_rays_arguments(
        tmp_path: Path) -> None:
    config = rays_configuration(tmp_path)
    launcher = write_launcher(str(tmp_path))
    args = ["-db", "-f", str(config), "-dR", "-sf", "4242", "-x", str(tmp_path / "admin.sock")]

    done = subprocess.run([launcher, *args], env={**os.environ, REAL_BINARY_VARIABLE: str(fake_haproxy(tmp_path))},
                          capture_output=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert Path(launcher).name == LAUNCHER_NAME
    assert (tmp_path / "args").read_text().split("\n")[:-1] == args
    assert "option forwardfor" in defaults_section((tmp_path / "seen.cfg").read_text())
    assert config.read_text() == (tmp_path / "seen.cfg").read_text()  # in place: the path Ray watches


def test_the_launcher_refuses_to_start_haproxy_it_could_not_configure(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text("global\n    maxconn 10\n")

    done = subprocess.run([write_launcher(str(tmp_path)), "-db", "-f", str(config)], capture_output=True,
                          env={**os.environ, REAL_BINARY_VARIABLE: str(fake_haproxy(tmp_path))}, timeout=60)

    assert done.returncode != 0 and b"defaults" in done.stderr
    assert not (tmp_path / "args").exists()


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="no haproxy on this machine")
def test_haproxy_accepts_rays_configuration_with_the_option(tmp_path: Path) -> None:
    config = rays_configuration(tmp_path)
    config.write_text(with_forwardfor(config.read_text()))

    checked = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, timeout=60)

    assert checked.returncode == 0, checked.stderr

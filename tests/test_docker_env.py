"""What `make docker-test` hands the engine and the builds (scripts/docker_env.py), and how the
Dockerfiles take it: engine settings that work on these machines, the host's pip index and CA
bundle as build secrets and read-only mounts, never as a layer, and an overridable base."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess

import pytest

from tests.test_docker_static import DOCKERFILES, ROOT, parse_dockerfile

spec = importlib.util.spec_from_file_location("docker_env", ROOT / "scripts/docker_env.py")
docker_env = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docker_env)

HOST_PIP = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.default-timeout='180'
:env:.find-links='/opt/wheels'
global.cert='/etc/other.crt'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/elsewhere'
global.index-url='https://mirror.example/simple'
"""


def test_containers_conf_caps_ulimits_and_picks_runc_cgroupfs_and_file_events():
    conf = docker_env.containers_conf(20000, 32768)
    assert 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]' in conf
    for line in ('runtime = "runc"', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"'):
        assert line in conf
    assert conf.index("[containers]") < conf.index("default_ulimits") < conf.index("[engine]")


def test_nproc_is_capped_at_pid_max(tmp_path):
    pid_max = tmp_path / "pid_max"
    pid_max.write_text("123\n")
    nofile, nproc = docker_env.hard_limits(pid_max)
    assert nproc == 123 and 0 < nofile <= 1 << 20


def test_pip_config_environment_beats_files_and_aliases_fold():
    config = docker_env.parse_pip_config_list(HOST_PIP)
    assert config["find-links"] == "/opt/wheels"  # :env: over global
    assert config["cert"] == "/etc/ssl/certs/ca-certificates.crt"
    assert config["timeout"] == "180"  # default-timeout is pip's alias of timeout
    assert config["extra-index-url"] == "file:///opt/pypi/simple file:///opt/pypi-more/simple"


def test_pip_settings_keep_the_sources_mount_local_ones_and_move_the_cert():
    conf, mounts, cert = docker_env.pip_settings(docker_env.parse_pip_config_list(HOST_PIP))
    assert cert == "/etc/ssl/certs/ca-certificates.crt"
    assert f"cert = {docker_env.CERT_TARGET}" in conf and "/etc/ssl" not in conf
    assert "index-url = https://mirror.example/simple" in conf
    assert "find-links = /opt/wheels" in conf
    assert "constraint" not in conf  # the host's caps are not the image's
    # a local index's pages link to ../../files: its parent is mounted; a wheel folder itself
    assert mounts == ["/opt/pypi", "/opt/pypi-more", "/opt/wheels"]


def test_write_produces_every_file_the_build_needs(tmp_path, monkeypatch):
    bundle = tmp_path / "bundle.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    config = {"cert": str(bundle), "find-links": f"{wheels} /does/not/exist"}
    monkeypatch.setattr(docker_env, "host_pip_config", lambda python: config)
    out = tmp_path / "settings"
    lines = docker_env.write(out, "python3")
    assert (out / "ca.crt").read_text() == bundle.read_text()
    assert (out / "mounts").read_text() == f"{wheels}\n"  # only folders that exist
    assert re.fullmatch(r"nofile=\d+:\d+\nnproc=\d+:\d+\n", (out / "ulimits").read_text())
    assert "runc" in (out / "containers.conf").read_text()
    assert any(str(wheels) in line for line in lines)


def test_without_a_host_cert_the_secret_is_empty_and_pip_conf_names_none(tmp_path, monkeypatch):
    monkeypatch.setattr(docker_env, "host_pip_config", lambda python: {"cert": "/missing.crt"})
    docker_env.write(tmp_path, "python3")
    assert (tmp_path / "ca.crt").read_text() == ""
    assert "cert" not in (tmp_path / "pip.conf").read_text()


# --- the Dockerfiles take these settings ----------------------------------------------------------
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_pip_settings_reach_the_install_as_secrets_only(dockerfile):
    instrs = parse_dockerfile(dockerfile)
    install = [i for i in instrs if i.op == "RUN" and "scripts/install.sh" in i.args]
    assert len(install) == 1
    flags, _ = install[0].flags_and_words()
    assert "type=secret,id=pip.conf" in flags.get("mount", "")
    assert "type=secret,id=ca.crt" in flags.get("mount", "")
    assert "export PIP_CONFIG_FILE=/run/secrets/pip.conf" in install[0].args
    # no index, credentials or CA bundle in an ENV, ARG or a copied file
    for ins in instrs:
        if ins.op in ("ENV", "ARG", "COPY"):
            assert not re.search(r"PIP_(INDEX|EXTRA|CERT|CONFIG)|pip\.conf|\.crt\b", ins.args), ins


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_base_and_torch_index_are_build_arguments(dockerfile):
    instrs = parse_dockerfile(dockerfile)
    first_from = next(n for n, i in enumerate(instrs) if i.op == "FROM")
    assert instrs[first_from].args == "${BASE_IMAGE}"
    assert any(i.op == "ARG" and i.args.startswith("BASE_IMAGE=") for i in instrs[:first_from]), (
        "BASE_IMAGE is declared before FROM, with the pinned digest as its default"
    )
    assert not any(i.op == "ENV" and "TORCH_INDEX_URL" in i.args for i in instrs)
    # VOLUME folders exist, owned by the image's user (an anonymous volume copies the owner)
    if any(i.op == "VOLUME" for i in instrs):
        assert "mkdir -p results .cache" in " ".join(i.args for i in instrs if i.op == "RUN")


def _make_n(*args: str) -> str:
    keep = ("PATH", "HOME", "LANG", "SHELL")
    env = {k: v for k, v in os.environ.items() if k in keep}
    run = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return run.stdout


@pytest.mark.skipif(not shutil.which("make"), reason="no make")
def test_docker_test_builds_every_image_unless_told_and_ci_the_robot_one():
    every = _make_n("docker-test")
    assert 'scripts/docker_test.sh "robot,metaworld,alfred,metaworld-gpu"' in every
    assert 'scripts/docker_test.sh "metaworld"' in _make_n("docker-test", "IMAGE=metaworld")
    assert "scripts/docker_test.sh robot" in _make_n("docker-test-ci")
    assert "podman build --format docker -f" in _make_n("docker-build", "DOCKER=podman")


def test_ci_runs_the_tests_then_builds_and_smoke_tests_the_robot_image():
    ci = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines()]
    build = next(i for i, ln in enumerate(ci) if "scripts/docker_test.sh robot" in ln)
    assert ci.index("make test") < build
    # only "no engine can be had here" (3) is a skip; a failed build or smoke (1) fails CI
    assert "if [[ $rc -eq 3 ]]; then" in ci
    script = (ROOT / "scripts/docker_test.sh").read_text()
    assert script.count("exit 3") == 1 and "exit $failed" in script

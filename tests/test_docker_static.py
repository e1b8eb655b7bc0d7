"""What can be checked of the Docker images without a Docker engine (none runs here).

Every image installs from the same lock as CI, pins its base by digest, runs as a non-root user
and copies only what it needs; the lock and pyproject.toml agree.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted((ROOT / "docker").glob("*/Dockerfile"))
ALLOWED_COPIES = {"pyproject.toml", "requirements.lock", "Makefile", "README.md", "scripts",
                  "benchmark", "envs", "oracle_cache", "examples", "leaderboards"}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, args = line.partition(" ")
            out.append((op.upper(), args.strip()))
    return out


def test_the_four_images_exist():
    assert {p.parent.name for p in DOCKERFILES} == {"metaworld", "metaworld-gpu", "alfred", "robot"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_base_image_is_pinned_by_digest(dockerfile):
    froms = [a for op, a in instructions(dockerfile) if op == "FROM"]
    assert froms, "no FROM"
    for base in froms:
        assert re.search(r"@sha256:[0-9a-f]{64}\b", base), f"{base} is not pinned by digest"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_installs_through_the_locked_install_script(dockerfile):
    runs = " ".join(a for op, a in instructions(dockerfile) if op == "RUN")
    assert "scripts/install.sh" in runs
    copied = " ".join(a for op, a in instructions(dockerfile) if op == "COPY")
    assert "requirements.lock" in copied and "scripts" in copied
    assert "pip install -r requirements.lock" in (ROOT / "scripts/install.sh").read_text().replace(
        '"${PIP[@]}"', "pip install"
    )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_runs_as_a_non_root_user(dockerfile):
    ops = instructions(dockerfile)
    users = [a for op, a in ops if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, (op, _) in enumerate(ops) if op == "USER")
    assert all(op != "USER" or a not in ("root", "0") for op, a in ops[last_user:])


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_copies_only_what_it_needs(dockerfile):
    for op, args in instructions(dockerfile):
        if op != "COPY":
            continue
        sources = [a for a in args.split() if not a.startswith("--")][:-1]
        assert sources, args
        for src in sources:
            assert src.rstrip("/") in ALLOWED_COPIES, f"{dockerfile.parent.name} copies {src}"


def test_server_image_has_a_healthcheck():
    ops = dict(instructions(ROOT / "docker/robot/Dockerfile"))
    assert "HEALTHCHECK" in ops


def test_dockerignore_keeps_local_state_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "results", ".cache"):
        assert entry in ignored


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def _declared() -> list[Requirement]:
    """Runtime dependencies plus the `dev` extra, with self-referencing extras expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    reqs, todo = list(project["dependencies"]), list(extras["dev"])
    while todo:
        req = Requirement(todo.pop())
        if req.name == project["name"]:
            for extra in req.extras:
                todo.extend(extras[extra])
        else:
            reqs.append(str(req))
    return [Requirement(r) for r in reqs]


def test_every_declared_dependency_is_locked_within_its_range():
    pins = _pins()
    for req in _declared():
        name = req.name.lower().replace("_", "-")
        if name == "torch":
            continue  # installed first by scripts/install.sh as torch==2.13.0; checked below
        assert name in pins, f"{req.name} is declared but not in requirements.lock (run `make lock`)"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{req.name}=={pins[name]} in the lock does not satisfy '{req}' (run `make lock`)"
        )


def test_torch_pin_satisfies_the_declared_range_and_is_not_locked_as_cuda():
    torch_req = next(r for r in _declared() if r.name == "torch")
    assert torch_req.specifier.contains("2.13.0")
    assert 'torch==2.13.0' in (ROOT / "scripts/install.sh").read_text()
    assert not any(n.startswith("nvidia-") for n in _pins())


def test_ci_installs_from_the_same_lock():
    assert "make test" in (ROOT / ".ci/run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(STAMP\): .*requirements\.lock", makefile, re.M)
    assert "scripts/install.sh" in makefile
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.M)

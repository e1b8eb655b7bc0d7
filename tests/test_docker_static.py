"""What can be checked of the Docker images without a Docker engine (none runs here).

Every image installs from the same lock as CI, pins its base by digest, runs as a non-root user
and copies only what it needs; `.dockerignore` keeps local state out; the lock files agree with
pyproject.toml; and CI (`.ci/run` -> `make test`) installs from that same lock.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted((ROOT / "docker").glob("*/Dockerfile"))
IMAGES = {"metaworld", "metaworld-gpu", "alfred", "robot"}
LOCK = ROOT / "requirements.lock"
THOR_LOCK = ROOT / "docker/alfred/requirements-thor.lock"
THOR_IN = ROOT / "docker/alfred/requirements-thor.in"
# what an image may COPY from the repository: the package sources, the install path and its
# lock files, and the Makefile/README that `make bench` and the package metadata need
ALLOWED_COPIES = {
    "pyproject.toml", "requirements.lock", "Makefile", "README.md", "scripts", "benchmark",
    "envs", "oracle_cache", "leaderboards", "examples", "docker/alfred/requirements-thor.lock",
}  # fmt: skip
# the stack the lock is resolved for (scripts/lock.sh): CPython 3.11 on x86_64 Linux
TARGET_ENV = {
    **default_environment(),
    "python_version": "3.11",
    "python_full_version": "3.11.9",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}


# --- reading Dockerfiles (dockerfile-parse) ------------------------------------------------------
@dataclass
class Instruction:
    op: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the arguments, continuations joined
    line: int  # 1-based

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON-array form (`CMD ["a", "b"]`), or None for the shell form."""
        if self.args.startswith("["):
            try:
                value = json.loads(self.args)
            except json.JSONDecodeError:
                return None
            return value if isinstance(value, list) else None
        return None

    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """`--flag=value` options (COPY --chown=..., RUN --mount=...) and the other words; a
        repeated flag keeps its values joined by spaces."""
        words = self.exec_form or shlex.split(self.args)
        flags: dict[str, str] = {}
        while words and words[0].startswith("--"):
            key, _, value = words.pop(0)[2:].partition("=")
            flags[key] = f"{flags[key]} {value}" if key in flags else value
        return flags, words


def parse_dockerfile(path: Path) -> list[Instruction]:
    """The instructions of a Dockerfile, comments dropped, as dockerfile-parse reads them."""
    parser = DockerfileParser(path=str(path), env_replace=False)
    return [
        Instruction(s["instruction"].upper(), s["value"].strip(), s["startline"] + 1)
        for s in parser.structure
        if s["instruction"].upper() != "COMMENT"
    ]


def stages(path: Path) -> list[str]:
    """The base image of every FROM, with ARG defaults substituted."""
    return DockerfileParser(path=str(path)).parent_images


def shell_commands(instrs: list[Instruction]) -> list[str]:
    """The commands of every RUN (its --mount flags dropped), split at && / ; / ||."""
    out = []
    for ins in instrs:
        if ins.op == "RUN":
            _, words = ins.flags_and_words()
            text = " ".join(words) if ins.exec_form else re.sub(r"^(--\S+\s+)+", "", ins.args)
            out += [c.strip() for c in re.split(r"&&|\|\||;", text) if c.strip()]
    return out


def test_dockerfiles_are_read_with_continuations_comments_and_args(tmp_path):
    df = tmp_path / "Dockerfile"
    df.write_text(
        "# syntax=docker/dockerfile:1\nARG BASE=python:3.11@sha256:" + "a" * 64 + "\n"
        "FROM ${BASE} AS build\nRUN --mount=type=secret,id=x apt-get update \\\n# inside\n"
        ' && apt-get install -y make\nCOPY --chown=u:u a b ./\nCMD ["make", "bench"]\n'
    )
    instrs = parse_dockerfile(df)
    assert [i.op for i in instrs] == ["ARG", "FROM", "RUN", "COPY", "CMD"]
    assert stages(df) == ["python:3.11@sha256:" + "a" * 64]
    assert shell_commands(instrs) == ["apt-get update", "apt-get install -y make"]
    assert instrs[2].flags_and_words()[0] == {"mount": "type=secret,id=x"}
    assert instrs[3].flags_and_words() == ({"chown": "u:u"}, ["a", "b", "./"])
    assert instrs[4].exec_form == ["make", "bench"] and instrs[4].line == 8


# --- the images ---------------------------------------------------------------------------------
def test_the_four_images_exist():
    assert {p.parent.name for p in DOCKERFILES} == IMAGES


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_base_image_is_pinned_by_digest(dockerfile):
    bases = stages(dockerfile)
    assert bases, "no FROM"
    for base in bases:
        assert re.fullmatch(r"[\w./:-]+@sha256:[0-9a-f]{64}", base), f"{base}: not pinned by digest"
    # the comment says how to refresh the digest and that it was not resolved here
    assert "docker buildx imagetools inspect" in dockerfile.read_text()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_installs_through_the_locked_install_script(dockerfile):
    instrs = parse_dockerfile(dockerfile)
    commands = shell_commands(instrs)
    assert any(re.match(r"bash scripts/install\.sh\b", c) for c in commands), "no install.sh"
    copied = {w for i in instrs if i.op == "COPY" for w in i.flags_and_words()[1][:-1]}
    assert {"requirements.lock", "scripts", "pyproject.toml"} <= copied
    # nothing else is pip-installed except a lock file, without dependency resolution
    for c in commands:
        if re.search(r"\bpip(3)? install\b", c):
            words = shlex.split(c)
            assert "-r" in words and "--no-deps" in words, f"unlocked install: {c}"
            lock = words[words.index("-r") + 1]
            assert lock.endswith(".lock") and lock in copied, c
    assert any(c.startswith(".venv/bin/python -m pip check") for c in commands)


def test_install_script_installs_torch_then_the_lock_then_the_project():
    text = (ROOT / "scripts/install.sh").read_text().replace('"${PIP[@]}"', "pip install")
    steps = [
        text.index('pip install "torch==2.13.0"'),
        text.index("pip install -r requirements.lock"),
        text.index("pip install --no-deps -e ."),
    ]
    assert steps == sorted(steps)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_runs_as_a_non_root_user(dockerfile):
    instrs = parse_dockerfile(dockerfile)
    users = [i for i in instrs if i.op == "USER"]
    assert users, "no USER: the image would run as root"
    assert all(u.args.split(":")[0] not in ("root", "0") for u in users)
    # the install and everything after it run as that user
    install = next(i for i in instrs if i.op == "RUN" and "scripts/install.sh" in i.args)
    assert users[0].line < install.line
    useradd = [shlex.split(c) for c in shell_commands(instrs) if c.startswith("useradd ")]
    assert len(useradd) == 1, "the user is created once"
    words = useradd[0]
    # USER names the uid (hadolint DL3066: a name may not resolve on the host), the one created
    uid = words[words.index("--uid") + 1]
    assert uid != "0" and all(u.args == f"{uid}:{uid}" for u in users)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_copies_only_what_it_needs(dockerfile):
    instrs = parse_dockerfile(dockerfile)
    assert not any(i.op == "ADD" for i in instrs), "use COPY (ADD fetches URLs and unpacks)"
    ignored = dockerignore()
    for ins in instrs:
        if ins.op != "COPY":
            continue
        flags, words = ins.flags_and_words()
        assert "from" not in flags or flags["from"], ins.args
        assert "chown" in flags, f"line {ins.line}: files copied for root, not the image's user"
        for src in words[:-1]:
            src = src.rstrip("/")
            assert src in ALLOWED_COPIES, f"{dockerfile.parent.name} copies {src}"
            assert (ROOT / src).exists(), f"{src} does not exist"
            assert not any(fnmatch(src, pat) for pat in ignored), f"{src} is in .dockerignore"


def test_every_served_port_has_a_healthcheck():
    robot = parse_dockerfile(ROOT / "docker/robot/Dockerfile")
    assert any(i.op == "HEALTHCHECK" for i in robot)
    for df in DOCKERFILES:
        instrs = parse_dockerfile(df)
        if any(i.op == "EXPOSE" for i in instrs):
            assert any(i.op == "HEALTHCHECK" for i in instrs), df.parent.name


def test_robot_entrypoint_matches_the_real_robot_package():
    instrs = parse_dockerfile(ROOT / "docker/robot/Dockerfile")
    entry = next(i.exec_form for i in instrs if i.op == "ENTRYPOINT")
    cmd = next(i.exec_form for i in instrs if i.op == "CMD")
    assert entry and cmd and entry[1] == "-m"
    module = ROOT / (entry[2].replace(".", "/") + ".py")
    if not (ROOT / "envs/real_robot").is_dir():
        pytest.skip("envs/real_robot is not in this tree yet")
    assert module.exists(), f"the robot image runs {entry[2]}, which does not exist"
    source = module.read_text()
    for flag in (w for w in cmd if w.startswith("--")):
        assert flag in source, f"{entry[2]} has no {flag} option (the robot image's CMD)"


def test_gpu_image_renders_through_nvidia_egl():
    text = (ROOT / "docker/metaworld-gpu/Dockerfile").read_text()
    assert "MUJOCO_GL=egl" in text and "PYOPENGL_PLATFORM=egl" in text
    assert re.search(r"NVIDIA_DRIVER_CAPABILITIES=\S*graphics", text)
    assert "libEGL_nvidia.so.0" in text
    cpu = (ROOT / "docker/metaworld/Dockerfile").read_text()
    assert "MUJOCO_GL=egl" in cpu and "libosmesa6" in cpu and "libegl-mesa0" in cpu


def test_alfred_image_has_thor_its_display_and_the_task_files():
    instrs = parse_dockerfile(ROOT / "docker/alfred/Dockerfile")
    text = " ".join(i.args for i in instrs)
    for pkg in ("xvfb", "xauth"):  # xvfb-run needs xauth; Debian only recommends it
        assert re.search(rf"\b{pkg}\b", text)
    assert "ALFRED_DATA=" in text and "json_2.1.0" in text
    assert "requirements-thor.lock" in text
    entry = next(i.exec_form for i in instrs if i.op == "ENTRYPOINT")
    # xvfb-run as PID 1 never sees Xvfb's ready signal and hangs: an init runs it
    assert entry[:3] == ["tini", "--", "xvfb-run"] and entry[-1] == "make"
    assert re.search(r"\btini\b", next(i.args for i in instrs if "apt-get install" in i.args))


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def test_dockerignore_keeps_local_state_out():
    ignored = dockerignore()
    for entry in (".git", ".venv", "results", ".cache", "**/__pycache__", "**/.env"):
        assert entry in ignored


# --- the lock files and pyproject.toml ----------------------------------------------------------
def pins(path: Path) -> dict[str, str]:
    """name -> version of a lock file; every line must be an exact pin for the target."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        req = Requirement(line)
        assert not req.url and not req.extras, f"{path.name}: {line} is not a plain pin"
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{path.name}: {line} is not a pin"
        if req.marker is None or req.marker.evaluate(TARGET_ENV):
            name = canonicalize_name(req.name)
            assert name not in out, f"{path.name}: {name} pinned twice for the target"
            out[name] = specs[0].version
    return out


def declared(*extras: str) -> list[Requirement]:
    """Runtime dependencies plus the given extras, self-referencing extras expanded, for the
    target environment."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    reqs, todo, seen = list(project["dependencies"]), [], set()
    for extra in extras:
        todo += optional[extra]
    while todo:
        req = Requirement(todo.pop())
        if canonicalize_name(req.name) == canonicalize_name(project["name"]):
            for extra in req.extras - seen:
                seen.add(extra)
                todo += optional[extra]
        else:
            reqs.append(str(req))
    out = [Requirement(r) for r in reqs]
    return [r for r in out if r.marker is None or r.marker.evaluate({**TARGET_ENV, "extra": ""})]


def test_every_declared_dependency_is_locked_within_its_range():
    locked = pins(LOCK)
    for req in declared("dev"):
        name = canonicalize_name(req.name)
        if name == "torch":
            continue  # installed before the lock by scripts/install.sh; checked below
        assert name in locked, f"{req.name} is declared but not in requirements.lock: `make lock`"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{req.name}=={locked[name]} in requirements.lock does not satisfy '{req}': `make lock`"
        )


def test_torch_is_pinned_by_the_install_path_not_the_lock_and_no_cuda_is_locked():
    locked = pins(LOCK)
    assert "torch" not in locked
    assert not [n for n in locked if n.startswith("nvidia-") or n == "triton"]
    torch = next(r for r in declared("dev") if r.name == "torch")
    install = (ROOT / "scripts/install.sh").read_text()
    pinned = re.search(r"torch==([\w.+]+)", install).group(1)
    assert torch.specifier.contains(pinned)
    assert f"TORCH_VERSION={pinned}" in (ROOT / "scripts/lock.sh").read_text()
    assert f"TORCH_PIN := torch=={pinned}" in (ROOT / "Makefile").read_text()


def test_lock_headers_name_the_resolver_that_make_lock_pins():
    uv = re.search(r"^UV_VERSION=(\S+)", (ROOT / "scripts/lock.sh").read_text(), re.M).group(1)
    for lock in (LOCK, THOR_LOCK):
        assert lock.read_text().startswith("# "), lock.name
        assert f"with uv {uv};" in lock.read_text().splitlines()[0], f"{lock.name}: `make lock`"


def test_alfred_lock_adds_the_alfred_thor_extra_without_moving_other_pins():
    main, thor = pins(LOCK), pins(THOR_LOCK)
    own = {canonicalize_name(Requirement(r).name): Requirement(r) for r in _in_lines(THOR_IN)}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in project["optional-dependencies"]["alfred-thor"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in thor and req.specifier.contains(thor[name]), f"{req} not in the thor lock"
    assert thor["ai2thor"] == "2.1.0"  # ALFRED's pin
    for name, version in thor.items():
        if name in own:
            assert own[name].specifier.contains(version)
        else:  # a new package, never another version of one requirements.lock pins
            assert name not in main, f"{name} {version} in the thor lock, {main[name]} in the main"
    assert set(own) <= set(thor)


def _in_lines(path: Path) -> list[str]:
    return [
        ln.split("#")[0].strip() for ln in path.read_text().splitlines() if ln.split("#")[0].strip()
    ]


# --- CI and the Makefile ------------------------------------------------------------------------
def test_ci_installs_from_the_same_lock():
    ci = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines()]
    assert "make test" in ci
    makefile = (ROOT / "Makefile").read_text()
    stamp = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert stamp and "requirements.lock" in stamp.group(1) and "pyproject.toml" in stamp.group(1)
    assert "scripts/install.sh" in stamp.group(2)
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.M)
    assert re.search(r"^lock:\n\tbash scripts/lock\.sh", makefile, re.M)


def _make_n(*args: str) -> str:
    if not shutil.which("make"):
        pytest.skip("no make")
    # a clean environment: no MAKEFLAGS or variables from an outer `make test ...`
    keep = ("PATH", "HOME", "LANG", "SHELL")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith("LC_")}
    run = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return run.stdout


def test_docker_bench_picks_the_image_and_mounts_results_and_cache():
    gpu = _make_n("docker-bench", "GPU=1", "BUDGET=paper", "OUT=some/results")
    assert "docker build -f docker/metaworld-gpu/Dockerfile" in gpu
    assert "--gpus all -e MUJOCO_GL=egl" in gpu
    assert f'-v "{ROOT}/some/results:/home/bench/suite/results"' in gpu
    assert f'-v "{ROOT}/.cache:/home/bench/suite/.cache"' in gpu
    assert 'bench TASK="metaworld/drawer-open"' in gpu and 'BUDGET="paper"' in gpu
    thor = _make_n("docker-bench", "TASK=alfred", "BACKEND=thor")
    assert "docker/alfred/Dockerfile" in thor and "BACKEND=thor" in thor
    assert "--gpus" not in thor
    cpu = _make_n("docker-bench")
    assert "docker/metaworld/Dockerfile" in cpu and "--gpus" not in cpu
    assert "docker build -f docker/robot/Dockerfile" in _make_n("docker-build", "IMAGE=robot")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_the_workdir_matches_the_mounts(dockerfile):
    instrs = parse_dockerfile(dockerfile)
    assert [i.args for i in instrs if i.op == "WORKDIR"][-1] == "/home/bench/suite"
    if dockerfile.parent.name != "robot":
        entry = next(i.exec_form for i in instrs if i.op == "ENTRYPOINT")
        assert entry[-1] == "make"  # `docker-bench` passes `bench TASK=...` to make

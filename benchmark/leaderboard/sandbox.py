"""A sandbox for running a submitter's code during `validate --rerun`.

The re-run is a child process (the sweep's workers are its children) with
  - an environment built from an allow-list: no API keys, tokens or secrets reach it;
  - a read-only copy of the code (the checkout's packages plus any --code-path) on PYTHONPATH,
    and a separate writable scratch directory for results, HOME and TMPDIR;
  - no network: user + network + mount + pid namespaces where the machine allows them
    (`unshare`; see sandbox_init.py for what happens inside), else a socket guard installed
    in every interpreter through `sitecustomize.py` (loopback and AF_UNIX only);
  - resource limits (address space, CPU time, open files, file size, processes) and an
    optional wall-clock limit; whatever it leaves running is killed when it ends.
docs/leaderboard.md says what this covers and what it does not.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from benchmark.leaderboard.protocol import REPO_ROOT

Isolation = Literal["auto", "namespace", "guard"]
GiB = 1 << 30
#: variables a re-run may see (values copied from the validator's environment when set)
PASS_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "MUJOCO_GL",
    "PYOPENGL_PLATFORM",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "TORCH_NUM_THREADS",
    "PYTHONHASHSEED",
)
#: never passed, even if a future allow-list entry matched (defence in depth)
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
#: top-level entries of the checkout that are not code the re-run needs
COPY_SKIP = {
    ".git",
    ".venv",
    "venv",
    ".cache",
    "results",
    "leaderboards",
    "docs",
    "docker",
    "node_modules",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".env",
}
UNSHARE_FLAGS = (
    "--user",
    "--map-root-user",
    "--net",
    "--mount",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
)
SIGNAL_MEANING = {
    signal.SIGXCPU: "the CPU-time limit (--max-cpu-s)",
    signal.SIGXFSZ: "the file-size limit (--max-file-gb)",
    signal.SIGKILL: "SIGKILL (a hard limit, the wall-clock limit or the kernel's memory killer)",
    signal.SIGSEGV: "a segmentation fault (often the address-space limit, --max-memory-gb)",
}


class SandboxError(RuntimeError):
    """The sandbox cannot be prepared as asked; the message says what to do."""


@dataclass(frozen=True)
class Limits:
    """Per-process resource limits of the re-run (None: no limit) and its wall-clock limit."""

    memory_gb: float | None = 16.0
    cpu_s: int | None = None
    open_files: int | None = 1024
    file_size_gb: float | None = 8.0
    processes: int | None = 512
    wall_s: float | None = None

    def rlimits(self) -> list[tuple[int, int]]:
        pairs = [
            (resource.RLIMIT_AS, self.memory_gb and self.memory_gb * GiB),
            (resource.RLIMIT_CPU, self.cpu_s),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_FSIZE, self.file_size_gb and self.file_size_gb * GiB),
            (resource.RLIMIT_NPROC, self.processes),
        ]
        return [(res, int(v)) for res, v in pairs if v]

    def apply(self) -> None:
        """preexec_fn: lower the hard limits too (never above the current ones), so the re-run
        cannot raise them again."""
        for res, value in self.rlimits():
            _, hard = resource.getrlimit(res)
            # CPU: SIGXCPU at the soft limit (a clear reason), SIGKILL 2 s later if ignored
            soft, new_hard = value, value + 2 if res == resource.RLIMIT_CPU else value
            if hard != resource.RLIM_INFINITY:
                soft, new_hard = min(soft, hard), min(new_hard, hard)
            resource.setrlimit(res, (soft, new_hard))

    def describe(self) -> str:
        parts = [
            f"address space {self.memory_gb:g} GiB" if self.memory_gb else "",
            f"CPU {self.cpu_s} s" if self.cpu_s else "",
            f"{self.open_files} open files" if self.open_files else "",
            f"files up to {self.file_size_gb:g} GiB" if self.file_size_gb else "",
            f"{self.processes} processes" if self.processes else "",
            f"wall clock {self.wall_s:g} s" if self.wall_s else "",
        ]
        return "limits per process: " + (", ".join(p for p in parts if p) or "none")


@dataclass
class SandboxResult:
    returncode: int
    timed_out: bool
    isolation: str
    log: Path

    def signal(self) -> int | None:
        """The signal that ended the re-run, from either launch path (Popen's -N or 128+N)."""
        if self.returncode < 0:
            return -self.returncode
        return self.returncode - 128 if 128 < self.returncode < 160 else None

    def reason(self) -> str:
        if self.timed_out:
            return "it was stopped at the wall-clock limit (--timeout-s)"
        sig = self.signal()
        if sig is not None:
            return f"it was killed by {SIGNAL_MEANING.get(sig, f'signal {sig}')}"
        if self.returncode == 97:
            return "the sandbox could not be set up (see its log)"
        return f"it exited with code {self.returncode}"


def interpreter() -> str:
    """This Python, reached through its environment's resolved directory: `_kept` mounts that
    directory, while a virtualenv reached by a symlink inside the repository (a git worktree
    sharing another checkout's `.venv`) would sit in the hidden repository and fail to start
    (exit 127)."""
    exe = Path(sys.executable)
    try:
        return str(Path(sys.prefix).resolve() / exe.relative_to(sys.prefix))
    except ValueError:  # not under its prefix: keep it as it was launched
        return sys.executable


@functools.cache
def namespace_problem() -> str | None:
    """None when user+net+mount+pid namespaces can be made here, else why not (one line)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "no `unshare` program (util-linux) on PATH"
    try:
        out = subprocess.run(
            [unshare, *UNSHARE_FLAGS, "true"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"`unshare` failed: {err}"
    if out.returncode != 0:
        lines = (out.stderr or "").strip().splitlines()
        return f"`unshare` refused: {lines[-1] if lines else out.returncode}"
    return None


def choose_isolation(want: Isolation = "auto") -> tuple[str, str]:
    """('namespace' | 'guard', why): namespaces where possible unless the guard is asked for."""
    if want == "guard":
        return "guard", "socket guard (asked for with --isolation guard)"
    problem = namespace_problem()
    if problem is None:
        return "namespace", "user, network, mount and pid namespaces"
    if want == "namespace":
        raise SandboxError(f"namespaces are not available here: {problem}")
    return "guard", f"socket guard only (no namespaces: {problem})"


def scrubbed_env(home: Path, tmp: Path, pythonpath: list[Path]) -> dict[str, str]:
    """The re-run's whole environment: the allow-list, plus where it may write."""
    env = {
        k: os.environ[k]
        for k in PASS_ENV
        if k in os.environ and not any(m in k.upper() for m in SECRET_MARKERS)
    }
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("MUJOCO_GL", "egl")
    env.setdefault("PYOPENGL_PLATFORM", env["MUJOCO_GL"])
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        XDG_CACHE_HOME=str(home / ".cache"),
        MPLCONFIGDIR=str(home / ".matplotlib"),
        PYTHONPATH=os.pathsep.join(str(p) for p in pythonpath),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VLMBENCH_SANDBOX="1",
    )
    return env


def _set_tree_mode(root: Path, writable: bool) -> None:
    """Read-only: drop every w bit (dirs stay r-x); writable: give the owner w back."""
    if not root.exists():
        return
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        if writable:
            path.chmod(mode | stat.S_IWUSR)
        else:
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _ignore_for_copy(top: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
        if Path(folder) == top:
            skip |= {n for n in names if n in COPY_SKIP}
        return skip

    return ignore


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of the re-run's process group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class Sandbox:
    """Scratch layout under `root`: code/ (read-only), in/ (read-only inputs), work/, home/,
    tmp/ (writable), sandbox.log (the re-run's output)."""

    root: Path
    limits: Limits = field(default_factory=Limits)
    isolation: Isolation = "auto"
    code_paths: tuple[Path, ...] = ()
    source: Path = REPO_ROOT
    mode: str = ""
    why: str = ""

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.code, self.inputs = self.root / "code", self.root / "in"
        self.work, self.home, self.tmp = self.root / "work", self.root / "home", self.root / "tmp"
        self.log = self.root / "sandbox.log"

    def pythonpath(self) -> list[Path]:
        extra = sorted(p for p in (self.code / "extra").glob("*") if p.is_dir())
        return [self.code / "_sandbox", self.code / "repo", *extra]

    def prepare(self, inputs: dict[str, str], trees: dict[str, Path] | None = None) -> None:
        """Copy the code, the input files and the input directories (`trees`, e.g. a cache
        bundle; links are not followed) in, and make them read-only."""
        self.mode, self.why = choose_isolation(self.isolation)
        self.release()
        shutil.rmtree(self.code, ignore_errors=True)
        shutil.rmtree(self.inputs, ignore_errors=True)
        for d in (self.work, self.home, self.tmp, self.inputs):
            d.mkdir(parents=True, exist_ok=True)
        self._copy_code()
        for name, text in inputs.items():
            (self.inputs / name).write_text(text)
        for name, tree in (trees or {}).items():
            shutil.copytree(tree, self.inputs / name, symlinks=True)
        spec = {"hide": self._hidden(), "keep": self._kept()}
        (self.inputs / "sandbox.json").write_text(json.dumps(spec, indent=1))
        _set_tree_mode(self.code, writable=False)
        _set_tree_mode(self.inputs, writable=False)

    def _copy_code(self) -> None:
        repo = self.code / "repo"
        shutil.copytree(self.source, repo, ignore=_ignore_for_copy(self.source))
        (repo / "leaderboards").mkdir()
        for data in (self.source / "leaderboards").glob("*.json"):  # protocols, baselines
            shutil.copyfile(data, repo / "leaderboards" / data.name)
        for i, extra in enumerate(self.code_paths):
            if not Path(extra).is_dir():
                raise SandboxError(f"--code-path {extra} is not a directory")
            dest = self.code / "extra" / f"{i:02d}"
            shutil.copytree(extra, dest, ignore=_ignore_for_copy(Path(extra)))
        guard = self.code / "_sandbox"
        guard.mkdir()
        shutil.copyfile(Path(__file__).with_name("netguard.py"), guard / "sitecustomize.py")

    def release(self) -> None:
        """Make the read-only parts writable again so the scratch can be deleted."""
        _set_tree_mode(self.code, writable=True)
        _set_tree_mode(self.inputs, writable=True)

    def cleanup(self) -> None:
        self.release()
        shutil.rmtree(self.root, ignore_errors=True)

    def _hidden(self) -> list[str]:
        """Directories replaced by an empty tmpfs: where secrets and other users' files live."""
        dirs = {Path.home(), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")}
        dirs |= {Path(tempfile.gettempdir()), REPO_ROOT, Path(self.source)}
        real = {d.resolve() for d in dirs if d.is_dir()}
        return sorted(str(d) for d in real if d != Path("/"))

    def _kept(self) -> list[list[str]]:
        """What stays reachable: the scratch (writable), the code and Python (read-only)."""
        keep = [[str(self.root), "rw"], [str(self.code), "ro"], [str(self.inputs), "ro"]]
        python = {sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parents[1])}
        return keep + [[str(Path(p).resolve()), "ro"] for p in sorted(python)]

    def command(self, argv: list[str]) -> list[str]:
        """`argv` as launched: under sandbox_init.py (which kills what it leaves behind),
        inside the namespaces when there are any."""
        init = [interpreter(), "-I", "-S", str(Path(__file__).with_name("sandbox_init.py"))]
        where = ["--cwd", str(self.work), "--"]
        if self.mode != "namespace":
            return [*init, *where, *argv]
        unshare = shutil.which("unshare") or "unshare"
        spec = str(self.inputs / "sandbox.json")
        return [unshare, *UNSHARE_FLAGS, *init, "--lock", spec, *where, *argv]

    def describe(self) -> str:
        return f"{self.why}; read-only code copy; scrubbed environment; {self.limits.describe()}"

    def run(self, argv: list[str]) -> SandboxResult:
        """Run `argv` in the sandbox; the process tree is gone when this returns."""
        if not self.mode:
            raise SandboxError("call prepare() before run()")
        env = scrubbed_env(self.home, self.tmp, self.pythonpath())
        timed_out = False
        with self.log.open("wb") as out:
            proc = subprocess.Popen(
                self.command(argv),
                env=env,
                cwd=self.work,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=self.limits.apply,  # noqa: PLW1509 - no threads of ours run here
            )
            try:
                proc.wait(timeout=self.limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc.pid)
                rc = proc.wait()
        return SandboxResult(rc, timed_out, self.describe(), self.log)

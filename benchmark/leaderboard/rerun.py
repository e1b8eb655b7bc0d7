"""`validate --rerun`: re-execute a submission in a sandbox and compare.

The scripted teacher is deterministic per content key and runs are seeded, so on the same stack
the re-run must give the same curves: success rates, steps and query counts exactly, returns to
float round-off. Wall time is the only column allowed to differ. A VLM-track entry is re-run
the same way with every rating replayed from the cache bundle it ships (read-only, no provider
and no API key: the reference VLMs may be gone, the bundle is what makes the entry checkable);
a rating the bundle lacks stops the re-run, so the entry does not reproduce.

The submitter's code never runs in this process: the re-run is `rerun_child.py` inside
`sandbox.Sandbox` (scrubbed environment, read-only code copy, no network, resource limits), and
what it writes back is parsed here as untrusted data.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from benchmark.leaderboard.confine import confine, shown
from benchmark.leaderboard.oneline import one_line
from benchmark.leaderboard.protocol import get_protocol
from benchmark.leaderboard.sandbox import Isolation, Limits, Sandbox, SandboxResult, interpreter
from benchmark.leaderboard.schema import SHA256, Curve, Submission

EXACT = ("step", "queries", "success_rate")
#: the shipped bundle's name inside the sandbox's read-only inputs
SHIPPED_BUNDLE = "bundle"
MAX_RESULT_BYTES = 64 << 20


class FreshRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task: str
    seed: int
    curve: Curve


class FreshResult(BaseModel):
    """What the sandboxed re-run reports: its curves, or one line saying why it has none."""

    model_config = ConfigDict(extra="forbid")
    error: str | None = None
    source_sha256: SHA256 | None = None
    threads: list[int] = []
    runs: list[FreshRun] = []


def _log_tail(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    return one_line(lines[-1], 300) if lines else "(empty log)"


def read_result(
    out: Path, res: SandboxResult, log_kept: bool = False
) -> tuple[FreshResult | None, str | None]:
    """(result, None) or (None, one line saying why there is no usable result)."""
    if res.timed_out or not out.is_file():
        where = f" ({res.log})" if log_kept else ""
        return None, (
            f"the re-run produced no result: {res.reason()}; last line of its log{where}: "
            f"{_log_tail(res.log)}"
        )
    if out.stat().st_size > MAX_RESULT_BYTES:
        return None, f"the re-run's result file is larger than {MAX_RESULT_BYTES >> 20} MB"
    try:
        fresh = FreshResult.model_validate_json(out.read_bytes())
    except ValidationError as err:
        return None, f"the re-run's result file is malformed: {one_line(str(err), 200)}"
    if fresh.error:
        return None, f"the re-run failed: {one_line(fresh.error)}"
    if res.signal() is not None:
        return None, f"the re-run did not finish: {res.reason()}"
    return fresh, None


def compare(sub: Submission, fresh: FreshResult) -> list[str]:
    """Problems: every run of the submission against the re-run's curve for the same key."""
    problems: list[str] = []
    by_key = {(r.task, r.seed): r.curve for r in fresh.runs}
    for r in sub.runs:
        new = by_key.get((r.task, r.seed))
        rid = f"runs[{r.task} seed {r.seed}]"
        if new is None:
            problems.append(f"{rid}: the re-run produced no such run")
            continue
        for col in EXACT:
            if getattr(r.curve, col) != getattr(new, col):
                problems.append(
                    f"{rid}: does not reproduce: curve.{col} was {getattr(r.curve, col)} and "
                    f"the re-run gives {getattr(new, col)}"
                )
        old_ret, new_ret = r.curve.eval_return, new.eval_return
        if len(old_ret) != len(new_ret) or not all(
            math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
            for a, b in zip(old_ret, new_ret, strict=True)
        ):
            problems.append(f"{rid}: does not reproduce: curve.eval_return differs")
    return problems


def _shipped_bundle(sub: Submission, path: Path, track: str) -> tuple[Path | None, str]:
    """(the entry's shipped bundle, a note) for a VLM-track entry; (None, "") for another
    track; (None, why) when a VLM-track entry has no usable bundle to replay."""
    if track != "vlm":
        return None, ""
    if sub.cache_bundle is None:
        return None, "a vlm-track entry is re-run from its cache bundle, and it ships none"
    bundle, why = confine(path.parent, sub.cache_bundle.path, sub.method.name)
    if bundle is None or not bundle.is_dir():
        return None, f"cache_bundle {shown(sub.cache_bundle.path)} {why or 'is missing'}"
    return bundle, f"every rating replayed from the shipped bundle {shown(sub.cache_bundle.path)}"


def rerun_check(
    path: str | Path,
    jobs: int | None = None,
    work_dir: str | Path | None = None,
    protocols_file: Path | None = None,
    limits: Limits | None = None,
    isolation: Isolation = "auto",
    code_paths: tuple[Path, ...] = (),
) -> tuple[list[str], list[str]]:
    """(problems, notes) from re-running the submission; no problems: it reproduced.

    `work_dir` keeps the scratch (results, logs) for inspection; by default it is deleted.
    """
    text = Path(path).read_text()
    sub = Submission.model_validate(json.loads(text))
    proto = get_protocol(sub.protocol.id, path=protocols_file)
    bundle, why = _shipped_bundle(sub, Path(path), proto.track)
    if proto.track == "vlm" and bundle is None:
        return [why], []
    notes: list[str] = [why] if why else []
    threads = sorted({r.threads for r in sub.runs})
    if len(threads) > 1:
        notes.append(f"the runs used different thread counts {threads}; re-running with 1")
    scratch = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="lb-rerun-"))
    box = Sandbox(scratch, limits or Limits(), isolation, tuple(code_paths))
    try:
        trees = {SHIPPED_BUNDLE: bundle} if bundle else None
        box.prepare({"submission.json": text, "protocol.json": proto.model_dump_json()}, trees)
        out = box.work / "result.json"
        res = box.run(
            [
                interpreter(),
                "-m",
                "benchmark.leaderboard.rerun_child",
                "--submission",
                str(box.inputs / "submission.json"),
                "--protocol",
                str(box.inputs / "protocol.json"),
                "--out",
                str(out),
                "--work",
                str(box.work / "protocol"),
                *(["--jobs", str(jobs)] if jobs else []),
                *(["--bundle", str(box.inputs / SHIPPED_BUNDLE)] if bundle else []),
            ]
        )
        notes.append(f"isolation: {res.isolation}")
        fresh, problem = read_result(out, res, log_kept=work_dir is not None)
    finally:
        if work_dir:
            box.release()
        else:
            box.cleanup()
    if fresh is None:
        return [problem or "the re-run produced no result"], notes
    if sub.method.code.source_sha256 and fresh.source_sha256 != sub.method.code.source_sha256:
        notes.append(
            f"{sub.method.code.class_path}'s source changed since submission "
            "(sha256 differs); the re-run used the current code"
        )
    return compare(sub, fresh), notes

"""`validate --rerun`: re-execute a scripted-track submission and check that it reproduces.

The scripted teacher is deterministic per content key and runs are seeded, so on the same stack
the re-run must give the same curves: success rates, steps and query counts exactly, returns to
float round-off. Wall time is the only column allowed to differ.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

from benchmark.leaderboard.collect import collect_runs, method_info
from benchmark.leaderboard.protocol import get_protocol
from benchmark.leaderboard.schema import Submission
from benchmark.leaderboard.submit import run_protocol

EXACT = ("step", "queries", "success_rate")


def rerun_check(
    path: str | Path,
    jobs: int | None = None,
    work_dir: str | Path | None = None,
    protocols_file: Path | None = None,
) -> tuple[list[str], list[str]]:
    """(problems, notes) from re-running the submission; no problems: it reproduced."""
    sub = Submission.model_validate(json.loads(Path(path).read_text()))
    proto = get_protocol(sub.protocol.id, path=protocols_file)
    if proto.track != "scripted":
        return [
            f"--rerun re-executes the scripted track only; '{proto.id}' is a {proto.track} "
            "track (replay its cache bundle instead)"
        ], []
    ref = sub.method.code.ref
    problems: list[str] = []
    notes: list[str] = []
    now = method_info(ref)["code"]["source_sha256"]
    if sub.method.code.source_sha256 and now != sub.method.code.source_sha256:
        notes.append(
            f"{sub.method.code.class_path}'s source changed since submission "
            "(sha256 differs); the re-run uses the current code"
        )
    scratch = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="lb-rerun-"))
    try:
        threads = sorted({r.threads for r in sub.runs})
        if len(threads) > 1:
            notes.append(f"the runs used different thread counts {threads}; re-running with 1")
        results, _ = run_protocol(
            [ref], proto, scratch, jobs, threads[0] if len(threads) == 1 else 1
        )
        fresh, _ = collect_runs(results, ref, proto, sub.method.name)
    finally:
        if work_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    by_key = {(r["task"], r["seed"]): r["curve"] for r in fresh}
    for r in sub.runs:
        new = by_key.get((r.task, r.seed))
        rid = f"runs[{r.task} seed {r.seed}]"
        if new is None:
            problems.append(f"{rid}: the re-run produced no such run")
            continue
        for col in EXACT:
            if getattr(r.curve, col) != new[col]:
                problems.append(
                    f"{rid}: does not reproduce: curve.{col} was {getattr(r.curve, col)} and "
                    f"the re-run gives {new[col]}"
                )
        old_ret = r.curve.eval_return
        if len(old_ret) != len(new["eval_return"]) or not all(
            math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
            for a, b in zip(old_ret, new["eval_return"], strict=True)
        ):
            problems.append(f"{rid}: does not reproduce: curve.eval_return differs")
    return problems, notes

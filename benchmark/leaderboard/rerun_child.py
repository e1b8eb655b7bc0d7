"""Inside the re-run sandbox: import the submitted method, run its protocol, write the curves.

`python -m benchmark.leaderboard.rerun_child --submission S --protocol P --out OUT --work DIR
[--bundle B]` (B: a VLM-track entry's shipped cache bundle, replayed instead of asking a VLM).
This is the only place that imports a submitter's code during validation, and it runs only in
the sandbox (sandbox.py). Failures are written to OUT as {"error": one line}, so the validator
reports them without a traceback; the validator treats everything in OUT as untrusted input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmark.leaderboard.oneline import one_line


def _write(out: Path, doc: dict[str, Any]) -> None:
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(out)


def rerun(
    sub: dict[str, Any],
    proto_doc: dict[str, Any],
    work: Path,
    jobs: int | None,
    bundle: Path | None = None,
) -> dict:
    """The result document: {"source_sha256", "runs": [{task, seed, curve}]} or {"error"}.

    `bundle`: replay every rating from it (a VLM-track entry's shipped bundle), read-only."""
    from benchmark.leaderboard.collect import IncompleteRunsError, collect_runs, method_info
    from benchmark.leaderboard.protocol import Protocol
    from benchmark.leaderboard.submit import SubmitError, run_protocol

    proto = Protocol.model_validate(proto_doc)
    ref, name = sub["method"]["code"]["ref"], sub["method"]["name"]
    try:
        info = method_info(ref)
    except BaseException as err:  # noqa: BLE001 - anything at import is the submission's fault
        return {"error": one_line(f"cannot import the method '{ref}': {type(err).__name__}: {err}")}
    threads = sorted({int(r["threads"]) for r in sub["runs"]})
    try:
        results, _ = run_protocol(
            [ref], proto, work, jobs, threads[0] if len(threads) == 1 else 1, bundle=bundle
        )
        fresh, _ = collect_runs(results, ref, proto, name)
    except (SubmitError, IncompleteRunsError) as err:
        return {"error": one_line(str(err))}
    return {
        "source_sha256": info["code"]["source_sha256"],
        "threads": threads,
        "runs": [{"task": r["task"], "seed": r["seed"], "curve": r["curve"]} for r in fresh],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmark.leaderboard.rerun_child")
    ap.add_argument("--submission", type=Path, required=True)
    ap.add_argument("--protocol", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--bundle", type=Path, default=None, help="replay the ratings from it")
    args = ap.parse_args(argv)
    sub = json.loads(args.submission.read_text())
    proto = json.loads(args.protocol.read_text())
    doc = rerun(sub, proto, args.work, args.jobs, args.bundle)
    _write(args.out, doc)
    return 3 if "error" in doc else 0


if __name__ == "__main__":
    sys.exit(main())

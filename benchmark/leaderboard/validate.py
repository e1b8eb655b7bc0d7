"""Validate submissions: every check says exactly what is wrong and where.

Checks, in order: JSON and schema; a `baseline` claim against the suite's list; file name =
method name; the board it sits in; protocol match (suite, tasks, budget, seeds, track, oracle);
the runs' resolved budget and SAC settings; complete tasks x seeds; each run consistent with its
own curve; every named file confined to the entry's own directory, then metrics files present,
matching their digests and the values copied from them; the summary recomputed from the
per-seed values; the cache bundle (vlm track); the content digest; no duplicate names on a board.

Passing these checks means the entry is self-consistent, not that its numbers are true: anyone
can recompute the digests of a forged entry. Only `--rerun` (rerun.py) verifies it.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from benchmark.leaderboard.baselines import baseline_problem, load_baselines
from benchmark.leaderboard.collect import read_curve
from benchmark.leaderboard.confine import confine, escaping_links, shown
from benchmark.leaderboard.digests import content_digest, sha256_file, tree_digest
from benchmark.leaderboard.oneline import one_line
from benchmark.leaderboard.protocol import Protocol, UnknownProtocolError, get_protocol
from benchmark.leaderboard.schema import RunEntry, Submission
from benchmark.leaderboard.summary import compute_summary, score_matrix
from benchmark.rl.sac_history import with_recorded_defaults

TOLERANCE = 1e-9
MAX_SUBMISSION_BYTES = 64 << 20


@dataclass
class FileReport:
    path: Path
    problems: list[str] = field(default_factory=list)
    submission: Submission | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ValidationReport:
    files: list[FileReport]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    def text(self) -> str:
        out = []
        for f in self.files:
            if f.ok:
                out.append(f"OK       {f.path}")
            else:
                out.append(f"REJECTED {f.path}: {len(f.problems)} problem(s)")
                out.extend(f"  - {p}" for p in f.problems)
        return "\n".join(out)


def _schema_problems(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(document)"
        got = e.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        out.append(f"schema: {loc}: {e['msg']}{shown}")
    return out


def _run_id(task: str, seed: int) -> str:
    return f"runs[{task} seed {seed}]"


def _check_protocol(sub: Submission, protocols_file: Path | None) -> tuple[Protocol | None, list]:
    problems: list[str] = []
    try:
        official = get_protocol(sub.protocol.id, path=protocols_file)
    except UnknownProtocolError as err:
        return None, [f"protocol: {err}"]
    mine, theirs = sub.protocol.model_dump(), official.model_dump()
    for key in theirs:
        if mine.get(key) != theirs[key]:
            problems.append(
                f"protocol.{key} is {mine.get(key)!r} but protocol '{official.id}' fixes "
                f"{theirs[key]!r}"
            )
    expected = official.resolved_budget()
    for key in sorted(set(expected) | set(sub.resolved_budget)):
        if sub.resolved_budget.get(key) != expected.get(key):
            problems.append(
                f"resolved_budget.{key} is {sub.resolved_budget.get(key)!r} but protocol "
                f"'{official.id}' runs with {expected.get(key)!r}"
            )
    # an entry recorded before a SAC field existed ran what `sac_history` says
    sub_sac = with_recorded_defaults(sub.sac)
    for key, value in official.sac.items():
        if sub_sac.get(key) != value:
            problems.append(
                f"sac.{key} is {sub_sac.get(key)!r} but protocol '{official.id}' sets {value!r}"
            )
    return official, problems


def _check_runs(sub: Submission, proto: Protocol) -> tuple[bool, list[str]]:
    """(complete, problems): coverage of tasks x seeds and each run's self-consistency."""
    problems: list[str] = []
    seen = Counter((r.task, r.seed) for r in sub.runs)
    expected = [(t, s) for t in proto.tasks for s in proto.seeds]
    missing = [k for k in expected if k not in seen]
    extra = sorted(k for k in seen if k not in set(expected))
    dupes = sorted(k for k, n in seen.items() if n > 1)
    for t, s in missing:
        problems.append(f"missing run: task {t} seed {s} (the protocol needs every task x seed)")
    for t, s in extra:
        problems.append(f"unexpected run: task {t} seed {s} is not part of protocol '{proto.id}'")
    for t, s in dupes:
        problems.append(f"duplicate run: task {t} seed {s} appears {seen[(t, s)]} times")
    for r in sub.runs:
        rid, c = _run_id(r.task, r.seed), r.curve
        if r.final_success != c.success_rate[-1]:
            problems.append(
                f"{rid}.final_success is {r.final_success} but the last point of its curve is "
                f"{c.success_rate[-1]}"
            )
        if r.steps != c.step[-1] or r.queries != c.queries[-1]:
            problems.append(f"{rid}: steps/queries do not match the last point of its curve")
        if any(b <= a for a, b in zip(c.step, c.step[1:], strict=False)):
            problems.append(f"{rid}.curve.step is not strictly increasing")
    oracles = sorted({r.oracle for r in sub.runs})
    if len(oracles) > 1:
        problems.append(f"runs used different oracles {oracles}; a submission uses one")
    scripted = [o for o in oracles if o.startswith("scripted")]
    if proto.track == "scripted" and len(scripted) != len(oracles):
        problems.append(f"track 'scripted' needs the scripted teacher, but runs used {oracles}")
    if proto.track == "vlm" and scripted:
        problems.append(f"track 'vlm' needs a VLM's ratings, but runs used {oracles}")
    return not (missing or extra or dupes), problems


def _check_metrics(r: RunEntry, path: Path) -> list[str]:
    """One run's metrics file against its digest and the values copied from it."""
    rid = _run_id(r.task, r.seed)
    if not path.is_file():
        return [f"{rid}: metrics file {shown(r.metrics_file)} is missing"]
    problems: list[str] = []
    digest = sha256_file(path)
    if digest != r.metrics_sha256:
        problems.append(
            f"{rid}: digest mismatch: {shown(r.metrics_file)} has sha256 {digest[:16]}… but the "
            f"submission records {r.metrics_sha256[:16]}… (the metrics file was changed or replaced)"
        )
    try:
        curve = read_curve(path)
    except (ValueError, KeyError, UnicodeDecodeError, csv.Error) as err:
        return [*problems, f"{rid}: cannot read {shown(r.metrics_file)}: {one_line(str(err), 160)}"]
    for col, values in curve.items():
        mine = getattr(r.curve, col)
        if mine != values:
            i = next(
                (i for i, (a, b) in enumerate(zip(mine, values, strict=False)) if a != b),
                min(len(mine), len(values)),
            )
            a = mine[i] if i < len(mine) else "(none)"
            b = values[i] if i < len(values) else "(none)"
            problems.append(f"{rid}.curve.{col}[{i}] is {a} but its metrics file says {b}")
    if curve["success_rate"][-1] != r.final_success:
        problems.append(
            f"{rid}.final_success is {r.final_success} but its metrics file ends with "
            f"{curve['success_rate'][-1]}"
        )
    return problems


def _check_bundle(sub: Submission, base: Path) -> list[str]:
    if sub.protocol.track == "vlm" and sub.cache_bundle is None:
        return [
            "cache_bundle is missing: the vlm track ships the cache bundle of every rating used"
        ]
    if sub.cache_bundle is None:
        return []
    rel = sub.cache_bundle.path
    bundle, why = confine(base, rel, sub.method.name)
    if bundle is None:
        return [f"cache_bundle.path {shown(rel)} {why}"]
    if not bundle.is_dir():
        return [f"cache_bundle: directory {shown(rel)} is missing"]
    links = escaping_links(bundle)
    if links:
        return [f"cache_bundle: {shown(links[0])} is a link leading outside the bundle"]
    digest, count = tree_digest(bundle)
    if digest != sub.cache_bundle.sha256:
        return [
            f"cache_bundle: digest mismatch: {shown(rel)} has sha256 {digest[:16]}… "
            f"({count} files) but the submission records "
            f"{sub.cache_bundle.sha256[:16]}… ({sub.cache_bundle.files} files)"
        ]
    return []


def _check_files(sub: Submission, base: Path) -> list[str]:
    """Every file the submission names: confined to its own directory, then checked."""
    problems: list[str] = []
    for r in sub.runs:
        path, why = confine(base, r.metrics_file, sub.method.name)
        if path is None:
            problems.append(f"{_run_id(r.task, r.seed)}.metrics_file {shown(r.metrics_file)} {why}")
            continue
        problems.extend(_check_metrics(r, path))
    return problems + _check_bundle(sub, base)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0, abs_tol=TOLERANCE)


def _check_summary(sub: Submission, proto: Protocol) -> list[str]:
    scores = score_matrix(sub.runs, proto.tasks, proto.seeds)
    want = compute_summary(scores, proto.tasks)
    got = sub.summary
    problems = []
    for key in ("iqm", "iqm_ci_low", "iqm_ci_high", "mean"):
        if not _close(getattr(got, key), want[key]):
            problems.append(
                f"summary mismatch: summary.{key} is {getattr(got, key):.6g} but the per-seed "
                f"final_success values give {want[key]:.6g}"
            )
    per_task = {t.task: t for t in got.per_task}
    for w in want["per_task"]:
        g = per_task.get(w["task"])
        if g is None:
            problems.append(f"summary.per_task has no entry for {w['task']}")
            continue
        for key in ("mean", "std", "ci_low", "ci_high", "n"):
            if not _close(float(getattr(g, key)), float(w[key])):
                problems.append(
                    f"summary mismatch: summary.per_task[{w['task']}].{key} is "
                    f"{getattr(g, key):.6g} but its per-seed values give {w[key]:.6g}"
                )
    return problems


def _load(path: Path) -> tuple[Any, str | None]:
    """(document, None) or (None, one line saying why the file is not a JSON document)."""
    try:
        if path.stat().st_size > MAX_SUBMISSION_BYTES:
            return (
                None,
                f"larger than {MAX_SUBMISSION_BYTES >> 20} MB: a submission is a small JSON file",
            )
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, "file not found"
    except IsADirectoryError:
        return None, "is a directory, not a submission JSON file"
    except UnicodeDecodeError:
        return None, "not valid JSON: the file is not UTF-8 text"
    except json.JSONDecodeError as err:
        return None, f"not valid JSON: {err}"
    except RecursionError:
        return None, "not valid JSON: nested too deeply"
    except OSError as err:
        return None, f"cannot read the file: {err.strerror or err}"


def validate_file(
    path: str | Path, protocols_file: Path | None = None, baselines: dict[str, str] | None = None
) -> FileReport:
    path = Path(path)
    report = FileReport(path)
    doc, why = _load(path)
    if why:
        report.problems.append(why)
        return report
    try:
        sub = Submission.model_validate(doc)
    except ValidationError as err:
        report.problems.extend(_schema_problems(err))
        return report
    report.submission = sub
    p = report.problems
    claim = baseline_problem(sub, load_baselines() if baselines is None else baselines)
    if claim:
        p.append(claim)
    if path.stem != sub.method.name:
        p.append(f"file name '{path.name}' must be the method name: '{sub.method.name}.json'")
    proto, protocol_problems = _check_protocol(sub, protocols_file)
    p.extend(protocol_problems)
    if proto is not None:
        board = Path(*proto.board.split("/"))
        where = path.resolve().parent
        if where.name != "submissions" or where.parent.parts[-len(board.parts) :] != board.parts:
            p.append(
                f"a '{proto.id}' submission belongs in <leaderboards>/{proto.board}/submissions/, "
                f"not {path.parent}"
            )
        complete, run_problems = _check_runs(sub, proto)
        p.extend(run_problems)
        if complete:
            p.extend(_check_summary(sub, proto))
    p.extend(_check_files(sub, path.parent))
    digest = content_digest(doc)
    if digest != sub.content_sha256:
        p.append(
            f"content digest mismatch: the document hashes to {digest[:16]}… but content_sha256 "
            f"says {sub.content_sha256[:16]}… (it was edited after submission; submit again)"
        )
    return report


def _board_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob("*.json")) if path.parent.name == "submissions" else []


def validate_files(
    paths: list[str | Path] | None = None,
    root: str | Path | None = None,
    protocols_file: Path | None = None,
) -> ValidationReport:
    """Validate files (default: every submission under `root`), then duplicates per board."""
    from benchmark.leaderboard.protocol import DEFAULT_ROOT

    if not paths:
        paths = sorted(Path(root or DEFAULT_ROOT).glob("**/submissions/*.json"))
    baselines = load_baselines()
    reports = [validate_file(p, protocols_file, baselines) for p in paths]
    names: dict[tuple[str, str], list[Path]] = {}
    for f in {p.resolve() for r in reports for p in [r.path, *_board_files(r.path)]}:
        doc, why = _load(f)
        try:
            key = (str(f.parent), str(doc["method"]["name"]))
        except (KeyError, TypeError):  # unreadable or not a submission: reported on its own
            continue
        names.setdefault(key, []).append(f)
    for r in reports:
        if r.submission is None:
            continue
        dup = names.get((str(r.path.resolve().parent), r.submission.method.name), [])
        others = [d for d in dup if d != r.path.resolve()]
        if others:
            r.problems.append(
                f"duplicate name: method name '{r.submission.method.name}' is also used by "
                + ", ".join(str(o) for o in others)
                + "; names must be unique on a board"
            )
    return ValidationReport(reports)

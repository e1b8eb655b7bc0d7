"""Golden recorded sweeps: committed bundles whose replay must give bit-identical metrics.

A replay test that records moments earlier in the same test cannot notice that behaviour
changed between two versions. These sweeps were recorded once and committed under
`tests/data/golden/<name>/` (`bundle/`: the answers, `digests.json`: one sha256 per run of its
metrics.csv without wall time). `make test` replays each bundle and compares; when a change is
meant to alter behaviour, `python scripts/golden.py regenerate` records them again and the diff
of `digests.json` (and of `bundle/entries.jsonl`) shows the change in review.

- `scripted`: the scripted teacher, two methods (a rating one and a preference one), one
  MetaWorld task and one ALFRED task;
- `gemini`: the real Gemini client (google-genai) against the loopback fake server
  (`oracle_cache.testing.fake_server`), so its entries are in the form a user's Gemini cache has.

Budgets are cut far below `smoke` so replaying both stays short; every run pins one torch thread
(float results can depend on the thread count).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.config import RunConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = REPO_ROOT / "tests" / "data" / "golden"
DIGESTS = "digests.json"
BUNDLE = "bundle"
REGENERATE = "python scripts/golden.py regenerate"
#: wall-clock columns differ on every run; everything else must not
WALL_COLUMNS = frozenset({"wall_s"})
#: a few feedback sessions, relabelling, reward training and two evaluations, in seconds
TINY_BUDGET: dict[str, Any] = {
    "total_steps": 200,
    "seed_steps": 50,
    "unsup_steps": 50,
    "feedback_every": 50,
    "queries_per_session": 6,
    "max_queries": 12,
    "eval_every": 100,
    "eval_episodes": 1,
    "max_episode_steps": 50,
    "reward_epochs": 1,
    "offline_episodes": 12,
    "offline_updates": 100,
}
TINY_SAC: dict[str, Any] = {"hidden_dim": 16, "hidden_depth": 2, "batch_size": 16}
TINY_IQL: dict[str, Any] = {"hidden_dim": 16, "batch_size": 16}
#: what the recording Gemini client is given (never part of a key: base_url is set at record time)
FAKE_GEMINI = {"api_keys": "golden-fake-key", "backoff": 0.01, "backoff_max": 0.05, "timeout": 30.0}


@dataclass(frozen=True)
class GoldenSweep:
    """One golden sweep: what it runs (the digests name each run as task/method/seedN)."""

    name: str
    tasks: tuple[str, ...]
    methods: tuple[str, ...]
    oracle: str
    seeds: tuple[int, ...] = (0,)
    budget: str = "smoke"
    budget_overrides: dict[str, Any] = field(default_factory=lambda: dict(TINY_BUDGET))
    sac: dict[str, Any] = field(default_factory=lambda: dict(TINY_SAC))
    iql: dict[str, Any] = field(default_factory=lambda: dict(TINY_IQL))

    @property
    def dir(self) -> Path:
        return GOLDEN_DIR / self.name

    @property
    def bundle(self) -> Path:
        return self.dir / BUNDLE

    def configs(self, out: Path, mode: str, **where: Any) -> list[RunConfig]:
        """Every run; `where`: cache_dir / bundle / oracle_options for this mode."""
        return [
            RunConfig(
                task=t,
                method=m,
                seed=s,
                budget=self.budget,
                oracle=self.oracle,
                cache_mode=mode,
                out_dir=str(out),
                budget_overrides=dict(self.budget_overrides),
                sac=dict(self.sac),
                iql=dict(self.iql),
                threads=1,
                log_sinks=[],
                **where,
            )
            for t in self.tasks
            for m in self.methods
            for s in self.seeds
        ]

    def spec(self) -> dict[str, Any]:
        """What was run, written beside the digests so a change to it shows in review too."""
        return {
            "tasks": list(self.tasks),
            "methods": list(self.methods),
            "seeds": list(self.seeds),
            "oracle": self.oracle,
            "budget": self.budget,
            "budget_overrides": self.budget_overrides,
            "sac": self.sac,
            "iql": self.iql,
            "threads": 1,
        }


SWEEPS: dict[str, GoldenSweep] = {
    s.name: s
    for s in (
        GoldenSweep(
            "scripted",
            ("metaworld/drawer-open", "alfred/pick-cool-then-place"),
            ("erl-vlm", "rl-vlm-f"),
            "scripted",
        ),
        # the agents' own defaults (no SAC/IQL options): a leaderboard protocol has no IQL
        # options, and the VLM-track re-run test submits this sweep under one
        GoldenSweep(
            "gemini",
            ("alfred/pick-cool-then-place",),
            ("erl-vlm", "rl-vlm-f"),
            "gemini",
            sac={},
            iql={},
        ),
    )
}


# --- digests ----------------------------------------------------------------------------------
def metrics_digest(path: Path) -> str:
    """sha256 of a metrics.csv re-written without its wall-time column(s)."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    keep = [i for i, name in enumerate(rows[0]) if name not in WALL_COLUMNS]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([row[i] for i in keep])
    return hashlib.sha256(buf.getvalue().encode()).hexdigest()


def run_id(cfg: RunConfig) -> str:
    return f"{cfg.task}/{cfg.method}/seed{cfg.seed}"


def run_all(configs: list[RunConfig]) -> tuple[dict[str, Path], dict[str, str]]:
    """Run each config in this process, in order: ({run id: its metrics.csv}, {run id: why it
    stopped}). A replay that misses stops only its own run, so every differing run is named."""
    from benchmark.loops.dispatch import run_any
    from oracle_cache import CacheMiss

    metrics, missed = {}, {}
    for c in configs:
        try:
            metrics[run_id(c)] = run_any(c) / "metrics.csv"
        except CacheMiss as err:
            missed[run_id(c)] = str(err)
    return metrics, missed


def digests_of(metrics: dict[str, Path]) -> dict[str, str]:
    return {rid: metrics_digest(path) for rid, path in sorted(metrics.items())}


def load_expected(sweep: GoldenSweep) -> dict[str, Any]:
    """The committed digests.json: {"spec": …, "runs": {run id: sha256}}."""
    path = sweep.dir / DIGESTS
    if not path.is_file():
        raise FileNotFoundError(f"no golden digests at {path}; record them with `{REGENERATE}`")
    return json.loads(path.read_text())


def differences(
    sweep: GoldenSweep,
    expected: dict[str, str],
    got: dict[str, str],
    metrics: dict[str, Path],
    missed: dict[str, str] | None = None,
) -> list[str]:
    """One line per run whose replayed metrics differ from the golden digest, whose replay
    asked for an answer the bundle does not hold (`missed`), or that is missing."""
    out = []
    missed = missed or {}
    for rid in sorted(set(expected) | set(got) | set(missed)):
        want, have = expected.get(rid), got.get(rid)
        if rid in missed:
            out.append(
                f"golden sweep '{sweep.name}', run {rid}: its replay asked a question the golden "
                f"bundle never recorded, so it behaves differently: {missed[rid].split('. ')[0]}"
            )
        elif want != have:
            where = f" (replayed metrics: {metrics[rid]})" if rid in metrics else ""
            out.append(
                f"golden sweep '{sweep.name}', run {rid}: metrics digest {str(have)[:16]} "
                f"differs from the golden {str(want)[:16]}{where}"
            )
    if out:
        out.append(
            "Behaviour changed. If that is intended, regenerate the golden sweeps with "
            f"`{REGENERATE}` and let the diff of tests/data/golden/*/{DIGESTS} be reviewed."
        )
    return out


def replay(sweep: GoldenSweep, out: Path) -> tuple[dict[str, str], dict[str, Path], dict[str, str]]:
    """Replay the committed bundle (read-only); (digests, metrics paths, misses) by run id."""
    metrics, missed = run_all(sweep.configs(out, "replay", bundle=str(sweep.bundle)))
    return digests_of(metrics), metrics, missed


def check(sweep: GoldenSweep, out: Path) -> list[str]:
    """Replay and compare against the committed digests; empty when bit-identical."""
    expected = load_expected(sweep)
    got, metrics, missed = replay(sweep, out)
    return differences(sweep, expected["runs"], got, metrics, missed)


# --- recording --------------------------------------------------------------------------------
@contextmanager
def recording_options(sweep: GoldenSweep) -> Iterator[dict[str, Any]]:
    """Oracle options while recording: for Gemini, the loopback fake server's address."""
    if sweep.oracle != "gemini":
        yield {}
        return
    from oracle_cache.testing.fake_server import FakeVLMServer

    with FakeVLMServer() as srv:
        yield {"base_url": srv.url, **FAKE_GEMINI}


def regenerate(sweep: GoldenSweep, work: Path | None = None) -> dict[str, str]:
    """Record the sweep afresh, replace its bundle, replay it and write its digests."""
    from oracle_cache.bundle import export_bundle

    work = Path(work or tempfile.mkdtemp(prefix=f"golden-{sweep.name}-"))
    cache = work / "cache"
    with recording_options(sweep) as options:
        recorded, _ = run_all(  # recording never misses
            sweep.configs(work / "record", "record", cache_dir=str(cache), oracle_options=options)
        )
    export_bundle(cache, work / "bundle")
    _replace_bundle(sweep.bundle, work / "bundle")
    got, metrics, missed = replay(sweep, work / "replay")
    if missed:
        raise RuntimeError(f"golden replay missed right after recording: {missed}")
    _same_learning(recorded, metrics)
    doc = {"_comment": f"Written by `{REGENERATE}`; do not edit.", "spec": sweep.spec()}
    doc["runs"] = got
    (sweep.dir / DIGESTS).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return got


def _replace_bundle(committed: Path, fresh: Path) -> None:
    """Write `fresh` over `committed`, keeping each committed entry whose answer and analysis
    are unchanged (only its recording time differs), so the bundle's diff shows real changes."""
    from oracle_cache.bundle import is_bundle, read_entries, write_entries

    old = {e["key"]: e for e in read_entries(committed)} if is_bundle(committed) else {}
    same = ("kind", "answer", "analysis", "document")
    entries = []
    for e in read_entries(fresh):
        kept = old.get(e["key"])
        entries.append(kept if kept and all(kept[f] == e[f] for f in same) else e)
    shutil.rmtree(committed, ignore_errors=True)
    write_entries(committed, entries)


def _same_learning(recorded: dict[str, Path], replayed: dict[str, Path]) -> None:
    """The recording and its replay learn the same (the bundle holds every answer used)."""
    oracle_cols = {"oracle_hits", "oracle_misses", "oracle_calls", *WALL_COLUMNS}
    for rid, path in recorded.items():
        a, b = (_rows(p, oracle_cols) for p in (path, replayed[rid]))
        if a != b:
            raise RuntimeError(f"golden run {rid}: its replay does not reproduce the recording")


def _rows(path: Path, drop: set[str]) -> list[list[str]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    keep = [i for i, name in enumerate(rows[0]) if name not in drop]
    return [[r[i] for i in keep] for r in rows]

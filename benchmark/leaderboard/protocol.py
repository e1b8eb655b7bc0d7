"""Leaderboard protocols: what every submission on one board must have run.

A protocol fixes the suite's task list, the budget (with any override), the seeds and the
oracle track, so that two entries on the same board are comparable. The official ones live in
`leaderboards/protocols.json` (data, reviewable in a diff); a protocol is never edited in place,
a changed one gets a new id.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from benchmark.rl.sac_history import SAC_MATMULS, SAC_PRECISIONS, with_recorded_defaults

#: the repository's leaderboards/ directory (the package is installed editable from the repo)
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO_ROOT / "leaderboards"
PROTOCOLS_FILE = DEFAULT_ROOT / "protocols.json"

Track = Literal["scripted", "vlm"]
#: what a run of the protocol is: "online" = the task's RL loop (online SAC, or offline IQL for
#: ALFRED), scored by success; "reward-model" = the reward-model track (docs/reward-track.md),
#: scored by how close the learned reward is to the dense one
Kind = Literal["online", "reward-model"]


class OracleSpec(BaseModel):
    """The oracle every run of the protocol uses (provider name as `oracle_cache` knows it)."""

    model_config = ConfigDict(extra="forbid")
    provider: str
    options: dict[str, Any] = Field(default_factory=dict)


class Protocol(BaseModel):
    """One leaderboard's fixed evaluation protocol."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    suite: str
    track: Track
    kind: Kind = "online"
    tasks: list[str] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    budget: str
    budget_overrides: dict[str, Any] = Field(default_factory=dict)
    sac: dict[str, Any] = Field(default_factory=dict)
    oracle: OracleSpec
    #: torch threads per run: results depend on it (reduction order), so a protocol fixes it
    threads: int = Field(1, ge=1)
    #: where its board lives, relative to the leaderboards root: `<suite>/<track>` when official
    board: str
    official: bool = True
    notes: str = ""

    @field_validator("sac")
    @classmethod
    def _record_numerics(cls, sac: dict[str, Any]) -> dict[str, Any]:
        """A protocol that runs SAC states its matmul precision and kernels, so reruns stay
        exact when SACConfig's defaults change (issue 19: bf16 is 1.6-1.8x faster on CPUs with
        bf16 units but gives other digits; oneDNN's fp32 kernels, the default since, round
        differently from MKL's). A protocol written before a field existed reads as what it
        ran (`sac_history`), and so do its entries (validate.py), so both still match."""
        sac = with_recorded_defaults(sac)
        for key, allowed in (("precision", SAC_PRECISIONS), ("matmul", SAC_MATMULS)):
            if sac and sac[key] not in allowed:
                raise ValueError(f"sac.{key} must be one of {', '.join(allowed)}, not {sac[key]!r}")
        return sac

    def resolved_budget(self) -> dict[str, Any]:
        """The budget every run must report (notes excluded: they are prose, not settings)."""
        from benchmark.config import get_budget

        budget = get_budget(self.budget).with_overrides(**self.budget_overrides).to_dict()
        budget.pop("notes", None)
        return budget

    @property
    def loop(self) -> str:
        """RunConfig.loop of every run of the protocol."""
        return "reward-model" if self.kind == "reward-model" else "auto"

    def is_offline(self) -> bool:
        """Trajectory tasks (ALFRED) learn offline with IQL: curves are over updates, not steps."""
        from envs import get_task

        return get_task(self.tasks[0]).action_kind == "discrete"

    def budget_text(self) -> str:
        b = self.resolved_budget()
        if self.kind == "reward-model":
            return (
                f"{b['max_queries']} queries per run in sessions of {b['queries_per_session']} "
                "on a fixed logged dataset, no RL"
            )
        size = (
            f"{b['offline_episodes']} logged episodes and {b['offline_updates']} IQL updates"
            if self.is_offline()
            else f"{b['total_steps']} environment steps"
        )
        return f"{size}, at most {b['max_queries']} queries per run"

    def score_name(self) -> str:
        """What a run's score (the `final_success` of its entry) measures on this board."""
        if self.kind == "reward-model":
            return "reward score (1 - sqrt(2) x EPIC distance to the dense reward)"
        return "final success"

    def curve_axis(self) -> str:
        if self.kind == "reward-model":
            return "oracle queries (reward-model track)"
        return "IQL updates (offline)" if self.is_offline() else "environment steps"

    def board_dir(self, root: str | Path | None = None) -> Path:
        return Path(root or DEFAULT_ROOT) / self.board

    def describe(self) -> str:
        seeds = ",".join(map(str, self.seeds))
        extra = " with protocol overrides" if self.budget_overrides or self.sac else ""
        return (
            f"{self.id}: suite {self.suite} ({len(self.tasks)} task(s)), budget "
            f"'{self.budget}'{extra}, seeds {seeds}, track {self.track} "
            f"(oracle {self.oracle.provider})"
            + (", reward-model track" if self.kind == "reward-model" else "")
        )


class UnknownProtocolError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@cache
def _load(path: str, mtime_ns: int) -> tuple[Protocol, ...]:
    """Parsed once per file version (the mtime is part of the cache key)."""
    doc = json.loads(Path(path).read_text())
    protocols = tuple(Protocol.model_validate(p) for p in doc["protocols"])
    ids = [p.id for p in protocols]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate protocol ids in {ids}")
    return protocols


def load_protocols(path: str | Path | None = None) -> dict[str, Protocol]:
    """All protocols by id, from `leaderboards/protocols.json` unless told otherwise."""
    file = Path(path or PROTOCOLS_FILE).resolve()
    if not file.is_file():
        raise FileNotFoundError(f"No protocols file at {file}; pass --protocols PATH")
    return {p.id: p for p in _load(str(file), file.stat().st_mtime_ns)}


def get_protocol(
    protocol_id: str | None = None,
    suite: str | None = None,
    track: str | None = None,
    path: str | Path | None = None,
    kind: str = "online",
) -> Protocol:
    """By id, or the official protocol of (suite, track) of that kind (online by default)."""
    protocols = load_protocols(path)
    if protocol_id:
        if protocol_id not in protocols:
            raise UnknownProtocolError(
                f"Unknown protocol '{protocol_id}'; choose one of {', '.join(protocols)} "
                "(`python -m benchmark leaderboard protocols` lists them)."
            )
        return protocols[protocol_id]
    matches = [
        p
        for p in protocols.values()
        if p.official and p.suite == suite and p.track == track and p.kind == kind
    ]
    if len(matches) != 1:
        boards = sorted({(p.suite, p.track) for p in protocols.values() if p.official})
        raise UnknownProtocolError(
            f"No official protocol for suite '{suite}' and track '{track}'; official boards: "
            + ", ".join(f"{s}/{t}" for s, t in boards)
            + ". Pass --protocol ID for a non-official one (e.g. smoke)."
        )
    return matches[0]

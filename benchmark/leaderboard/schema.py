"""The submission file format (pydantic; exported as JSON Schema for people who use other tools).

One JSON file per method and board: who made the method and where its code is, the protocol it
ran, the software stack, every run's final success and learning curve with the digest of the
metrics file it came from, the summary the standings show, and a digest of all of that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmark.leaderboard.protocol import Protocol

SCHEMA_VERSION = 1
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
SHA256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeRef(_Strict):
    """Where the method's code is: enough to re-run it (`ref`) and to tell if it changed."""

    ref: str = Field(description="what was submitted: 'package.module:Class' or a registry name")
    class_path: str = Field(description="the resolved 'module:Class'")
    url: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    source_sha256: SHA256 | None = Field(None, description="sha256 of the method's module file")


class MethodInfo(_Strict):
    name: str = Field(pattern=NAME_PATTERN, description="board-unique; also the file name")
    version: str
    authors: list[str] = Field(min_length=1)
    description: str = ""
    code: CodeRef
    query_kind: Literal["rate", "prefer"] | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class Curve(_Strict):
    """Evaluation points of one run, columnar (as in its metrics.csv)."""

    step: list[int] = Field(min_length=1)
    queries: list[int]
    success_rate: list[Unit]
    eval_return: list[Finite]

    @model_validator(mode="after")
    def _same_length(self) -> Curve:
        n = len(self.step)
        bad = [k for k in ("queries", "success_rate", "eval_return") if len(getattr(self, k)) != n]
        if bad:
            raise ValueError(f"curve columns {bad} do not have the {n} points of 'step'")
        return self


class RunEntry(_Strict):
    task: str
    seed: int
    final_success: Unit
    steps: int = Field(ge=0)
    queries: int = Field(ge=0)
    oracle: str
    threads: int = Field(ge=1)
    wall_s: float = Field(ge=0)
    curve: Curve
    metrics_file: str = Field(description="path of the run's metrics.csv, relative to this file")
    metrics_sha256: SHA256


class TaskSummary(_Strict):
    task: str
    mean: Unit
    std: Finite
    ci_low: Unit
    ci_high: Unit
    n: int


class Summary(_Strict):
    """Recomputed by the validator from the per-seed values; the standings rank on `iqm`."""

    iqm: Unit
    iqm_ci_low: Unit
    iqm_ci_high: Unit
    mean: Unit
    per_task: list[TaskSummary]


class BundleRef(_Strict):
    """The oracle-cache bundle of every rating the runs used (vlm track)."""

    path: str = Field(description="directory relative to this file")
    sha256: SHA256 = Field(description="digest over the bundle's files, see digests.tree_digest")
    files: int = Field(ge=1)


class Submission(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["baseline", "submission"] = "submission"
    method: MethodInfo
    protocol: Protocol
    resolved_budget: dict[str, Any]
    sac: dict[str, Any]
    stack: dict[str, Any]
    runs: list[RunEntry] = Field(min_length=1)
    summary: Summary
    cache_bundle: BundleRef | None = None
    created_at: str
    content_sha256: SHA256 = Field(
        description="sha256 of this document's canonical JSON without this field: "
        "catches any edit made after submission"
    )


def json_schema() -> dict[str, Any]:
    schema = Submission.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Leaderboard submission (vlm-feedback-bench)"
    return schema


def write_json_schema(path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    return path

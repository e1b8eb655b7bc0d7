"""Teacher profiles: the kinds of labelling error the scripted teacher can make.

ERL-VLM's claim is robustness to a VLM's noisy labels, and the kind of noise matters as much as
its rate. Each profile is one error model, in the spirit of BPref's scripted teachers, adapted
to ratings and preferences. A profile has two parts:

* placement: which queries are answered wrongly. `independent` draws per query from a generator
  seeded by the frames (the same frames always get the same answer); `view` thresholds a smooth
  field over what the camera sees (`context["view"]`: gripper and object positions; progress
  when the context has no view), so nearby states share their errors;
* destination: given an error on a state of true level t, the distribution of the answer.

Error rates come from published numbers only: by default 1 - the paper's 3-level rating accuracy
of the task (Sweep Into 0.90, Drawer Open 0.65, Soccer 0.668; 0.7 overall for other tasks);
`rate` overrides it for noise sweeps. Structural choices the papers do not pin (how errors are
shared between levels where no source says) are the neutral ones, uniform, and are listed in
docs/teachers.md. This module is pure arithmetic; `ScriptedTeacher` draws the answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: a rating the teacher did not give (the `skip` profile), like a VLM answer that cannot be parsed
UNANSWERED = -1

#: gripper and object positions within this distance (metres for MetaWorld; progress units when
#: the context has no view) share their errors. Not a published number: 5 cm is "a small
#: displacement" at the scale of the MetaWorld table; every run names it in the teacher identity.
DEFAULT_LENGTHSCALE = 0.05

#: vlm-like: the share of queries whose error is placed by the view field rather than drawn per
#: frame. Not published: the rebuttal reports both that identical segments can get different
#: labels (a per-query part) and errors tied to what is seen (a per-view part); half is neutral.
DEFAULT_VIEW_SHARE = 0.5


@dataclass(frozen=True)
class Profile:
    """One error model. `options` are the ScriptedTeacher options it reads (its identity)."""

    name: str
    summary: str
    placement: str  # "none" | "independent" | "view"
    options: tuple[str, ...]


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "oracle",
            "exact: the true level (progress binned, success on top); ties are 'no preference'",
            "none",
            ("no_preference_band",),
        ),
        Profile(
            "ordinal",
            "the original teacher, unchanged (the default): errs per frame with prob. "
            "1 - accuracy (= rate), mostly to an adjacent level (decay, bias)",
            "independent",
            ("accuracy", "rate", "task_accuracy", "bias", "decay", "no_preference_band", "seed"),
        ),
        Profile(
            "symmetric",
            "errs per frame with prob. rate, uniformly to any other level",
            "independent",
            ("rate", "task_accuracy", "no_preference_band", "seed"),
        ),
        Profile(
            "systematic",
            "errs where a smooth field over the view says so (nearby views share errors), to an "
            "adjacent level",
            "view",
            ("rate", "task_accuracy", "lengthscale", "no_preference_band", "seed"),
        ),
        Profile(
            "vlm-like",
            "errs at the paper's per-task rate, half by view (as systematic) and half per frame, "
            "and jumps: success rated in the lower half (2 levels: Bad; 4: Very bad or Bad), "
            "level 0 in the upper half, others uniform",
            "view",
            ("rate", "task_accuracy", "lengthscale", "view_share", "no_preference_band", "seed"),
        ),
        Profile(
            "skip",
            "leaves a share `rate` of queries unanswered (a rating of -1, a preference of -1), "
            "answers the rest like `base` (default oracle)",
            "independent",
            ("rate", "base", "no_preference_band", "seed"),
        ),
    )
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(
            f"unknown teacher profile {name!r}; choose one of {', '.join(PROFILES)} "
            "(`python -m oracle_cache teachers` lists them)"
        )
    return PROFILES[name]


def _uniform_over(targets: Sequence[int], levels: int) -> np.ndarray:
    d = np.zeros(levels)
    d[list(targets)] = 1.0 / len(targets)
    return d


def destinations(
    profile: str, level: int, levels: int, bias: float = 0.0, decay: float = 1.5
) -> np.ndarray:
    """P(answer | an error on a state of true `level`): zero at `level` (but see ordinal's
    edge case), sums to 1."""
    others = [j for j in range(levels) if j != level]
    if profile == "ordinal":
        o = np.array(others)
        w = np.exp(-decay * (np.abs(o - level) - 1)) * np.where(o > level, 1 + bias, 1 - bias)
        d = np.zeros(levels)
        if w.sum() <= 0:  # bias +-1 at an edge: the teacher cannot err there
            d[level] = 1.0
        else:
            d[o] = w / w.sum()
        return d
    if profile == "symmetric":
        return _uniform_over(others, levels)
    if profile == "systematic":
        return _uniform_over([j for j in (level - 1, level + 1) if 0 <= j < levels], levels)
    if profile == "vlm-like":
        middle = (levels - 1) / 2
        if level == levels - 1:  # the rebuttal: success rated Bad (n=2), Very bad or Bad (n=4)
            return _uniform_over([j for j in range(levels) if j < middle], levels)
        if level == 0:  # mirrored, so the 3-level Bad/Good accuracy is the paper's on both sides
            return _uniform_over([j for j in range(levels) if j > middle], levels)
        return _uniform_over(others, levels)
    raise ValueError(f"profile {profile!r} has no error destinations")


def expected_confusion(
    profile: str, levels: int, error_rate: float, bias: float = 0.0, decay: float = 1.5
) -> np.ndarray:
    """The configured P(answer | true level), rows true levels (answered queries only)."""
    if profile == "oracle" or levels < 2:
        return np.eye(levels)
    rows = [destinations(profile, t, levels, bias, decay) for t in range(levels)]
    return (1.0 - error_rate) * np.eye(levels) + error_rate * np.array(rows)


def pick(distribution: np.ndarray, u: float) -> int:
    """Inverse CDF: the answer a uniform draw `u` in [0, 1) selects."""
    cdf = np.cumsum(distribution)
    return int(min(np.searchsorted(cdf, u * cdf[-1], side="right"), len(cdf) - 1))


def field_point(
    ctx: Mapping[str, Any], lengthscale: float, use_view: bool = True
) -> tuple[list[float], str]:
    """Where a state sits for the error field: its view if the context has one, else progress."""
    view = ctx.get("view") if use_view else None
    if view is not None:
        return [float(v) / lengthscale for v in np.ravel(view)], "view"
    progress = 1.0 if ctx.get("success") else float(ctx["progress"])
    return [progress / lengthscale], "progress"


def pair_point(
    a: Mapping[str, Any], b: Mapping[str, Any], lengthscale: float
) -> tuple[list[float], str]:
    """A preference's point: both views side by side, or both progresses if either lacks one."""
    views = a.get("view") is not None and b.get("view") is not None
    pa, placed_by = field_point(a, lengthscale, use_view=views)
    pb, _ = field_point(b, lengthscale, use_view=views)
    return pa + pb, placed_by


def paper_metric(truth_success: Sequence[bool], answers: Sequence[int], levels: int) -> float:
    """The paper's rating accuracy: among Bad (0) and Good (top) answers, the share that agree
    with success/failure (middle levels are not counted, as in the rebuttal's 3-level figures)."""
    s = np.asarray(truth_success, bool)
    a = np.asarray(answers)
    counted = (a == 0) | (a == levels - 1)
    if not counted.any():
        return float("nan")
    return float(np.mean((a[counted] == levels - 1) == s[counted]))


def listing() -> str:
    """`python -m oracle_cache teachers`: one line per profile, then its options."""
    width = max(map(len, PROFILES))
    lines = []
    for p in PROFILES.values():
        lines.append(f"{p.name:<{width}}  {p.summary}")
        lines.append(f"{'':<{width}}  options: {', '.join(p.options)}")
    lines.append(
        "select one with --oracle-opt profile=NAME (default ordinal); rate defaults to 1 - the "
        "paper's accuracy for the task; see docs/teachers.md"
    )
    return "\n".join(lines)

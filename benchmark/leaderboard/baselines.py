"""Which entries are the suite's own baselines: decided by the suite's list, never by a submission.

`leaderboards/baselines.json` (in the suite's checkout, not under the board being validated)
names each baseline and the code reference it runs. A submission saying `kind: baseline` is only
believed when its method name and `code.ref` are on that list; otherwise `validate` refuses it.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.leaderboard.protocol import DEFAULT_ROOT
from benchmark.leaderboard.schema import Submission

BASELINES_FILE = DEFAULT_ROOT / "baselines.json"


class BaselinesFileError(RuntimeError):
    """The suite's baselines list is missing or malformed."""


def load_baselines(path: Path | None = None) -> dict[str, str]:
    """name -> code reference of each suite baseline, in the list's order."""
    path = Path(path or BASELINES_FILE)
    try:
        doc = json.loads(path.read_text())
        return {str(b["name"]): str(b["ref"]) for b in doc["baselines"]}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BaselinesFileError(
            f"cannot read the suite's baselines list {path}: {err}; restore it from the "
            "repository (git checkout -- leaderboards/baselines.json)"
        ) from err


def is_baseline(sub: Submission, baselines: dict[str, str]) -> bool:
    return baselines.get(sub.method.name) == sub.method.code.ref


def baseline_problem(sub: Submission, baselines: dict[str, str]) -> str | None:
    """One line when a submission claims to be a baseline that the suite's list does not name."""
    if sub.kind != "baseline" or is_baseline(sub, baselines):
        return None
    listed = baselines.get(sub.method.name)
    why = (
        f"'{sub.method.name}' is listed with code.ref '{listed}', not '{sub.method.code.ref}'"
        if listed
        else f"'{sub.method.name}' is not one of {', '.join(sorted(baselines))}"
    )
    return (
        f"kind 'baseline' is reserved for the suite's own methods (leaderboards/baselines.json): "
        f"{why}; submit with kind 'submission'"
    )

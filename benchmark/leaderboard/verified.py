"""Verification records: which entries the suite re-ran and found reproduced.

Each board keeps `verified.json` beside its `submissions/`: per entry name, the content digest of
the exact document that reproduced, when, on which suite commit and under which isolation. Only
`validate --rerun` writes it, when a re-run reproduces; an entry counts as verified only while its
document still has that digest, so editing an entry after its re-run makes it unverified again.
Submitters do not write this file: a maintainer (or the suite's CI job on the main branch) runs
the re-run and commits it (docs/leaderboard.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmark.leaderboard.protocol import REPO_ROOT
from benchmark.leaderboard.schema import Submission

VERIFIED_NAME = "verified.json"
COMMENT = (
    "Written by `python -m benchmark leaderboard validate --rerun` when a re-run reproduces an "
    "entry. Do not edit by hand; a submitter's pull request does not touch it."
)


def board_of(submission_file: Path) -> Path:
    """<board>/submissions/<name>.json -> <board>."""
    return Path(submission_file).resolve().parent.parent


def load_verified(board: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
    """(records by entry name, a problem line if the file is unreadable: then none count)."""
    path = Path(board) / VERIFIED_NAME
    if not path.exists():
        return {}, None
    try:
        entries = json.loads(path.read_text())["entries"]
        if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
            raise TypeError("'entries' must map names to records")
        return entries, None
    except (OSError, ValueError, KeyError, TypeError) as err:
        return {}, f"{path} is unreadable ({err}); no entry of this board counts as verified"


def is_verified(sub: Submission, records: dict[str, dict[str, Any]]) -> bool:
    rec = records.get(sub.method.name)
    return rec is not None and rec.get("content_sha256") == sub.content_sha256


def _suite_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def record_verified(submission_file: Path, sub: Submission, isolation: str) -> Path:
    """Add or replace the entry's record in its board's verified.json; returns that file."""
    board = board_of(submission_file)
    path = board / VERIFIED_NAME
    records, _ = load_verified(board)
    records[sub.method.name] = {
        "content_sha256": sub.content_sha256,
        "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "suite_commit": _suite_commit(),
        "python": sys.version.split()[0],
        "isolation": isolation,
    }
    doc = {"_comment": COMMENT, "entries": dict(sorted(records.items()))}
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return path

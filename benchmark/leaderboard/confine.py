"""Keep every path a submission names inside that submission's own directory.

A submission `<board>/submissions/<name>.json` may only point at files under
`<board>/submissions/<name>/`: no absolute paths, no `..`, no links that lead out. The validator
checks a path before it opens anything, so it never reads (or echoes) a file from elsewhere.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

MAX_SHOWN = 120


def shown(rel: str) -> str:
    """A path as quoted in a problem line: repr, capped."""
    text = repr(rel)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def path_problem(rel: str) -> str | None:
    """Why a submission-relative path string is not acceptable as written, or None."""
    if not rel or "\x00" in rel:
        return "is empty or contains a NUL byte"
    if "\\" in rel or PureWindowsPath(rel).drive:
        return "must be a POSIX path ('/' separators, no drive letter)"
    pure = PurePosixPath(rel)
    if pure.is_absolute():
        return "must be relative to the submission file, not absolute"
    if ".." in pure.parts:
        return "must not contain '..'"
    return None


def confine(base: Path, rel: str, owner: str) -> tuple[Path | None, str | None]:
    """(resolved path, None) when `rel` lies inside `base/owner`, else (None, why).

    `base` is the submissions/ directory and `owner` the entry's name: each entry reads only
    its own files, so one entry cannot point at another's (or at anything outside the board).
    """
    why = path_problem(rel)
    if why:
        return None, why
    if PurePosixPath(rel).parts[0] != owner:
        return None, f"must lie under '{owner}/' (the entry's own directory)"
    root = (base / owner).resolve()
    target = (base / rel).resolve()
    if target != root and root not in target.parents:
        return None, f"leads outside '{owner}/' through a symbolic link"
    return target, None


def escaping_links(root: Path) -> list[str]:
    """Entries below `root` that are links resolving outside it (checked before hashing)."""
    real = root.resolve()
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            target = p.resolve()
            if target != real and real not in target.parents:
                out.append(p.relative_to(root).as_posix())
    return out

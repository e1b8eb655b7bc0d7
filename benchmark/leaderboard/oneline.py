"""Untrusted text (error messages, log lines) made fit for one line of a report."""

from __future__ import annotations

MAX_LINE = 600


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """Collapse whitespace (a multi-line error becomes '; '-separated) and cap the length."""
    parts = [" ".join(line.split()) for line in str(text).splitlines()]
    flat = "; ".join(p for p in parts if p).replace(":; ", ": ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"

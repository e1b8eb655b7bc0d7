"""The cache benchmark runs end to end at smoke sizes (slow: ~15 s of mostly sleeping)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_cache_quick_prints_its_table():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_cache.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = out.stdout.splitlines()
    assert lines[1].split()[:4] == ["measure", "result", "target", "met"]
    for what in ("get p50 / p99", "bundle import", "replay 500", "gemini: 32 in flight"):
        assert any(what in line for line in lines), what
    assert any("openai: 8 in flight" in line for line in lines)

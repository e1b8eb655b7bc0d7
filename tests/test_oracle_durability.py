"""A recording run killed with SIGKILL loses nothing it stored; prompt edits never reuse
answers even under an unchanged version string; the token bucket paces requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import diskcache
import pytest

from oracle_cache import CacheMiss, build_oracle
from oracle_cache.cache import check_entry
from oracle_cache.prompts import RATE_PROMPTS, RATE_V1, RatePrompt, key_text
from oracle_cache.ratelimit import RateLimiter
from oracle_cache.testing.fake_server import FakeVLMServer, coded_frame

ROOT = Path(__file__).resolve().parents[1]

RECORDER = """
import json, sys
import numpy as np
from oracle_cache import RateQuery, build_oracle
from oracle_cache.testing.fake_server import coded_frame
url, cache, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
qs = [RateQuery([coded_frame(float(rng.random()), i)], "open the drawer", 3) for i in range(n)]
o = build_oracle("gemini", "record", cache, {"base_url": url, "api_keys": "k", "max_in_flight": 2})
o.rate_many(qs)
print(json.dumps(o.stats()))
"""


def _entries(cache: Path) -> dict[str, dict]:
    with diskcache.Cache(str(cache)) as store:
        return {k: check_entry(k, store[k]) for k in store.iterkeys()}


def _count(cache: Path) -> int:
    try:
        with diskcache.Cache(str(cache)) as store:
            return len(store)
    except Exception:  # the other process is still creating the store
        return 0


def test_kill_9_while_recording_then_restart_loses_and_repays_nothing(tmp_path):
    n, cache = 40, tmp_path / "cache"
    with FakeVLMServer(latency=0.03) as srv:
        cmd = [sys.executable, "-c", RECORDER, srv.url, str(cache), str(n)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and _count(cache) < 8:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = _entries(cache)  # every stored entry is whole and hashes to its key
        assert 8 <= len(before) < n, "the recorder was not killed mid-run"
        paid_before = srv.paid_answers()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        stats = json.loads(out.stdout.strip().splitlines()[-1])
        paid_after = srv.paid_answers()
    after = _entries(cache)
    assert len(after) == n and all(after[k]["answer"] == before[k]["answer"] for k in before)
    assert stats["hits"] == len(before) and stats["provider_calls"] == n - len(before)
    # at most the queries in flight at the kill (2) were paid for twice, never a stored one
    assert sum(paid_after.values()) - sum(paid_before.values()) == n - len(before)
    assert sum(paid_after.values()) <= n + 2


def test_editing_a_prompt_without_bumping_its_version_still_misses(tmp_path, monkeypatch):
    with FakeVLMServer() as srv:
        opts = {"base_url": srv.url, "api_keys": "k"}
        frames = [coded_frame(0.4, 1)]
        first = build_oracle("gemini", "record", tmp_path, opts).rate(frames, "open it", 3)
    edited = RatePrompt(
        RATE_V1.version, RATE_V1.single_frame + " Be brief.", RATE_V1.trajectory, RATE_V1.choose
    )
    monkeypatch.setitem(RATE_PROMPTS, RATE_V1.version, edited)
    key_text.cache_clear()
    try:
        with pytest.raises(CacheMiss):
            build_oracle("gemini", "replay", tmp_path, opts).rate(frames, "open it", 3)
    finally:
        monkeypatch.setitem(RATE_PROMPTS, RATE_V1.version, RATE_V1)
        key_text.cache_clear()
    assert build_oracle("gemini", "replay", tmp_path, opts).rate(frames, "open it", 3) == first


def test_token_bucket_paces_requests_and_caps_in_flight():
    limiter = RateLimiter(rate=20.0, burst=1)
    t0 = time.perf_counter()
    for _ in range(6):
        limiter.acquire()
    assert time.perf_counter() - t0 >= 5 / 20 * 0.9
    capped = RateLimiter(max_in_flight=1)
    with capped.slot():
        assert not capped._slots.acquire(blocking=False)

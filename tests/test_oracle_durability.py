"""Durability and pacing: kill -9 of a recording process loses nothing it stored; the token
bucket paces; provider identities and level names are what the keys assume.

(Restored from 454c987, whose provider-test file was overwritten by 8e33dad.)
"""

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

from oracle_cache.cache import check_entry
from oracle_cache.ratelimit import RateLimiter
from oracle_cache.testing.fake_server import FakeVLMServer

ROOT = Path(__file__).resolve().parents[1]


def _store_entries(cache_dir: Path) -> dict[str, dict]:
    with diskcache.Cache(str(cache_dir)) as store:
        return {k: check_entry(k, store[k]) for k in store.iterkeys()}


def _safe_keys(cache: Path) -> list[str]:
    try:
        with diskcache.Cache(str(cache)) as store:
            return list(store.iterkeys())
    except Exception:  # the store is being created by the other process
        return []


def test_identity_models_and_level_names():
    from oracle_cache.gemini import GeminiProvider
    from oracle_cache.prompts import level_names

    g = GeminiProvider(api_keys="k")
    assert g.identity()["models"] == {"analysis": "gemini-1.5-pro", "rating": "gemini-1.5-flash"}
    assert g.identity()["params"]["temperature"] == 0.0
    g2 = GeminiProvider(analysis_model="gemini-2.5-pro", rating_model="gemini-2.5-flash")
    assert g2.identity() != g.identity() and g2.name == "gemini:gemini-2.5-pro+gemini-2.5-flash"
    assert [len(level_names(n)) for n in range(2, 6)] == [2, 3, 4, 5]
    assert level_names(3) == ("Bad", "Average", "Good")
    with pytest.raises(ValueError, match="levels"):
        level_names(7)


def test_token_bucket_paces_requests():
    limiter = RateLimiter(rate=20.0, burst=1)
    t0 = time.perf_counter()
    for _ in range(6):
        limiter.acquire()
    assert time.perf_counter() - t0 >= 5 / 20 * 0.9


KILL_SCRIPT = """
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


def test_kill_9_while_recording_loses_nothing_stored(tmp_path):
    n = 40
    cache = tmp_path / "cache"
    with FakeVLMServer(latency=0.03) as srv:
        cmd = [sys.executable, "-c", KILL_SCRIPT, srv.url, str(cache), str(n)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline and (not cache.exists() or len(_safe_keys(cache)) < 8):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = _store_entries(cache)
        assert 8 <= len(before) < n
        paid_before = srv.paid_answers()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        stats = json.loads(out.stdout.strip().splitlines()[-1])
        paid = srv.paid_answers()
    after = _store_entries(cache)
    assert len(after) == n and set(before) <= set(after)
    assert all(after[k]["answer"] == before[k]["answer"] for k in before)
    assert stats["hits"] == len(before) and stats["provider_calls"] == n - len(before)
    # only answers in flight at the kill (at most max_in_flight) can have been paid twice
    assert sum(paid.values()) - n <= 2 and sum(paid_before.values()) - len(before) <= 2

"""The real Gemini (google-genai) and OpenAI SDK clients against the loopback fake server.

Nothing here reaches the internet: `FakeVLMServer` listens on 127.0.0.1 and answers from the
scripted teacher, reading each frame's progress from its red channel (`coded_frame`).
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
import numpy as np
import pytest

from oracle_cache import CacheMiss, OracleError, RateQuery, ScriptedTeacher, build_oracle
from oracle_cache.cache import check_entry
from oracle_cache.prompts import RATE_PROMPTS, RATE_V1, RatePrompt
from oracle_cache.ratelimit import RateLimiter
from oracle_cache.scripted import true_level
from oracle_cache.testing.fake_server import FakeVLMServer, coded_frame

SECRET = "sk-test-SECRET-7f3a9c0d"
PROVIDERS = ("gemini", "openai")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server():
    with FakeVLMServer(teacher=ScriptedTeacher(accuracy=1.0), timeout_delay=1.5) as srv:
        yield srv


def _options(srv: FakeVLMServer, provider: str, **extra) -> dict:
    url = srv.url if provider == "gemini" else srv.url + "/v1"
    opts = {"base_url": url, "api_keys": SECRET, "backoff": 0.01, "backoff_max": 0.05}
    return {**opts, "timeout": 1.0, **extra}


def _queries(n: int, levels: int = 3, seed: int = 0, frames: int = 1) -> list[RateQuery]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        p = float(rng.random())
        fs = [
            coded_frame(p * (j + 1) / frames, salt=seed * 10_000 + i * 10 + j)
            for j in range(frames)
        ]
        out.append(RateQuery(fs, "open the drawer", levels, {"task": "t", "progress": p}))
    return out


def _store_entries(cache_dir: Path) -> dict[str, dict]:
    with diskcache.Cache(str(cache_dir)) as store:
        return {k: check_entry(k, store[k]) for k in store.iterkeys()}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_and_prefer_through_the_real_sdk(server, provider, tmp_path):
    oracle = build_oracle(provider, "record", tmp_path, _options(server, provider))
    qs = _queries(6) + _queries(3, levels=2, seed=1, frames=3)  # states and trajectories
    got = oracle.rate_many(qs)
    for q, r in zip(qs, got, strict=True):
        p = float(np.asarray(q.frames[-1])[:, :, 0].mean()) / 255
        assert r.level == true_level(p, p >= 0.999, q.levels)
        assert "fake VLM server" in r.analysis and r.meta["provider"] == provider
    a, b = [coded_frame(0.9, 1)], [coded_frame(0.1, 2)]
    assert oracle.prefer(a, b, "open the drawer").label == 0
    assert oracle.prefer(b, a, "open the drawer").label == 1
    assert oracle.prefer(a, [coded_frame(0.9, 3)], "open the drawer").label == -1
    assert oracle.stats()["provider_calls"] == 12
    assert all(e.key == SECRET for e in server.log)  # the key was sent, to the server only


@pytest.mark.parametrize("provider", PROVIDERS)
def test_transient_faults_are_retried_nothing_lost_or_duplicated(server, provider, tmp_path):
    server.queue_faults(["429", "500", "timeout", "malformed_json", "429", "500"])
    opts = _options(server, provider, max_in_flight=4)
    qs = _queries(12, seed=3)
    got = build_oracle(provider, "record", tmp_path, opts).rate_many(qs)
    entries = _store_entries(tmp_path)
    paid = server.paid_answers()
    assert len(entries) == 12 and len(paid) == 12 and set(paid.values()) == {1}
    assert sum(e["meta"]["calls"] for e in entries.values()) >= 24 + 5  # the faults cost calls
    again = build_oracle(provider, "replay", tmp_path, opts).rate_many(qs)
    assert [r.level for r in again] == [r.level for r in got]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_answer_outside_the_enum_is_reasked_then_a_clear_error(server, provider, tmp_path):
    q = _queries(2, seed=4)
    oracle = build_oracle(provider, "record", tmp_path, _options(server, provider, max_reasks=2))
    server.queue_faults(["bad_enum"])
    r = oracle.rate(q[0].frames, q[0].instruction, q[0].levels)
    assert r.meta["malformed"] == 1
    server.queue_faults(["bad_enum"] * 3)
    with pytest.raises(OracleError, match="no usable answer in 3 tries.*Excellent"):
        oracle.rate(q[1].frames, q[1].instruction, q[1].levels)
    assert len(_store_entries(tmp_path)) == 1  # nothing cached for the failed query
    assert oracle.stats()["errors"] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_persistent_429_gives_up_with_advice(server, provider, tmp_path):
    server.queue_faults(["429"] * 3)
    oracle = build_oracle(provider, "record", tmp_path, _options(server, provider, max_attempts=3))
    q = _queries(1)[0]
    with pytest.raises(OracleError, match="gave up after 3 attempts.*resumes"):
        oracle.rate(q.frames, q.instruction, q.levels)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_keys_never_reach_disk(server, provider, tmp_path, monkeypatch):
    env = "GEMINI_API_KEYS" if provider == "gemini" else "OPENAI_API_KEYS"
    monkeypatch.setenv(env, f"{SECRET}-a,{SECRET}-b")
    opts = _options(server, provider, keep_frames=True)
    del opts["api_keys"]
    cache, results = tmp_path / "cache", tmp_path / "results"
    oracle = build_oracle(provider, "record", cache, opts)
    server.queue_faults(["429", "bad_enum"])
    oracle.rate_many(_queries(4, seed=5))
    oracle.prefer([coded_frame(0.2, 1)], [coded_frame(0.8, 2)], "x")
    assert SECRET not in repr(oracle.provider) and SECRET not in json.dumps(
        oracle.provider.identity()
    )
    results.mkdir()
    (results / "stats.json").write_text(json.dumps(oracle.stats()))
    oracle.close()
    assert server.keys_seen() == {f"{SECRET}-a", f"{SECRET}-b"}  # rotated round-robin
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".png" for p in files)
    assert not [p for p in files if SECRET.encode() in p.read_bytes()]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_replay_needs_no_key_and_opens_no_socket(server, provider, tmp_path, monkeypatch):
    opts = _options(server, provider)
    qs = _queries(5, seed=6)
    recorded = build_oracle(provider, "record", tmp_path, opts).rate_many(qs)
    del opts["api_keys"]
    for name in ("GEMINI_API_KEYS", "GEMINI_API_KEY", "OPENAI_API_KEYS", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    import socket

    def refuse(*a, **k):
        raise AssertionError("replay opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    replay = build_oracle(provider, "replay", tmp_path, opts)
    assert replay.rate_many(qs) == recorded
    assert replay.stats()["provider_calls"] == 0


def test_changing_a_prompt_never_reuses_old_answers(server, tmp_path, monkeypatch):
    opts = _options(server, "gemini")
    q = _queries(1)[0]
    k1 = build_oracle("gemini", "record", tmp_path, opts).rate(q.frames, q.instruction, 3)
    v2 = RatePrompt(
        "rate/v2-test", RATE_V1.single_frame + " Be brief.", RATE_V1.trajectory, RATE_V1.choose
    )
    monkeypatch.setitem(RATE_PROMPTS, v2.version, v2)
    replay = build_oracle("gemini", "replay", tmp_path, {**opts, "rate_prompt": v2.version})
    with pytest.raises(CacheMiss):
        replay.rate(q.frames, q.instruction, 3)
    # same version string, edited text: the rendered text is hashed too
    v1_edit = RatePrompt(
        RATE_V1.version, RATE_V1.single_frame + " ", RATE_V1.trajectory, RATE_V1.choose
    )
    monkeypatch.setitem(RATE_PROMPTS, RATE_V1.version, v1_edit)
    from oracle_cache.prompts import key_text

    key_text.cache_clear()
    try:
        with pytest.raises(CacheMiss):
            build_oracle("gemini", "replay", tmp_path, opts).rate(q.frames, q.instruction, 3)
    finally:
        monkeypatch.setitem(RATE_PROMPTS, RATE_V1.version, RATE_V1)
        key_text.cache_clear()
    again = build_oracle("gemini", "replay", tmp_path, opts).rate(q.frames, q.instruction, 3)
    assert again == k1


def test_identity_models_and_level_names(server):
    from oracle_cache.gemini import GeminiProvider
    from oracle_cache.prompts import level_names

    g = GeminiProvider(api_keys=SECRET)
    assert g.identity()["models"] == {"analysis": "gemini-1.5-pro", "rating": "gemini-1.5-flash"}
    assert g.identity()["params"]["temperature"] == 0.0
    g2 = GeminiProvider(analysis_model="gemini-2.5-pro", rating_model="gemini-2.5-flash")
    assert g2.identity() != g.identity()
    assert [len(level_names(n)) for n in range(2, 6)] == [2, 3, 4, 5]
    assert level_names(3) == ("Bad", "Average", "Good")
    with pytest.raises(ValueError, match="levels"):
        level_names(7)


def test_missing_key_says_what_to_set(server, tmp_path, monkeypatch):
    for name in ("GEMINI_API_KEYS", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    opts = _options(server, "gemini")
    del opts["api_keys"]
    oracle = build_oracle("gemini", "record", tmp_path, opts)
    q = _queries(1)[0]
    with pytest.raises(PermissionError, match="GEMINI_API_KEYS or GEMINI_API_KEY"):
        oracle.rate(q.frames, q.instruction, 3)


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
        while time.time() < deadline and (not cache.exists() or len(_safe_len(cache)) < 8):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = _store_entries(cache)
        assert 8 <= len(before) < n
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        stats = json.loads(out.stdout.strip().splitlines()[-1])
    after = _store_entries(cache)
    assert len(after) == n and set(before) <= set(after)
    assert all(after[k]["answer"] == before[k]["answer"] for k in before)
    assert stats["hits"] == len(before) and stats["provider_calls"] == n - len(before)


def _safe_len(cache: Path) -> list[str]:
    try:
        with diskcache.Cache(str(cache)) as store:
            return list(store.iterkeys())
    except Exception:  # the store is being created by the other process
        return []

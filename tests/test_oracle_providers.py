"""Real SDK clients (google-genai, openai) against the loopback fake server: answers, retries,
faults, malformed answers, key handling, and replay without a socket."""

from __future__ import annotations

import time

import numpy as np
import pytest

from oracle_cache import OracleError, RateQuery, ScriptedTeacher, build_oracle
from oracle_cache.gemini import GeminiProvider
from oracle_cache.images import png_bytes
from oracle_cache.openai_compat import OpenAICompatProvider
from oracle_cache.scripted import true_level
from oracle_cache.testing.fake_server import FakeVLMServer, coded_frame
from oracle_cache.types import PreferQuery

SECRETS = "sk-SECRET-aaaa1111,sk-SECRET-bbbb2222"
FAST = {"backoff": 0.01, "backoff_max": 0.05, "timeout": 5.0}


def _options(api: str, srv: FakeVLMServer, **extra) -> dict:
    base = srv.url if api == "gemini" else srv.url + "/v1"
    return {"base_url": base, "api_keys": SECRETS, **FAST, **extra}


def _provider(api: str, srv: FakeVLMServer, **extra):
    cls = GeminiProvider if api == "gemini" else OpenAICompatProvider
    return cls(**_options(api, srv, **extra))


def _queries(n: int, levels: int = 3, seed: int = 0) -> list[RateQuery]:
    rng = np.random.default_rng(seed)
    return [
        RateQuery(
            [coded_frame(float(rng.random()), salt=seed * 10_000 + i)], "open the drawer", levels
        )
        for i in range(n)
    ]


@pytest.fixture
def server():
    with FakeVLMServer(teacher=ScriptedTeacher(accuracy=1.0)) as srv:
        yield srv


@pytest.mark.parametrize("api", ["gemini", "openai"])
def test_two_stage_rating_and_preference_through_the_real_sdk(api, server):
    prov = _provider(api, server)
    for p in (0.05, 0.4, 0.8, 1.0):
        r = prov.rate([coded_frame(p, 1)], "open the drawer", 3)
        expected = true_level(round(p * 255) / 255, p >= 1.0, 3)
        assert r.level == expected
        assert "scripted teacher" in r.analysis  # the fake server says who answered
        assert r.meta["provider"] == api and r.meta["calls"] == 2
    traj = [coded_frame(0.1, 5), coded_frame(0.5, 6), coded_frame(0.95, 7)]
    assert prov.rate(traj, "open the drawer", 2).level == 1
    assert prov.prefer([coded_frame(0.9, 1)], [coded_frame(0.1, 2)], "x").label == 0
    assert prov.prefer([coded_frame(0.1, 1)], [coded_frame(0.9, 2)], "x").label == 1
    assert prov.prefer([coded_frame(0.5, 1)], [coded_frame(0.5, 2)], "x").label == -1
    assert server.keys_seen() == set(SECRETS.split(","))  # rotated over both keys


def test_answers_come_from_the_scripted_teacher():
    teacher = ScriptedTeacher()  # noisy, deterministic per frames
    with FakeVLMServer(teacher=teacher) as srv:
        prov = _provider("gemini", srv)
        for q in _queries(12, levels=3, seed=4):
            p = float(q.frames[0][0, 0, 0]) / 255
            direct = teacher.rate(q.frames, "", 3, {"task": "", "progress": p, "success": False})
            assert prov.rate(q.frames, q.instruction, 3).level == direct.level


@pytest.mark.parametrize("api", ["gemini", "openai"])
def test_every_fault_is_retried_and_nothing_lost_or_duplicated(api, tmp_path):
    qs = _queries(16, seed=1)
    with FakeVLMServer(teacher=ScriptedTeacher(accuracy=1.0), timeout_delay=1.0) as srv:
        clean = [_provider(api, srv).rate(q.frames, q.instruction, 3) for q in qs]
        srv.log.clear()
        srv.queue_faults(["429", "500", "timeout", "malformed_json", "bad_enum"] * 2)
        opts = _options(api, srv, timeout=0.4, max_in_flight=4)
        oracle = build_oracle(api, "record", tmp_path, opts)
        got = oracle.rate_many(qs)
        again = oracle.rate_many(qs)  # all hits now
    assert [r.level for r in got] == [r.level for r in clean] == [r.level for r in again]
    stats = oracle.stats()
    assert stats["provider_calls"] == len(qs) and stats["hits"] == len(qs)
    assert len(oracle.store) == len(qs)
    paid = srv.paid_answers()
    assert len(paid) == len(qs) and set(paid.values()) == {1}  # each paid for exactly once
    faults = [e.fault for e in srv.log if e.fault]
    assert sorted(faults) == sorted(["429", "500", "timeout", "malformed_json", "bad_enum"] * 2)


def test_random_faults_under_concurrency(tmp_path):
    rates = {"429": 0.1, "500": 0.05, "malformed_json": 0.05, "bad_enum": 0.1}
    qs = _queries(40, seed=2)
    with FakeVLMServer(teacher=ScriptedTeacher(accuracy=1.0), fault_rates=rates, seed=3) as srv:
        oracle = build_oracle(
            "openai", "record", tmp_path, _options("openai", srv, max_in_flight=8, max_reasks=6)
        )
        got = oracle.rate_many(qs + qs[:10])  # duplicates in one batch are asked once
    truth = [true_level(float(q.frames[0][0, 0, 0]) / 255, False, 3) for q in qs]
    assert [r.level for r in got] == truth + truth[:10]
    assert oracle.stats()["provider_calls"] == 40 and len(oracle.store) == 40
    assert set(srv.paid_answers().values()) == {1}


@pytest.mark.parametrize("api", ["gemini", "openai"])
def test_answer_outside_the_enum_is_reasked_then_a_clear_error(api, tmp_path):
    with FakeVLMServer(fault_rates={"bad_enum": 1.0}) as srv:
        oracle = build_oracle(api, "record", tmp_path, _options(api, srv, max_reasks=2))
        q = _queries(1)[0]
        with pytest.raises(OracleError, match="no usable answer in 3 tries.*Excellent"):
            oracle.rate(q.frames, q.instruction, 3)
        assert len([e for e in srv.log if e.stage == 2]) == 3
    assert oracle.stats()["errors"] == 1 and len(oracle.store) == 0


def test_persistent_rate_limit_gives_up_with_advice(tmp_path):
    with FakeVLMServer(fault_rates={"429": 1.0}) as srv:
        prov = _provider("gemini", srv, max_attempts=3)
        with pytest.raises(OracleError, match="gave up after 3 attempts.*max_in_flight") as e:
            prov.rate([coded_frame(0.5)], "x", 3)
    assert "SECRET" not in str(e.value)


def test_keys_never_reach_disk(tmp_path, server):
    opts = _options("gemini", server, keep_frames=True)
    oracle = build_oracle("gemini", "record", tmp_path / "cache", opts)
    oracle.rate_many(_queries(6))
    oracle.prefer_many([PreferQuery([coded_frame(0.2, 1)], [coded_frame(0.7, 2)], "x")])
    oracle.close()
    from oracle_cache.bundle import export_bundle

    export_bundle(tmp_path / "cache", tmp_path / "bundle", frames=True)
    assert "SECRET" not in repr(oracle.provider) and "SECRET" not in str(oracle.stats())
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 5
    for p in files:
        data = p.read_bytes()
        for key in SECRETS.split(","):
            assert key.encode() not in data, f"an API key leaked into {p}"


def test_missing_key_says_which_variable(monkeypatch, tmp_path):
    for var in ("GEMINI_API_KEYS", "GEMINI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    oracle = build_oracle("gemini", "record", tmp_path, {"base_url": "http://127.0.0.1:9"})
    with pytest.raises(OracleError, match="GEMINI_API_KEYS or GEMINI_API_KEY"):
        oracle.rate([coded_frame(0.5)], "x", 3)


def test_keys_from_environment_are_rotated(monkeypatch, server):
    monkeypatch.setenv("GEMINI_API_KEYS", "env-k1, env-k2,env-k3")
    prov = GeminiProvider(base_url=server.url, **FAST)
    for q in _queries(3):
        prov.rate(q.frames, q.instruction, 3)
    assert {"env-k1", "env-k2", "env-k3"} <= server.keys_seen()


@pytest.mark.parametrize("api", ["gemini", "openai"])
def test_replay_needs_no_sdk_connection_key_or_socket(api, tmp_path, server, monkeypatch):
    qs = _queries(5)
    rec = build_oracle(api, "record", tmp_path, _options(api, server))
    want = rec.rate_many(qs)
    rec.close()
    for var in ("GEMINI_API_KEYS", "GEMINI_API_KEY", "OPENAI_API_KEYS", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    import socket

    def refuse(*a, **k):
        raise AssertionError("replay opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    opts = {"base_url": "http://127.0.0.1:9"}  # where nothing listens; must not matter
    rep = build_oracle(api, "replay", tmp_path, opts)
    assert rep.rate_many(qs) == want


def test_openai_without_structured_output(tmp_path, server):
    prov = _provider("openai", server, structured=False)
    assert prov.rate([coded_frame(0.9, 1)], "x", 3).level == 2
    assert prov.prefer([coded_frame(0.1, 1)], [coded_frame(0.9, 2)], "x").label == 1


def test_prompt_version_and_models_are_in_the_key(tmp_path, server, monkeypatch):
    from oracle_cache import prompts

    q = _queries(1)[0]
    keys = set()
    for opts in ({}, {"analysis_model": "gemini-2.5-pro"}, {"rate_prompt": "rate/test"}):
        if opts.get("rate_prompt"):
            changed = prompts.RatePrompt(
                "rate/test", "Look: {instruction}", "{n} {instruction}", prompts.RATE_V1.choose
            )
            monkeypatch.setitem(prompts.RATE_PROMPTS, "rate/test", changed)
        oracle = build_oracle("gemini", "record", tmp_path, _options("gemini", server, **opts))
        keys.add(oracle.rate(q.frames, q.instruction, 3).meta["key"])
    assert len(keys) == 3


def test_identity_models_and_level_names():
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


@pytest.mark.parametrize("api", ["gemini", "openai"])
def test_connections_stay_open_between_batches(api, monkeypatch):
    """32 in flight: no connection is closed when a batch ends (the Gemini SDK's httpx pool kept
    only 20 alive, so each batch reconnected up to 12, a TLS handshake each on the real API)."""
    from oracle_cache.testing import fake_server

    closed = []
    srv = FakeVLMServer(latency=0.1, teacher=ScriptedTeacher(accuracy=1.0))
    finish = fake_server._Handler.finish
    # only this server's connections: earlier tests' clients may be collected meanwhile
    monkeypatch.setattr(
        fake_server._Handler, "finish", lambda h: (closed.append(h.owner is srv), finish(h))
    )
    with srv:
        oracle = build_oracle(api, "live", None, _options(api, srv, api_keys="k", max_in_flight=32))
        oracle.rate_many(_queries(32, seed=1))
        time.sleep(0.3)  # a connection the client drops ends its handler at once
        assert True not in closed


def test_gemini_stage_two_is_one_text_part_and_frames_are_encoded_once(server, monkeypatch):
    from oracle_cache import gemini

    encoded = []
    monkeypatch.setattr(gemini, "png_bytes", lambda f: encoded.append(1) or png_bytes(f))
    server.queue_faults(["500", "429"])  # stage 1 is sent three times
    oracle = build_oracle("gemini", "live", None, _options("gemini", server))
    assert oracle.rate_many(_queries(1))[0].meta["calls"] == 4
    assert len(encoded) == 1
    provider = oracle.provider
    assert provider._prepare(["choose"]) == "choose"
    assert provider._config(["a", "b"]) is provider._config(["a", "b"])

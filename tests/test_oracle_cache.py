"""The content-hashed cache: record, replay, live; keys; durability; clear misses."""

from __future__ import annotations

import hashlib
import json

import diskcache
import numpy as np
import pytest

from oracle_cache import CachedOracle, CacheMiss, RateQuery, ScriptedTeacher, build_oracle
from oracle_cache.cache import DIGEST_CHUNK, check_entry
from oracle_cache.keys import frame_digest
from oracle_cache.types import PreferQuery


def _queries(n: int, seed: int = 0, task: str = "metaworld/drawer-open") -> list[RateQuery]:
    rng = np.random.default_rng(seed)
    return [
        RateQuery(
            frames=[rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)],
            instruction="open the drawer",
            levels=3,
            context={"task": task, "progress": float(rng.random()), "success": False},
        )
        for _ in range(n)
    ]


def test_frame_digest_covers_shape_and_dtype():
    a = np.zeros((4, 6), np.uint8)
    assert frame_digest(a) == frame_digest(a.copy())
    assert frame_digest(a) != frame_digest(a.reshape(6, 4))
    assert frame_digest(a) != frame_digest(a.astype(np.int8))
    assert frame_digest(a[:, ::2]) == frame_digest(np.ascontiguousarray(a[:, ::2]))


def test_frame_digest_is_stable_and_unchanged_by_the_no_copy_path():
    """Recorded caches are keyed by these digests: they must not move across versions."""
    a = np.arange(18, dtype=np.uint8).reshape(2, 3, 3)
    assert frame_digest(a) == "2a8ac62aa2a1aee2f3e0ddac4b30004acbaf5bb953f64d55192f16d9cdaba31d"
    rng = np.random.default_rng(0)
    frames = [
        rng.integers(0, 256, (9, 7, 3), dtype=np.uint8),
        rng.integers(0, 256, (9, 14, 4), dtype=np.uint8)[:, ::2],  # not contiguous
        np.asfortranarray(rng.random((5, 4))),
        rng.random(6).astype(">f4"),
        rng.random((3, 3)) > 0.5,
        np.array(2.5),
        np.zeros((0, 3), np.uint8),
    ]
    for f in frames:
        c = np.ascontiguousarray(f)
        legacy = hashlib.sha256(f"{c.dtype.str}|{c.shape}|".encode() + c.tobytes()).hexdigest()
        assert frame_digest(f) == legacy
    b = frames[0].copy()
    b[8, 6, 2] ^= 1  # one bit of one pixel
    assert frame_digest(b) != frame_digest(frames[0])


def _prefer_queries(n: int, seed: int = 1) -> list[PreferQuery]:
    rng = np.random.default_rng(seed)
    return [
        PreferQuery(
            [rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)],
            [rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)],
            "open the drawer",
            {"task": "t", "a": {"progress": float(rng.random())}, "b": {"progress": 0.5}},
        )
        for _ in range(n)
    ]


def test_batched_replay_equals_one_query_at_a_time(tmp_path, monkeypatch):
    """rate_many/prefer_many hash frames ahead in threads and read answers a chunk at a time."""
    qs, pq = _queries(150), _prefer_queries(70)
    rec = build_oracle("scripted", "record", tmp_path)
    one_by_one = [rec.rate(q.frames, q.instruction, q.levels, q.context) for q in qs]
    prefs = [rec.prefer(q.frames_a, q.frames_b, q.instruction, q.context) for q in pq]
    rec.close()
    monkeypatch.setattr(ScriptedTeacher, "rate", lambda *a, **k: 1 / 0)
    monkeypatch.setattr(ScriptedTeacher, "prefer", lambda *a, **k: 1 / 0)
    rep = build_oracle("scripted", "replay", tmp_path)
    assert rep.rate_many(qs) == one_by_one
    assert rep.prefer_many(pq) == prefs
    assert rep.stats()["hits"] == 220 and rep.stats()["misses"] == 0


def test_batched_record_asks_each_query_once(tmp_path):
    qs = _queries(100)
    rec = build_oracle("scripted", "record", tmp_path)
    first = rec.rate_many(qs[:70])
    both = rec.rate_many(qs + qs[90:])  # 96-99 come twice in one chunk of reads
    assert both[:70] == first and both[100:] == both[90:100]
    assert rec.stats()["provider_calls"] == 100 and rec.stats()["hits"] == 80
    assert len(rec.store) == 100


def test_batched_replay_stops_at_the_first_miss(tmp_path):
    qs = _queries(150)
    qs[100] = RateQuery(qs[100].frames, qs[100].instruction, 3, {"task": "the-missing-one"})
    rec = build_oracle("scripted", "record", tmp_path)
    rec.rate_many(qs[:100] + qs[101:])
    rep = build_oracle("scripted", "replay", tmp_path)
    with pytest.raises(CacheMiss, match="the-missing-one"):
        rep.rate_many(qs)
    assert rep.stats()["misses"] == 1 and rep.stats()["hits"] == 100


def test_batched_replay_never_serves_a_corrupt_entry(tmp_path):
    qs = _queries(100)
    rec = build_oracle("scripted", "record", tmp_path)
    key = rec.rate_many(qs)[77].meta["key"]
    entry = json.loads(rec.store[key])
    entry["answer"] = (entry["answer"] + 1) % 3  # the document still hashes to the key...
    entry["document"]["levels"] = 2  # ...unless it is edited too: it no longer does
    rec.store[key] = json.dumps(entry)
    rep = build_oracle("scripted", "replay", tmp_path)
    with pytest.raises(CacheMiss):
        rep.rate_many(qs)
    assert rep.stats()["corrupt"] == 1 and key not in rep.store


def test_batched_read_falls_back_to_get(tmp_path):
    qs = _queries(3)
    oracle = build_oracle("scripted", "record", tmp_path)
    keys = [r.meta["key"] for r in oracle.rate_many(qs)] + ["0" * 64]
    fast = oracle._read_many(keys)

    class OnlyGet:  # a store without diskcache's internals
        def __init__(self, store: diskcache.Cache) -> None:
            self.get = store.get

    oracle.store = OnlyGet(oracle.store)
    assert oracle._read_many(keys) == fast and len(fast) == 3


def test_record_then_replay_gives_identical_answers(tmp_path, monkeypatch):
    qs = _queries(40)
    rec = build_oracle("scripted", "record", tmp_path)
    first = rec.rate_many(qs)
    again = rec.rate_many(qs)
    assert first == again
    assert rec.stats()["provider_calls"] == 40 and rec.stats()["hits"] == 40
    rec.close()

    def refuse(*a, **k):
        raise AssertionError("replay called the provider")

    monkeypatch.setattr(ScriptedTeacher, "rate", refuse)
    rep = build_oracle("scripted", "replay", tmp_path)
    assert rep.rate_many(qs) == first
    assert rep.stats()["hits"] == 40 and rep.stats()["provider_calls"] == 0


def test_context_is_not_in_the_key(tmp_path):
    q = _queries(1)[0]
    oracle = build_oracle("scripted", "record", tmp_path)
    r1 = oracle.rate(q.frames, q.instruction, q.levels, q.context)
    r2 = oracle.rate(q.frames, q.instruction, q.levels, {**q.context, "progress": 0.99})
    assert r1 == r2 and oracle.stats()["hits"] == 1


def test_key_changes_with_what_was_asked(tmp_path):
    q = _queries(1)[0]
    keys = set()
    for instruction, levels, accuracy in [
        ("a", 3, 0.7),
        ("b", 3, 0.7),
        ("a", 2, 0.7),
        ("a", 3, 0.6),
    ]:
        oracle = build_oracle("scripted", "record", tmp_path, {"accuracy": accuracy})
        keys.add(oracle.rate(q.frames, instruction, levels, q.context).meta["key"])
    assert len(keys) == 4


def test_replay_miss_names_key_task_and_fix(tmp_path, no_sockets):
    oracle = build_oracle("scripted", "replay", tmp_path)
    q = _queries(1, task="metaworld/soccer")[0]
    with pytest.raises(CacheMiss) as err:
        oracle.rate(q.frames, q.instruction, q.levels, q.context)
    msg = str(err.value)
    assert "metaworld/soccer" in msg and "CACHE=record" in msg
    assert len(msg.split("key ")[1].split()[0]) == 64  # the full sha256


def test_replay_never_opens_a_socket(tmp_path, monkeypatch):
    qs = _queries(5)
    build_oracle("scripted", "record", tmp_path).rate_many(qs)
    import socket

    def refuse(*a, **k):
        raise AssertionError("socket opened in replay")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert len(build_oracle("scripted", "replay", tmp_path).rate_many(qs)) == 5


def test_answer_is_stored_before_it_is_returned(tmp_path):
    q = _queries(1)[0]
    oracle = CachedOracle(ScriptedTeacher(), "record", tmp_path)
    r = oracle.rate(q.frames, q.instruction, q.levels, q.context)
    with diskcache.Cache(str(tmp_path)) as other:  # another handle, as another process would
        seen = json.loads(other[r.meta["key"]])
    assert seen["answer"] == r.level


def test_live_mode_touches_no_store(tmp_path):
    q = _queries(1)[0]
    oracle = build_oracle("scripted", "live", None)
    oracle.rate(q.frames, q.instruction, q.levels, q.context)
    oracle.rate(q.frames, q.instruction, q.levels, q.context)
    assert oracle.stats()["provider_calls"] == 2 and not any(tmp_path.iterdir())


def test_corrupt_entry_is_quarantined_not_served(tmp_path):
    q = _queries(1)[0]
    oracle = build_oracle("scripted", "record", tmp_path)
    key = oracle.rate(q.frames, q.instruction, q.levels, q.context).meta["key"]
    entry = json.loads(oracle.store[key])
    entry["document"] = {**entry["document"], "prompt": "tampered"}
    oracle.store[key] = json.dumps(entry)
    with pytest.raises(ValueError):
        check_entry(key, entry)
    replay = build_oracle("scripted", "replay", tmp_path)
    with pytest.raises(CacheMiss):
        replay.rate(q.frames, q.instruction, q.levels, q.context)
    assert replay.stats()["corrupt"] == 1
    with diskcache.Cache(str(tmp_path / "quarantine")) as quarantine:
        assert key in quarantine


def test_many_keeps_order_with_threads(tmp_path):
    qs = _queries(30)
    serial = build_oracle("scripted", "live", None).rate_many(qs)
    threaded = build_oracle("scripted", "record", tmp_path, {"max_in_flight": 8})
    assert [r.level for r in threaded.rate_many(qs)] == [r.level for r in serial]
    rng = np.random.default_rng(5)
    pq = [
        PreferQuery(
            [rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)],
            [rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)],
            "i",
            {"task": "t", "a": {"progress": 0.9}, "b": {"progress": 0.1}},
        )
        for _ in range(10)
    ]
    labels = [p.label for p in threaded.prefer_many(pq)]
    assert labels == [p.label for p in threaded.prefer_many(pq)]
    stats = threaded.stats()
    assert stats["hits"] == 10 and stats["misses"] == 40 and stats["est_cost"] == 0.0
    assert threaded.name == "scripted"


def test_unknown_provider_lists_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="scripted, gemini, openai"):
        build_oracle("claude", "record", tmp_path)
    with pytest.raises(ValueError, match="record"):
        build_oracle("scripted", "sometimes", tmp_path)


def test_unknown_option_lists_accepted_ones(tmp_path):
    with pytest.raises(ValueError, match="no option.*'acuracy'.*'accuracy'"):
        build_oracle("scripted", "record", tmp_path, {"acuracy": 0.8})
    with pytest.raises(ValueError, match="'temprature'.*'base_url'"):
        build_oracle("gemini", "record", tmp_path, {"temprature": 0})


def test_batched_reads_work_with_a_relative_cache_dir(tmp_path, monkeypatch):
    # `make bench` passes the default `.cache/oracle`; the batched read built a file URI from it
    # and failed every ALFRED run ("relative path can't be expressed as a file URI")
    monkeypatch.chdir(tmp_path)
    qs = _queries(2 * DIGEST_CHUNK)  # a batch long enough to be read a chunk at a time
    with build_oracle("scripted", "record", ".cache/oracle") as rec:
        first = rec.rate_many(qs)
        assert rec.rate_many(qs) == first

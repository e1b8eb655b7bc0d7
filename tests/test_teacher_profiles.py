"""Teacher profiles: each errs as configured, the same frames get the same answer, and the
original teacher (`ordinal`) keeps its cache keys and answers bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, chisquare

from oracle_cache import NO_PREFERENCE, ScriptedTeacher, build_oracle
from oracle_cache.cache import CachedOracle
from oracle_cache.cli import main as cli_main
from oracle_cache.keys import key_of
from oracle_cache.scripted import PAPER_ACCURACY
from oracle_cache.teachers import (
    PROFILES,
    UNANSWERED,
    destinations,
    expected_confusion,
    paper_metric,
)

DRAWER = "metaworld/drawer-open"  # paper accuracy 0.65: plenty of errors to measure
P_MIN = 1e-3  # fixed seeds, so never flaky; 1e-3 keeps each check honest about sampling error


def _frames(seed: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8) for _ in range(n)]


def _states(level: int, levels: int, n: int, seed: int) -> list[dict]:
    """Contexts of true `level`, with views spread far apart (metres) so fields decorrelate."""
    rng = np.random.default_rng(seed)
    lo, hi = level / levels, (level + 1) / levels
    out = []
    for _ in range(n):
        top = level == levels - 1 and rng.random() < 0.5
        out.append(
            {
                "task": DRAWER,
                "progress": float(rng.uniform(lo, min(hi, 0.999))),
                "success": bool(top),
                "view": rng.uniform(-500, 500, 6).tolist(),
            }
        )
    return out


def _measured(teacher: ScriptedTeacher, levels: int, n: int) -> np.ndarray:
    """counts[true level, answer] (last column: unanswered) over n fresh states per level."""
    m = np.zeros((levels, levels + 1), dtype=int)
    for t in range(levels):
        frames = _frames(100 + 10 * levels + t, n)
        for f, ctx in zip(frames, _states(t, levels, n, 7 * levels + t), strict=True):
            a = teacher.rate([f], "open the drawer", levels, ctx).level
            m[t, levels if a == UNANSWERED else a] += 1
    return m


def _assert_rows_match(counts: np.ndarray, expected: np.ndarray) -> None:
    for t, (row, p) in enumerate(zip(counts, expected, strict=True)):
        assert not row[p == 0].any(), (t, row, p)  # never an answer the model rules out
        keep = p > 0
        if keep.sum() > 1:
            res = chisquare(row[keep], row.sum() * p[keep])
            assert res.pvalue > P_MIN, (t, row, p)


# --- ordinal is the original teacher ----------------------------------------------------------
# Keys and answers computed by the unchanged code (commit bcf39be, before profiles existed).
GOLDEN = {
    "default": (
        {},
        "734fd338a64c4b1a4860dd244adb48796a4153adde9ee1aa807f69666bf52a89",
        "1c674286bf915cfbfa2a1654b0a5e5d4d2db70f71477527c44f892de579a374d",
        [0, 2, 0, 1, 1, 0, 1, 0, 0, 0, 2, 0, 0, 1, 1, 0, 2, 2, 1, 1, 0, 0, 1, 0],
        [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
    ),
    "tuned": (
        {"accuracy": 0.8, "bias": 0.2},
        "248b42a09891f9ac1c5e5e391e859814adf988bdd716ae9a810c9d3f5f5613b9",
        "8db21f0424d74c02bf1701a06b1f10aeaf21f2b2f598f4848cee8d61c37617ff",
        [0, 2, 0, 1, 1, 2, 1, 0, 0, 2, 2, 0, 0, 1, 1, 0, 2, 1, 1, 1, 2, 0, 1, 0],
        [0] * 16,
    ),
}


@pytest.mark.parametrize("case", sorted(GOLDEN))
@pytest.mark.parametrize("explicit", [False, True])
def test_ordinal_keeps_the_original_keys_and_answers(case, explicit):
    opts, rate_key, prefer_key, levels, labels = GOLDEN[case]
    teacher = ScriptedTeacher(**opts, **({"profile": "ordinal"} if explicit else {}))
    oracle = CachedOracle(teacher, "live", None)
    f = _frames(7, 2)
    assert key_of(oracle._document("rate", "open the drawer", 3, [[f[0]]])) == rate_key
    assert key_of(oracle._document("prefer", "open the drawer", None, [[f[0]], [f[1]]])) == (
        prefer_key
    )
    progress = np.random.default_rng(8).random(24)
    got = [
        teacher.rate([fr], "open the drawer", 3, {"task": DRAWER, "progress": float(p)}).level
        for fr, p in zip(_frames(9, 24), progress, strict=True)
    ]
    assert got == levels
    ctx = {"task": "t", "a": {"progress": 0.9}, "b": {"progress": 0.1}}
    got = [
        teacher.prefer([a], [b], "i", ctx).label
        for a, b in zip(_frames(10, 16), _frames(11, 16), strict=True)
    ]
    assert got == labels


def test_ordinal_rate_is_one_minus_accuracy():
    assert ScriptedTeacher(profile="ordinal", rate=0.25).identity() == (
        ScriptedTeacher(accuracy=0.75).identity()
    )


# --- each profile's confusion is its configuration ---------------------------------------------
@pytest.mark.parametrize("levels", [2, 3, 4])
@pytest.mark.parametrize("profile", ["oracle", "ordinal", "symmetric", "systematic", "vlm-like"])
def test_measured_confusion_matches_configuration(profile, levels):
    teacher = ScriptedTeacher(profile=profile)
    error = 0.0 if profile == "oracle" else 1 - PAPER_ACCURACY[DRAWER]
    m = _measured(teacher, levels, 300)
    assert not m[:, levels].any()
    _assert_rows_match(m[:, :levels], expected_confusion(profile, levels, error))


def test_rate_overrides_the_papers_accuracy():
    teacher = ScriptedTeacher(profile="vlm-like", rate=0.2)
    m = _measured(teacher, 3, 300)
    _assert_rows_match(m[:, :3], expected_confusion("vlm-like", 3, 0.2))


def test_vlm_like_follows_the_rebuttal_at_2_and_4_levels():
    """Success rated Bad at 2 levels; Very bad or Bad (never the adjacent Good) at 4."""
    assert destinations("vlm-like", 1, 2).tolist() == [1.0, 0.0]
    assert destinations("vlm-like", 3, 4).tolist() == [0.5, 0.5, 0.0, 0.0]
    teacher = ScriptedTeacher(profile="vlm-like")
    succ = [{**s, "success": True} for s in _states(3, 4, 600, 3)]
    answers = [
        teacher.rate([f], "i", 4, c).level for f, c in zip(_frames(5, 600), succ, strict=True)
    ]
    wrong = [a for a in answers if a != 3]
    assert wrong and set(wrong) == {0, 1}


@pytest.mark.parametrize("task", sorted(PAPER_ACCURACY))
def test_vlm_like_has_the_papers_three_level_accuracy(task):
    """The paper's metric: among Bad and Good answers, agreement with success or failure."""
    teacher = ScriptedTeacher(profile="vlm-like")
    n = 800
    rng = np.random.default_rng(4)
    success = rng.random(n) < 0.5
    answers = []
    for f, s, view in zip(_frames(6, n), success, rng.uniform(-500, 500, (n, 6)), strict=True):
        ctx = {"task": task, "progress": 1.0 if s else 0.1, "success": bool(s), "view": view}
        answers.append(teacher.rate([f], "i", 3, ctx).level)
    counted = int(np.isin(answers, [0, 2]).sum())
    right = round(paper_metric(success, answers, 3) * counted)
    assert binomtest(right, counted, PAPER_ACCURACY[task]).pvalue > P_MIN


@pytest.mark.parametrize("base", ["oracle", "symmetric", "vlm-like"])
def test_skip_leaves_its_rate_unanswered_and_answers_the_rest_like_its_base(base):
    skip = ScriptedTeacher(profile="skip", rate=0.3, base=base)
    plain = ScriptedTeacher(profile=base)
    n, unanswered, right = 1000, 0, 0
    for f, ctx in zip(_frames(12, n), _states(1, 3, n, 13), strict=True):
        r = skip.rate([f], "i", 3, ctx)
        if r.level == UNANSWERED:
            unanswered += 1
            assert r.meta["unanswered"] and "true_level" not in r.meta
        else:
            assert r.level == plain.rate([f], "i", 3, ctx).level
            right += r.level == 1
    assert binomtest(unanswered, n, 0.3).pvalue > P_MIN
    # which queries go unanswered is independent of the base's errors
    acc = 1.0 if base == "oracle" else PAPER_ACCURACY[DRAWER]
    assert (
        right == n - unanswered
        if base == "oracle"
        else (binomtest(right, n - unanswered, acc).pvalue > P_MIN)
    )


# --- preferences -----------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["oracle", "symmetric", "systematic", "vlm-like"])
def test_preference_flips_at_the_configured_rate(profile):
    teacher = ScriptedTeacher(profile=profile)
    rng = np.random.default_rng(14)
    n, right = 1000, 0
    for fa, fb in zip(_frames(15, n), _frames(16, n), strict=True):
        ctx = {
            "task": DRAWER,
            "a": {"progress": 0.9, "view": rng.uniform(-500, 500, 6)},
            "b": {"progress": 0.1, "view": rng.uniform(-500, 500, 6)},
        }
        right += teacher.prefer([fa], [fb], "i", ctx).label == 0
    expected = 1.0 if profile == "oracle" else PAPER_ACCURACY[DRAWER]
    if profile == "oracle":
        assert right == n
    else:
        assert binomtest(right, n, expected).pvalue > P_MIN


def test_skip_preferences_are_no_preference_at_its_rate():
    teacher = ScriptedTeacher(profile="skip", rate=0.25)
    ctx = {"task": "t", "a": {"progress": 0.9}, "b": {"progress": 0.1}}
    labels = [
        teacher.prefer([a], [b], "i", ctx).label
        for a, b in zip(_frames(17, 800), _frames(18, 800), strict=True)
    ]
    assert set(labels) <= {0, NO_PREFERENCE}  # base oracle: every answered pair is right
    assert binomtest(labels.count(NO_PREFERENCE), 800, 0.25).pvalue > P_MIN


# --- determinism and clustering --------------------------------------------------------------
@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "skip"] + ["skip"])
def test_same_frames_same_answer(profile):
    opts = {"rate": 0.4} if profile == "skip" else {}
    teacher = ScriptedTeacher(profile=profile, **opts)
    again = ScriptedTeacher(profile=profile, **opts)
    for f, ctx in zip(_frames(19, 60), _states(1, 3, 60, 20), strict=True):
        first = teacher.rate([f], "i", 3, ctx)
        assert again.rate([f.copy()], "i", 3, dict(ctx)) == first
        pc = {"task": DRAWER, "a": ctx, "b": {**ctx, "progress": 0.0}}
        assert teacher.prefer([f], [f[::-1]], "i", pc) == again.prefer([f], [f[::-1]], "i", pc)


def test_systematic_errors_follow_the_view_not_the_frames():
    """Same view, other pixels: same answer. Views 1 mm apart share errors; far ones do not."""
    teacher = ScriptedTeacher(profile="systematic")
    rng = np.random.default_rng(21)
    near_same = far_same = 0
    n = 300
    for f, g in zip(_frames(22, n), _frames(23, n), strict=True):
        view = rng.uniform(0, 1, 6)
        ctx = {"task": DRAWER, "progress": 0.5, "view": view}
        answer = teacher.rate([f], "i", 3, ctx).level
        assert teacher.rate([g], "i", 3, ctx).level == answer
        near = teacher.rate([g], "i", 3, {**ctx, "view": view + 0.001}).level
        far = teacher.rate([g], "i", 3, {**ctx, "view": view + 10.0}).level
        near_same += (near == 1) == (answer == 1)
        far_same += (far == 1) == (answer == 1)
    e = 1 - PAPER_ACCURACY[DRAWER]
    assert near_same > 0.95 * n
    assert binomtest(far_same, n, e * e + (1 - e) ** 2).pvalue > P_MIN


# --- identity, options, the factory and the listing --------------------------------------------
def test_profile_parameters_are_part_of_the_cache_key():
    f = _frames(24, 1)

    def key(**opts):
        oracle = CachedOracle(ScriptedTeacher(**opts), "live", None)
        return key_of(oracle._document("rate", "i", 3, [f]))

    keys = [
        key(),
        key(profile="symmetric"),
        key(profile="symmetric", rate=0.2),
        key(profile="vlm-like"),
        key(profile="vlm-like", lengthscale=0.1),
        key(profile="vlm-like", view_share=1.0),
        key(profile="skip", rate=0.2),
        key(profile="skip", rate=0.2, base="vlm-like"),
    ]
    assert len(set(keys)) == len(keys)


def test_options_reach_the_teacher_through_the_factory(tmp_path):
    opts = {"profile": "vlm-like", "rate": 0.2}
    rec = build_oracle("scripted", "record", tmp_path, dict(opts))
    assert rec.provider.profile == "vlm-like" and rec.provider.noise_rate == 0.2
    frame = _frames(25, 1)[0]
    ctx = {"task": DRAWER, "progress": 0.5, "view": [0.1] * 6}
    first = rec.rate([frame], "i", 3, ctx)
    rec.close()
    with build_oracle("scripted", "replay", tmp_path, dict(opts)) as replay:
        assert replay.rate([frame], "i", 3).level == first.level


@pytest.mark.parametrize(
    "opts,message",
    [
        ({"profile": "vlm-lke"}, "unknown teacher profile"),
        ({"profile": "vlm-like", "accuracy": 0.7}, "rate = 1 - accuracy"),
        ({"profile": "symmetric", "bias": 0.3}, "does not use bias"),
        ({"profile": "skip"}, "needs rate="),
        ({"profile": "skip", "rate": 0.2, "base": "skip"}, "another profile"),
        ({"profile": "systematic", "rate": 2}, "rate must be in"),
        ({"profile": "systematic", "rate": "high"}, "rate must be a number"),
    ],
)
def test_bad_options_say_what_to_do(opts, message):
    with pytest.raises(ValueError, match=message) as err:
        build_oracle("scripted", "live", None, opts)
    assert "\n" not in str(err.value)


def test_listing_names_every_profile(capsys):
    assert cli_main(["teachers"]) == 0
    out = capsys.readouterr().out
    for name, p in PROFILES.items():
        assert any(line.startswith(name) and p.summary in line for line in out.splitlines())


# --- the audit script's bookkeeping (no simulator: synthetic states) ---------------------------
def test_teacher_audit_counts_unanswered_apart_and_writes_one_figure_per_case(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "teacher_audit.py"
    spec = importlib.util.spec_from_file_location("teacher_audit_script", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(26)
    states = [
        {
            "kind": kind,
            "ep": ep,
            "pos": t / 19,
            "frame": f,
            "info": {"progress": t / 19, "success": t >= 15, "view": rng.uniform(0, 1, 6)},
        }
        for (kind, ep, t), f in zip(
            [(k, e, t) for k in ("expert", "random") for e in range(2) for t in range(20)],
            _frames(27, 80),
            strict=True,
        )
    ]
    rows = mod.audit_case(states, DRAWER, 3, tmp_path, full=False, seeds=2)
    assert [r["profile"] for r in rows] == list(mod.PROFILES)
    assert (tmp_path / "metaworld__drawer-open__3-levels.png").stat().st_size > 1000
    for r in rows:
        m = np.array(r["level_confusion"])
        assert m.sum() == r["ratings"] == len(states)
        assert (m[:, -1].sum() > 0) == (r["profile"] == "skip")
        assert r["unanswered"] == pytest.approx(m[:, -1].sum() / m.sum())
    skip = next(r for r in rows if r["profile"] == "skip")
    assert skip["configured"] == 1.0  # its base, oracle, never errs on what it answers
    assert "| skip |" in mod.table(rows)


def test_metaworld_step_info_carries_the_view():
    from envs import get_task

    env = get_task(DRAWER).make_env(0)
    try:
        env.reset(seed=1)
        obs, _, _, _, info = env.step(np.zeros(4, np.float32))
    finally:
        env.close()
    assert np.allclose(info["view"], np.concatenate([obs[0:3], obs[4:7]]), atol=1e-5)

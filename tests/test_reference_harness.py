"""The training harness follows the reference code by default, each item one switch from before.

Reference: tunglm2203/erlvlm (ERL-VLM) and yufeiwang63/RL-VLM-F; docs/deviations.md has the
file and line of each item. Every test is a unit test: no simulator, a few seconds in all.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from benchmark.config import BUDGETS, PAPER, SHORT, SMOKE
from benchmark.loops.online import feedback_schedule, label_new, replay_capacity, reset_critic
from benchmark.methods.reward_model import (
    FrameRewardEnsemble,
    mae_loss,
    predict,
    reference_stratified_batches,
    stratified_batches,
)
from benchmark.rl.buffer import ReplayBuffer
from benchmark.rl.exploration import StateEntropyReward
from benchmark.rl.sac import SAC, SACConfig
from tests.test_methods import FakeBuffer, FakeFeedback, make_method, make_task

REFERENCE = {
    "replay_capacity": 200_000,
    "reset_updates": 100,
    "label_chunk": 1,
    "query_pool": 100,
    "method_schedule": True,
}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_budget_defaults_to_the_reference_harness():
    for budget in BUDGETS.values():
        assert {k: getattr(budget, k) for k in REFERENCE} == REFERENCE, budget.name
        assert budget.entropy_norm == "welford"  # the fix is kept; "reference" is the switch


def filled(capacity: int, lengths: list[int], finished: int, pool: int) -> ReplayBuffer:
    """A buffer holding episodes of the given lengths; the first `finished` of them are over."""
    buf = ReplayBuffer(capacity, 2, 1, None, 1, query_pool=pool)
    for e, n in enumerate(lengths):
        for _ in range(n):
            buf.add(np.zeros(2), np.zeros(1), np.zeros(2), False, e, None, np.zeros(1), 0, 0, 0)
        if e < finished:
            buf.end_episode()
    return buf


def test_query_pool_is_the_last_finished_episodes_one_state_each_never_the_last_step():
    buf = filled(5000, [10] * 160, finished=159, pool=100)  # episode 159 is still running
    segs = buf.segments(1, 50, np.random.default_rng(0))
    idx = np.concatenate(segs)
    assert all(len(s) == 1 for s in segs)
    episodes = buf.episode[idx]
    assert len(set(episodes.tolist())) == 50  # distinct episodes
    assert episodes.min() >= 59 and episodes.max() <= 158  # the last 100 finished
    assert not np.any(idx % 10 == 9)  # never an episode's last step


def test_query_pool_reuses_episodes_only_when_there_are_fewer_than_queries():
    buf = filled(500, [10, 10, 10, 4], finished=3, pool=100)
    idx = np.concatenate(buf.segments(1, 40, np.random.default_rng(1)))
    assert set(buf.episode[idx].tolist()) == {0, 1, 2}
    assert not np.any(idx % 10 == 9)


def test_query_pool_after_the_buffer_wrapped_knows_each_episodes_last_step():
    buf = filled(25, [10] * 4, finished=4, pool=100)  # episode 3 wrapped to slots 5..14
    assert buf.full
    idx = np.concatenate(buf.segments(1, 200, np.random.default_rng(2)))
    # episode 3 was stored at slots 15..24 then 0..4: its last step is slot 4
    assert 4 not in idx and 14 not in idx and 24 in idx


def test_query_pool_zero_is_the_whole_buffer_uniformly_as_before():
    buf = filled(5000, [10] * 20, finished=19, pool=0)
    segs = buf.segments(1, 30, np.random.default_rng(3))
    before = np.random.default_rng(3).integers(0, 200, size=30)
    np.testing.assert_array_equal(np.concatenate(segs), before)


class FrameReward:
    """A learned reward as `label` sees one: an untrained CNN ensemble."""

    env_reward = None
    needs_frames = True
    is_ready = True

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = FrameRewardEnsemble(3, 64)

    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        return predict(self.model, frames)


def test_labelling_per_step_changes_when_rewards_are_computed_not_their_values():
    method = FrameReward()
    frames = np.random.default_rng(0).integers(0, 255, (200, 64, 64, 3), dtype=np.uint8)
    rewards, labelled = {}, {}
    for chunk in (1, 64):
        buf = ReplayBuffer(200, 2, 1, (64, 64, 3), 1)
        for i in range(200):
            buf.add(
                np.zeros(2), np.zeros(1), np.zeros(2), False, 0, frames[i], np.zeros(1), 0, 0, 0
            )
            label_new(method, buf, chunk)
            if chunk == 1:
                assert buf.labelled == buf.size  # SAC samples every stored transition
        rewards[chunk], labelled[chunk] = buf.rewards.copy(), buf.labelled
    assert labelled == {1: 200, 64: 193}  # 64 at a time (the first on its own)
    # one frame or 64 at once through the CNN: equal up to float summation order
    np.testing.assert_allclose(rewards[1][:193], rewards[64][:193], rtol=1e-5, atol=1e-9)
    assert not rewards[64][193:].any()


def test_after_the_buffer_wraps_each_new_transition_is_labelled_at_once():
    method = FrameReward()
    frames = np.random.default_rng(1).integers(0, 255, (30, 64, 64, 3), dtype=np.uint8)
    buf = ReplayBuffer(20, 2, 1, (64, 64, 3), 1)
    for i in range(30):
        buf.add(np.zeros(2), np.zeros(1), np.zeros(2), False, 0, frames[i], np.zeros(1), 0, 0, 0)
        label_new(method, buf, 64)
    np.testing.assert_allclose(buf.rewards, method.reward(buf.frames_, None), rtol=1e-5)


def test_replay_capacity_is_the_references_200k_or_the_run_length():
    assert replay_capacity(PAPER) == 200_000
    assert replay_capacity(SHORT) == SHORT.total_steps  # 50k: nothing is evicted
    assert replay_capacity(PAPER.with_overrides(replay_capacity=None)) == 1_000_000


def test_first_reward_session_resets_the_critic_and_runs_the_extra_updates():
    agent = SAC(4, 2, SACConfig(hidden_dim=16, batch_size=8), seed=0)
    buf = ReplayBuffer(50, 4, 2, None, 1)
    for i in range(50):
        buf.add(np.ones(4) * i, np.zeros(2), np.ones(4), False, 0, None, np.zeros(1), 0, 0, 0)
    buf.labelled = 50
    before = [p.clone() for p in agent.critic.parameters()]
    reset_critic(agent, buf, np.random.default_rng(0), 8, updates=5)
    assert agent.updates == 5
    assert any(
        not torch.equal(a, b) for a, b in zip(before, agent.critic.parameters(), strict=True)
    )
    reset_critic(agent, buf, np.random.default_rng(0), 8, updates=0)
    assert agent.updates == 5


def test_rl_vlm_f_runs_its_run_sh_schedule_scaled_like_the_budget():
    erl, rlvlmf = make_method("erl-vlm"), make_method("rl-vlm-f")
    assert feedback_schedule(SHORT, erl, set()).__dict__ == {
        "feedback_every": 2500,
        "queries_per_session": 50,
        "max_queries": 1000,
    }
    assert feedback_schedule(PAPER, rlvlmf, set()).__dict__ == {
        "feedback_every": 4000,
        "queries_per_session": 40,
        "max_queries": 20_000,
    }
    assert feedback_schedule(SHORT, make_method("rl-vlm-f"), set()).__dict__ == {
        "feedback_every": 2000,
        "queries_per_session": 40,
        "max_queries": 2000,
    }
    old = feedback_schedule(SMOKE.with_overrides(method_schedule=False), rlvlmf, set())
    assert (old.feedback_every, old.queries_per_session) == (500, 25)


def test_rl_vlm_f_on_soccer_trains_half_the_epochs_at_lr_1e_4_unless_told_otherwise():
    soccer = dataclasses.replace(make_task(), name="metaworld/soccer")
    m = make_method("rl-vlm-f", task=soccer, reward_epochs=10)
    feedback_schedule(PAPER, m, set())
    assert (m.config.reward_epochs, m.config.lr, m.drop_identical) == (5, 1e-4, True)
    m = make_method("rl-vlm-f", task=soccer, reward_epochs=10, lr=3e-4)
    feedback_schedule(PAPER, m, {"lr"})
    assert (m.config.reward_epochs, m.config.lr) == (5, 3e-4)
    m = make_method("rl-vlm-f", task=soccer, reward_epochs=10)
    feedback_schedule(PAPER.with_overrides(method_schedule=False), m, set())
    assert (m.config.reward_epochs, m.config.lr, m.drop_identical) == (10, 3e-4, False)


class SameTwice(FakeBuffer):
    """Offers the same state as both sides of every pair."""

    def segments(self, length: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
        return [np.array([7])] * count


class AlwaysPrefersB(FakeFeedback):
    def prefer(self, pairs):
        from oracle_cache.types import Preference

        self.asked += ["prefer"] * len(pairs)
        return [Preference(1) for _ in pairs]


@pytest.mark.parametrize("reference", [True, False])
def test_rl_vlm_f_drops_pairs_of_identical_images_after_asking(reference):
    buffer = SameTwice()
    feedback = AlwaysPrefersB(buffer)
    m = make_method("rl-vlm-f")
    if reference:
        m.follow_reference_schedule(set())
    stats = m.query_and_update(buffer, feedback, 5)
    assert len(feedback.asked) == 5  # the queries are spent either way, as in the reference
    assert stats["labels"] == (0 if reference else 5)


def test_unweighted_mae_averages_over_classes_weighted_mae_sums():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5]])
    y = torch.tensor([0, 2])
    summed = mae_loss(logits, y)
    assert mae_loss(logits, y, average_classes=True) == pytest.approx(float(summed) / 3)
    w = torch.tensor([1.0, 2.0])
    assert mae_loss(logits, y, w, average_classes=True) == mae_loss(logits, y, w)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"loss": "mae", "class_weights": False}, "mean"),
        ({"loss": "mae", "class_weights": False, "mae_reduction": "sum"}, "sum"),
        ({"loss": "label_smoothing"}, "unweighted"),
        ({"loss": "label_smoothing", "smoothing_weights": True}, "weighted"),
    ],
)
def test_rating_losses_follow_the_reference_unless_switched(options, expected):
    m = make_method("erl-vlm", **options)
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5], [1.0, 1.0, 0.0]])
    y = torch.tensor([0, 2, 2])
    w = torch.tensor([3.0, 1.0, 1.0]) if options["loss"] == "label_smoothing" else None
    got = float(m._loss(logits, y, w))
    ce = torch.nn.functional.cross_entropy
    if expected == "weighted":
        want = (ce(logits, y, reduction="none", label_smoothing=0.1) * w).sum() / w.sum()
    elif expected == "unweighted":
        want = ce(logits, y, label_smoothing=0.1)
    else:
        want = mae_loss(logits, y) / (3 if expected == "mean" else 1)
    want = float(want)
    assert got == pytest.approx(want)


def test_reference_sampler_leaves_the_remainder_to_the_last_batch():
    labels = np.array([0] * 100 + [1] * 1000)  # 9 % class 0, 3 batches of at most 512
    rng = np.random.default_rng(0)
    ref = reference_stratified_batches(labels, 512, 2, rng)
    assert sorted(np.concatenate(ref).tolist()) == list(range(len(labels)))
    # floor shares (33) plus one of each remainder, topped up from class 1; the last batch is
    # what is left: 33 of its 76 labels are class 0 (43 %)
    assert [len(b) for b in ref] == [512, 512, 76]
    assert [int((labels[b] == 0).sum()) for b in ref] == [34, 33, 33]
    even = stratified_batches(labels, 512, rng)
    assert sorted(len(b) for b in even) == [366, 367, 367]
    assert all(33 <= int((labels[b] == 0).sum()) <= 34 for b in even)
    labels = np.array([0] * 2 + [1] * 1100)  # fewer class-0 labels than batches
    ref = reference_stratified_batches(labels, 512, 2, rng)
    assert [int((labels[b] == 0).sum()) for b in ref] == [1, 1, 0]  # always the last one lacks it


def test_sampler_option_selects_the_reference_batches():
    m = make_method("erl-vlm", sampler="reference", batch_size=8)
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    batches = m._epoch_batches(labels)
    assert [len(b) for b in batches] == [8, 8, 4]
    with pytest.raises(ValueError, match="sampler must be one of even, reference"):
        make_method("erl-vlm", sampler="floor")


def test_reference_entropy_normaliser_keeps_the_references_running_mean_bug():
    memory = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(64, 3, generator=gen) * s for s in (1.0, 2.0)]
    fixed, ref = StateEntropyReward(), StateEntropyReward(norm="reference")
    dists = []
    for states in batches:
        a = fixed(states, memory, np.random.default_rng(0))
        b = ref(states, memory, np.random.default_rng(0))
        dists.append(a * (fixed.m2 / (fixed.count - 1)) ** 0.5)
    # Welford: the mean of all 128 distances; the reference: the newest batch's mean plus
    # batch_count / tot_count (64 / 128, its `+` where a `*` belongs)
    assert fixed.mean == pytest.approx(float(torch.cat(dists).mean()), rel=1e-6)
    assert ref.mean == pytest.approx(float(dists[1].mean()) + 64 / (128 + 1e-4), rel=1e-6)
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="entropy_norm must be one of welford, reference"):
        StateEntropyReward(norm="bug")


def test_tasks_listing_says_which_layout_each_metaworld_name_means(capsys):
    from benchmark.cli import main

    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for task in ("drawer-open", "sweep-into", "soccer"):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"metaworld/{task} "))
        assert "layout=reference" in line
    assert "metaworld/<task>@random is MetaWorld v3's randomised layout" in out


def test_sb3_speed_comparison_gives_sb3_our_sac_defaults():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sac_vs_sb3.py"
    spec = importlib.util.spec_from_file_location("bench_sac_vs_sb3", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.LR == SACConfig().actor_lr == SACConfig().critic_lr
    assert SHORT.replay_capacity == bench.CAPACITY
    assert "learning_rate=1e-4" not in path.read_text()


def test_each_switch_back_is_spelt_on_the_command_line():
    from benchmark.inputs import InputError, parse_options

    opts = parse_options(
        [
            "replay_capacity=null",
            "reset_updates=0",
            "label_chunk=64",
            "query_pool=0",
            "method_schedule=false",
            "entropy_norm=reference",
        ],
        "--budget-opt",
    )
    old = SHORT.with_overrides(**opts)
    assert (old.replay_capacity, old.reset_updates, old.label_chunk) == (None, 0, 64)
    assert (old.query_pool, old.method_schedule, old.entropy_norm) == (0, False, "reference")
    for bad in ("label_chunk=0", "entropy_norm=buggy", "query_pool=-1"):
        with pytest.raises(InputError) as err:
            SHORT.with_overrides(**parse_options([bad], "--budget-opt"))
        assert "\n" not in str(err.value)

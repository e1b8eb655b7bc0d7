"""The reward learner's pieces, pinned on inputs small enough to work out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.methods.reward_model import (
    FrameRewardEnsemble,
    ce_loss,
    class_weights,
    mae_loss,
    rbrl_boundaries,
    rbrl_logits,
    segment_returns,
    stratified_batches,
)


def test_boundaries_follow_cumulative_class_counts():
    r = torch.tensor([0.0, 0.2, 0.5, 1.0])
    y = torch.tensor([0, 0, 1, 2])  # counts 2, 1, 1 -> upper bounds at sorted[1], sorted[2]
    assert torch.allclose(rbrl_boundaries(r, y, 3), torch.tensor([0.0, 0.2, 0.5, 1.0]))


def test_boundaries_with_an_empty_class_make_an_empty_bin():
    r = torch.tensor([0.0, 0.4, 1.0])
    y = torch.tensor([1, 1, 2])  # nobody in class 0
    b = rbrl_boundaries(r, y, 3)
    assert b[0] == b[1] == 0.0 and b[2] == pytest.approx(0.4) and b[3] == 1.0


def test_logits_on_a_hand_computed_batch():
    # returns 2, 4, 7, 12 normalise to 0, .2, .5, 1 (min-max); k = 30
    returns = torch.tensor([2.0, 4.0, 7.0, 12.0])
    y = torch.tensor([0, 0, 1, 2])
    logits = rbrl_logits(returns, y, 3, k=30.0)
    # class 1 spans [.2, .5]: for r = 0 the logit is -(0-.2)(0-.5)*30 = -3
    expected = torch.tensor(
        [
            [0.0, -3.0, -15.0],
            [0.0, 0.0, -7.2],
            [-4.5, 0.0, 0.0],
            [-24.0, -12.0, 0.0],
        ]
    )
    assert torch.allclose(logits, expected, atol=1e-5)


def test_mae_and_ce_on_known_inputs():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]))
    y = torch.tensor([0, 1])
    # MAE: |.7-1|+.2+.1 = .6 ; .1+|.3-1|+.6 = 1.4 ; mean 1.0
    assert mae_loss(logits, y).item() == pytest.approx(1.0, abs=1e-6)
    # CE: -(ln .7 + ln .3)/2
    assert ce_loss(logits, y).item() == pytest.approx(
        -(math.log(0.7) + math.log(0.3)) / 2, abs=1e-6
    )
    # weighted: weights 1 and 3 -> (0.6 + 3*1.4)/4
    w = torch.tensor([1.0, 3.0])
    assert mae_loss(logits, y, w).item() == pytest.approx((0.6 + 4.2) / 4, abs=1e-6)


def test_class_weights_on_a_skewed_label_set():
    labels = np.array([0] * 8 + [1] * 2 + [2] * 1)
    # the reference code's weights: 1 - frequency = 3/11, 9/11, 10/11, smallest scaled to 1
    assert class_weights(labels, 3) == pytest.approx([1.0, 3.0, 10 / 3])
    # inverse frequency: 1/8, 1/2, 1/1 -> 1, 4, 8
    assert class_weights(labels, 3, "inverse") == pytest.approx([1.0, 4.0, 8.0])
    # two classes: both schemes weigh the rare class by the count ratio
    two = np.array([0] * 9 + [1] * 3)
    assert class_weights(two, 2) == pytest.approx(class_weights(two, 2, "inverse"))
    assert class_weights(two, 2) == pytest.approx([1.0, 3.0])
    # an absent class: the reference switches weighting off; inverse gives it weight 0
    assert class_weights(np.array([0, 0, 2]), 3) == pytest.approx([1.0, 1.0, 1.0])
    assert class_weights(np.array([0, 0, 2]), 3, "inverse") == pytest.approx([1.0, 0.0, 2.0])


def test_stratified_batches_keep_each_class_share():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 800 + [1] * 150 + [2] * 50)
    batches = stratified_batches(labels, 100, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))  # each label once
    for b in batches:
        share = np.bincount(labels[b], minlength=3) / len(b)
        assert share == pytest.approx([0.8, 0.15, 0.05], abs=0.02)


def test_uniform_batches_do_not_keep_shares_for_rare_classes():
    from benchmark.methods.reward_model import uniform_batches

    rng = np.random.default_rng(0)
    labels = np.array([0] * 950 + [1] * 50)
    counts = [int((labels[b] == 1).sum()) for b in uniform_batches(1000, 100, rng)]
    assert max(counts) - min(counts) >= 3  # what stratification fixes


def test_ensemble_members_are_independent_and_start_near_zero():
    torch.manual_seed(0)
    model = FrameRewardEnsemble(members=3, frame_size=64)
    frames = torch.randint(0, 255, (5, 64, 64, 3), dtype=torch.uint8)
    out = model(frames)
    assert out.shape == (5, 3)
    assert torch.all(out.abs() < 0.05)  # head initialised within +-1e-3, as in the reference
    assert not torch.allclose(out[:, 0], out[:, 1])
    assert torch.equal(model.member(2, frames), out[:, 2])
    # member 0's output must not depend on member 1's weights
    before = out[:, 0].clone()
    with torch.no_grad():
        model.nets[1][2].weight.add_(1.0)
    assert torch.equal(model(frames)[:, 0], before)


def test_segment_returns_sum_per_step_rewards():
    torch.manual_seed(0)
    model = FrameRewardEnsemble(members=2, frame_size=64)
    frames = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    per_step = model.member(1, torch.from_numpy(frames)).detach()
    returns = segment_returns(model, 1, [frames[:2], frames[2:3], frames[3:]]).detach()
    expected = torch.stack([per_step[:2].sum(), per_step[2], per_step[3:].sum()])
    assert torch.allclose(returns, expected, atol=1e-6)


def _direction_after_fit(loss_name: str, noise: float, seed: int) -> float:
    """Fit a linear reward on 2-D states whose true progress is x0, rated into 3 levels by a
    rater that says "Good" with probability noise * x1 (a distractor feature confuses it, as a
    VLM can be confused by clutter). Returns the cosine between the learned direction and x0."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (600, 2)).astype(np.float32)
    y = np.minimum(2, (x[:, 0] * 3).astype(int))
    y[rng.random(len(y)) < noise * x[:, 1]] = 2
    reward = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(reward.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(60):
        for b in stratified_batches(y, 128, rng):
            logits = rbrl_logits(reward(xt[b])[:, 0], yt[b], 3)
            loss = mae_loss(logits, yt[b]) if loss_name == "mae" else ce_loss(logits, yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    w = reward.weight.detach()[0]
    return float(w[0] / w.norm())


@pytest.mark.parametrize("seed", [0, 1])
def test_mae_degrades_less_than_ce_as_label_noise_grows(seed):
    torch.set_num_threads(1)
    fit = {
        (loss, noise): _direction_after_fit(loss, noise, seed)
        for loss in ("mae", "ce")
        for noise in (0.0, 0.3, 0.6)
    }
    for loss in ("mae", "ce"):
        assert fit[(loss, 0.0)] > 0.99  # both recover the true direction from clean labels
    for noise in (0.3, 0.6):
        drop_mae = fit[("mae", 0.0)] - fit[("mae", noise)]
        drop_ce = fit[("ce", 0.0)] - fit[("ce", noise)]
        assert drop_mae + 0.02 < drop_ce, (noise, drop_mae, drop_ce)

"""The learned reward: an ensemble of small CNNs on frames, and the losses that train it.

Architecture (ERL-VLM's reference code, after PEBBLE's image reward): 3 independent members,
each four convolutions (kernels 5,3,3,3; strides 3,2,2,2; channels 16,32,64,128; no padding;
ReLU, the reference CNN's hidden activation), a linear head to one scalar and tanh. As in the
reference, frames are scaled to [0, 1], convolution biases start at zero and the head starts
within +-1e-3, so every member begins near a zero reward. The relabelling reward is the mean
over members.

Deviation from the paper, for a CPU budget: frames are 64x64 (the paper fed 224x224 on a GPU).
The four strided convolutions take 64 px to a 1x1x128 map, so the head sees 128 features
instead of the paper's 7x7x128. The members are separate networks rather than one grouped
convolution: on this CPU the grouped form measured 2.5-3x slower.

The state-input variant (3x256 LeakyReLU MLPs, tanh) follows the reference's non-image reward;
it reads observations only, since a method sees no actions through `BufferView`.

RbRL (White et al., AAAI 2024) turns predicted segment returns into class probabilities: returns
are min-max normalised over the batch, class boundaries are the sorted normalised returns at the
batch's cumulative class counts, and class i's logit is -(r - lo_i)(r - hi_i) * k.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

KERNELS, STRIDES, CHANNELS = (5, 3, 3, 3), (3, 2, 2, 2), (16, 32, 64, 128)
HEAD_INIT = 1e-3  # the reference's init_w for the last layer


def frame_net(frame_size: int) -> nn.Sequential:
    """One member: conv stack -> linear -> tanh, for frames [N, 3, S, S] in [0, 1]."""
    layers: list[nn.Module] = []
    c_in = 3
    for kernel, stride, c_out in zip(KERNELS, STRIDES, CHANNELS, strict=True):
        conv = nn.Conv2d(c_in, c_out, kernel, stride)
        nn.init.zeros_(conv.bias)
        layers += [conv, nn.ReLU()]
        c_in = c_out
    convs = nn.Sequential(*layers)
    with torch.no_grad():
        n_features = convs(torch.zeros(1, 3, frame_size, frame_size)).numel()
    head = nn.Linear(n_features, 1)
    nn.init.uniform_(head.weight, -HEAD_INIT, HEAD_INIT)
    nn.init.uniform_(head.bias, -HEAD_INIT, HEAD_INIT)
    return nn.Sequential(convs, nn.Flatten(), head, nn.Tanh())


def state_net(obs_dim: int, hidden: int = 256, layers: int = 3) -> nn.Sequential:
    """One member of the state-input variant: `layers` x `hidden` LeakyReLU MLP -> tanh."""
    mods: list[nn.Module] = []
    d = obs_dim
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.LeakyReLU()]
        d = hidden
    return nn.Sequential(*mods, nn.Linear(d, 1), nn.Tanh())


class RewardEnsemble(nn.Module):
    """Independent members; `forward` gives per-step rewards [N, members] in [-1, 1]."""

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)

    @property
    def n_members(self) -> int:
        return len(self.nets)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.float()

    def member(self, m: int, x: torch.Tensor) -> torch.Tensor:
        """Member m's per-step rewards [N] (training feeds each member its own batch)."""
        return self.nets[m](self.prepare(x))[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare(x)
        return torch.stack([net(x)[:, 0] for net in self.nets], dim=-1)


class FrameRewardEnsemble(RewardEnsemble):
    """CNN members on frames uint8 [N, H, W, 3]."""

    def __init__(self, members: int = 3, frame_size: int = 64) -> None:
        super().__init__([frame_net(frame_size) for _ in range(members)])

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.permute(0, 3, 1, 2).float().div_(255.0)


class StateRewardEnsemble(RewardEnsemble):
    """MLP members on observations [N, obs_dim] (for runs told not to keep frames)."""

    def __init__(self, obs_dim: int, members: int = 3, hidden: int = 256) -> None:
        super().__init__([state_net(obs_dim, hidden) for _ in range(members)])


def build_ensemble(sample: np.ndarray, inputs: str, members: int) -> RewardEnsemble:
    """The ensemble for one input sample: a frame [H, W, 3] or an observation [obs_dim]."""
    if inputs == "frames":
        return FrameRewardEnsemble(members, frame_size=sample.shape[0])
    return StateRewardEnsemble(sample.shape[-1], members)


# --- RbRL ----------------------------------------------------------------------------------------
def rbrl_boundaries(returns: torch.Tensor, labels: torch.Tensor, levels: int) -> torch.Tensor:
    """Class boundaries [levels + 1] for normalised returns [B], as constants (no gradient).

    lo_0 = 0 and hi_{L-1} = 1; the upper bound of class i is the sorted return at position
    (number of labels <= i) - 1, so the batch's class shares fix where the bins fall. A class
    absent from the batch gets an empty bin at the previous boundary (the reference indexes
    position -1 there, i.e. the largest return, which puts a class-0 bin over everything).
    """
    sorted_r = returns.detach().sort().values
    counts = torch.bincount(labels, minlength=levels)
    cum = torch.cumsum(counts, 0)[:-1]
    inner = torch.where(cum > 0, sorted_r[(cum - 1).clamp(min=0)], torch.zeros_like(sorted_r[:1]))
    return torch.cat([returns.new_zeros(1), inner, returns.new_ones(1)])


def rbrl_logits(
    returns: torch.Tensor, labels: torch.Tensor, levels: int, k: float = 30.0
) -> torch.Tensor:
    """Logits [B, levels]: min-max normalise the batch's returns, then -(r - lo_i)(r - hi_i) k.

    The logit peaks (at 0 or above) inside class i's bin and falls off quadratically outside.
    """
    r = (returns - returns.min()) / (returns.max() - returns.min() + 1e-6)
    bounds = rbrl_boundaries(r, labels, levels)
    lo, hi = bounds[:-1], bounds[1:]
    return -(r[:, None] - lo[None, :]) * (r[:, None] - hi[None, :]) * k


def class_weights(
    labels: np.ndarray, levels: int, scheme: Literal["complement", "inverse"] = "complement"
) -> np.ndarray:
    """Per-class loss weights [levels] that favour rare classes, scaled so the smallest is 1.

    "complement" is ERL-VLM's reference code: w_c = 1 - n_c / N, and all ones unless every class
    occurs. "inverse" is w_c = 1 / n_c (0 for absent classes). With two classes they coincide
    (w_1 / w_0 = n_0 / n_1); with three or more "inverse" favours rare classes more strongly.
    """
    counts = np.bincount(labels, minlength=levels).astype(np.float64)
    if scheme == "complement":
        if (counts == 0).any():
            return np.ones(levels)
        w = 1.0 - counts / counts.sum()
    elif scheme == "inverse":
        w = np.where(counts > 0, 1.0 / np.maximum(counts, 1.0), 0.0)
    else:
        raise ValueError(f"class-weight scheme must be complement or inverse, got {scheme!r}")
    return w / w[w > 0].min()


def _weighted_mean(per_sample: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if weights is None:
        return per_sample.mean()
    return (per_sample * weights).sum() / weights.sum()


def mae_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor | None = None,
    average_classes: bool = False,
) -> torch.Tensor:
    """Sum over classes of |softmax - one-hot|, (weighted) mean over the batch.

    Bounded by 2 per sample, so a confidently wrong (noisy) label cannot dominate the gradient
    the way it does under cross-entropy: the reason ERL-VLM uses it. `average_classes` without
    weights takes the mean over classes instead of the sum, as the reference's unweighted loss
    (`F.l1_loss`, reward_model_vlm_rating.py:214-221); its weighted loss sums, as here.
    """
    onehot = F.one_hot(labels, logits.shape[-1]).float()
    per_sample = (logits.softmax(-1) - onehot).abs().sum(-1)
    if average_classes and weights is None:
        per_sample = per_sample / logits.shape[-1]
    return _weighted_mean(per_sample, weights)


def ce_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor | None = None,
    smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy (RbRL), (weighted) mean over the batch; `smoothing` mixes in a uniform target."""
    per_sample = F.cross_entropy(logits, labels, reduction="none", label_smoothing=smoothing)
    return _weighted_mean(per_sample, weights)


def bradley_terry_loss(
    returns_a: torch.Tensor, returns_b: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of P(b preferred) = softmax([R_a, R_b])[1]; label 0 = a better, 1 = b."""
    return F.cross_entropy(torch.stack([returns_a, returns_b], dim=-1), labels)


# --- batching ------------------------------------------------------------------------------------
def stratified_batches(
    labels: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """One epoch of batches in which every class keeps (within one sample) its overall share.

    Each class's shuffled indices are dealt across the ceil(N / batch_size) batches; where a
    class has fewer members than batches, a random rotation decides which batches get one.
    """
    n_batches = max(1, int(np.ceil(len(labels) / batch_size)))
    parts: list[list[np.ndarray]] = [[] for _ in range(n_batches)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        offset = int(rng.integers(n_batches))
        for j, chunk in enumerate(np.array_split(idx, n_batches)):
            parts[(j + offset) % n_batches].append(chunk)
    return [rng.permutation(np.concatenate(p)) for p in parts if p]


def reference_stratified_batches(
    labels: np.ndarray, batch_size: int, levels: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """One epoch of batches filled the way the reference code fills them.

    The behaviour of reward_model_vlm_rating.py:647-715 (`generate_training_indices`), written
    anew: with n = ceil(N / batch_size) batches, each of the first n - 1 takes floor(count / n)
    of every class (rarest first), then one more of each class that still has a remainder,
    then tops up from the most common class; the last batch gets whatever is left. So the
    last, short batch has class shares far from the overall ones (100 of 1100 labels in class
    0: 33 of its 76), and a class with fewer labels than batches is always missing from it.
    """
    n_batches = max(1, int(np.ceil(len(labels) / batch_size)))
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in range(levels)]
    left = np.array([len(p) for p in pools])
    order = np.argsort(left, kind="stable")
    share, extra = left // n_batches, left % n_batches
    flat: list[int] = []
    for _ in range(n_batches - 1):
        batch: list[int] = []
        for c in order:
            batch += pools[c][: share[c]]
            del pools[c][: share[c]]
            left[c] -= share[c]
        for c in order:
            if len(batch) >= batch_size:
                break
            if extra[c] > 0:
                batch += pools[c][:1]
                del pools[c][:1]
                extra[c] -= 1
                left[c] -= 1
        major = order[-1]
        top_up = max(0, min(batch_size - len(batch), left[major]))
        batch += pools[major][:top_up]
        del pools[major][:top_up]
        left[major] -= top_up
        flat += rng.permutation(np.asarray(batch, dtype=np.int64)).tolist()
        if (left <= 0).all():
            break
    for c in order:
        flat += pools[c]
    flat_arr = np.asarray(flat, dtype=np.int64)
    return [flat_arr[i : i + batch_size] for i in range(0, len(flat_arr), batch_size)]


def uniform_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of plain shuffled batches (RbRL, RL-VLM-F)."""
    perm = rng.permutation(n)
    return [perm[i : i + batch_size] for i in range(0, n, batch_size)]


def segment_returns(model: RewardEnsemble, m: int, segments: Sequence[np.ndarray]) -> torch.Tensor:
    """Member m's predicted return (sum of per-step rewards) of each segment: [B].

    Segments may differ in length (ALFRED rates whole trajectories); all of them run through
    the network in one call.
    """
    lengths = [len(s) for s in segments]
    per_step = model.member(m, torch.from_numpy(np.concatenate(segments)))
    if all(n == 1 for n in lengths):
        return per_step
    return torch.stack([p.sum() for p in per_step.split(lengths)])


@torch.inference_mode()
def predict(model: RewardEnsemble, inputs: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Mean ensemble reward, float32 [N], for many inputs (relabelling a whole buffer).

    Chunks of 256 frames measured fastest on this CPU (they stay in cache); larger chunks only
    cost memory.
    """
    out = [
        model(torch.from_numpy(np.ascontiguousarray(inputs[i : i + chunk]))).mean(-1)
        for i in range(0, len(inputs), chunk)
    ]
    return torch.cat(out).numpy().astype(np.float32) if out else np.zeros(0, np.float32)


def minmax_scale(model: RewardEnsemble, segments: Sequence[np.ndarray]) -> tuple[float, float]:
    """(lo, hi - lo) of the mean ensemble reward over every state of the given segments.

    Learned rewards are mapped through (r - lo) / (hi - lo) so the labelled states span [0, 1]:
    neither RbRL's normalised loss nor Bradley-Terry early in training sets a usable scale.
    """
    per_step = np.concatenate(
        [
            predict(model, np.concatenate(segments[i : i + 256]))
            for i in range(0, len(segments), 256)
        ]
    )
    lo, hi = float(per_step.min()), float(per_step.max())
    return lo, max(hi - lo, 1e-8)

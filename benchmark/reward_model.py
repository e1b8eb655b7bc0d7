"""The learned reward: an ensemble of small CNNs on frames, and the losses that train it.

Architecture (ERL-VLM / PEBBLE image reward): 3 members, conv kernels 5,3,3,3, strides
3,2,2,2, channels 16,32,64,128, LeakyReLU, a linear head and tanh. The members run as one
grouped convolution (groups = members), which costs one pass instead of three on a CPU; they
differ by initialisation and see the same batches. Frames are 64 px here (the paper fed larger
images on a GPU); the four strided convolutions reduce 64 px to 1x1, so the head is linear.

RbRL (White et al., 2024) turns predicted segment returns into class probabilities: returns are
min-max normalised over the batch, class boundaries are the sorted normalised returns at the
batch's cumulative class counts, and class i's logit is -(r - lo_i)(r - hi_i) * k.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

KERNELS, STRIDES, CHANNELS = (5, 3, 3, 3), (3, 2, 2, 2), (16, 32, 64, 128)


class FrameRewardEnsemble(nn.Module):
    """Per-step rewards in [-1, 1] for frames uint8 [N, H, W, 3]; output [N, members]."""

    def __init__(self, members: int = 3, frame_size: int = 64) -> None:
        super().__init__()
        self.members = members
        layers: list[nn.Module] = []
        c_in = 3
        for k, s, c in zip(KERNELS, STRIDES, CHANNELS, strict=True):
            layers += [nn.Conv2d(c_in * members, c * members, k, s, groups=members), nn.LeakyReLU()]
            c_in = c
        self.conv = nn.Sequential(*layers)
        with torch.no_grad():
            n_out = self.conv(torch.zeros(1, 3 * members, frame_size, frame_size)).shape[-1] ** 2
        self.head = nn.Conv1d(c_in * members * n_out, members, 1, groups=members)
        self.n_out = n_out

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5)
        x = self.conv(x.repeat(1, self.members, 1, 1))  # [N, members*C, h, w], grouped by member
        x = x.reshape(len(x), -1, 1)
        return torch.tanh(self.head(x).squeeze(-1))


class StateRewardEnsemble(nn.Module):
    """The same interface on state vectors (3x256 MLPs), for methods told not to use frames."""

    def __init__(self, obs_dim: int, members: int = 3, hidden: int = 256) -> None:
        super().__init__()
        self.nets = nn.ModuleList(
            nn.Sequential(
                nn.Linear(obs_dim, hidden),
                nn.LeakyReLU(),
                nn.Linear(hidden, hidden),
                nn.LeakyReLU(),
                nn.Linear(hidden, hidden),
                nn.LeakyReLU(),
                nn.Linear(hidden, 1),
            )
            for _ in range(members)
        )
        self.members = members

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.cat([n(obs.float()) for n in self.nets], dim=-1))


# --- RbRL ----------------------------------------------------------------------------------------
def rbrl_boundaries(returns: torch.Tensor, labels: torch.Tensor, levels: int) -> torch.Tensor:
    """Class boundaries [levels + 1] for normalised returns [B] (treated as constants).

    lo_0 = 0 and hi_{L-1} = 1; the upper bound of class i is the sorted return at position
    (number of labels <= i) - 1, so the batch's class shares fix where the bins fall. A class
    with no members gets an empty bin at the previous boundary.
    """
    sorted_r = returns.detach().sort().values
    counts = torch.bincount(labels, minlength=levels)
    cum = torch.cumsum(counts, 0)[:-1]
    inner = torch.where(cum > 0, sorted_r[(cum - 1).clamp(min=0)], torch.zeros_like(sorted_r[:1]))
    return torch.cat([returns.new_zeros(1), inner, returns.new_ones(1)])


def rbrl_logits(
    returns: torch.Tensor, labels: torch.Tensor, levels: int, k: float = 30.0
) -> torch.Tensor:
    """Logits [B, levels]: min-max normalise the batch's returns, then -(r - lo_i)(r - hi_i) k."""
    r = (returns - returns.min()) / (returns.max() - returns.min() + 1e-8)
    b = rbrl_boundaries(r, labels, levels)
    lo, hi = b[:-1], b[1:]
    return -(r[:, None] - lo[None, :]) * (r[:, None] - hi[None, :]) * k


def class_weights(labels: np.ndarray, levels: int) -> np.ndarray:
    """Weights inversely proportional to class frequency, scaled so the smallest is 1.

    Classes absent from the labels get weight 0 (they never occur in a batch anyway).
    """
    counts = np.bincount(labels, minlength=levels).astype(np.float64)
    w = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    return w / w[counts > 0].min()


def mae_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Sum over classes of |softmax - one-hot|, weighted mean over the batch (bounded: robust)."""
    per_sample = (logits.softmax(-1) - F.one_hot(labels, logits.shape[-1]).float()).abs().sum(-1)
    if weights is None:
        return per_sample.mean()
    return (per_sample * weights).sum() / weights.sum()


def ce_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor | None = None,
    smoothing: float = 0.0,
) -> torch.Tensor:
    per_sample = F.cross_entropy(logits, labels, reduction="none", label_smoothing=smoothing)
    if weights is None:
        return per_sample.mean()
    return (per_sample * weights).sum() / weights.sum()


# --- batching ------------------------------------------------------------------------------------
def stratified_batches(
    labels: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """One epoch of batches in which every class keeps (within one sample) its overall share."""
    n = len(labels)
    n_batches = max(1, int(np.ceil(n / batch_size)))
    parts: list[list[np.ndarray]] = [[] for _ in range(n_batches)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        # rotate where the remainders land so small classes are not all in the first batches
        offset = int(rng.integers(n_batches))
        for j, chunk in enumerate(np.array_split(idx, n_batches)):
            parts[(j + offset) % n_batches].append(chunk)
    return [rng.permutation(np.concatenate(p)) for p in parts if p]


def uniform_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    perm = rng.permutation(n)
    return [perm[i : i + batch_size] for i in range(0, n, batch_size)]


def segment_returns(model: nn.Module, segments: Sequence[np.ndarray]) -> torch.Tensor:
    """Sum of per-step predictions over each segment (variable lengths allowed): [B, members]."""
    lengths = [len(s) for s in segments]
    flat = torch.from_numpy(np.concatenate(segments))
    per_step = model(flat)
    return torch.stack([p.sum(0) for p in per_step.split(lengths)])


@torch.inference_mode()
def predict(model: nn.Module, inputs: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Mean ensemble reward for many inputs, in chunks (relabelling a whole buffer)."""
    out = [
        model(torch.from_numpy(inputs[i : i + chunk])).mean(-1)
        for i in range(0, len(inputs), chunk)
    ]
    return torch.cat(out).numpy().astype(np.float32) if out else np.zeros(0, np.float32)

"""Implicit Q-learning (Kostrikov, Nair & Levine, 2022) for discrete actions with action masks.

IQL never queries Q at actions outside the dataset: V is fitted to the dataset's Q-values by
expectile regression (an upper expectile approximates a max over in-support actions), Q is
fitted to r + gamma * V(s'), and the policy is extracted by advantage-weighted regression,
exp(beta * (Q - V)) times the log-likelihood of the logged action. For discrete actions the
critic outputs one value per action and the policy is a softmax over the *valid* actions only
(invalid logits are masked), as ALFRED's high-level actions need. Defaults follow the paper
(expectile 0.7, temperature 3, discount 0.99, tau 0.005, lr 3e-4, 2x256 MLPs, batch 256,
advantage weights clipped at 100).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.rl.nets import mlp

NEG_INF = -1e9  # masked logits; finite so that an all-masked row cannot produce NaNs


@dataclass
class IQLConfig:
    hidden_dim: int = 256
    hidden_depth: int = 2
    batch_size: int = 256
    lr: float = 3e-4
    discount: float = 0.99
    tau: float = 0.005
    expectile: float = 0.7
    temperature: float = 3.0
    max_weight: float = 100.0
    #: "auto": SlotNet when the env publishes a slot structure, else MLP; or force "mlp"
    network: str = "auto"
    #: width of the slot embeddings (SlotNet)
    slot_hidden: int = 32

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SlotNet(nn.Module):
    """Permutation-equivariant network for slot-structured observations (DeepSets-style).

    `structure` (e.g. envs.alfred.observation.STRUCTURE) says the vector is a global block
    followed by sets of equal-width slot blocks, and that the outputs are, in order, one per slot
    of a set or a few global ones. Each slot is embedded by an MLP shared across its set, given
    the global block as context; a slot's outputs are read off its own embedding, the global
    outputs (and V) off the global context plus the sets max-pooled. A rule learned for "go to
    the receptacle that holds the goal object" then holds for every slot at once, which a flat MLP
    has to learn slot by slot from many more layouts.
    """

    def __init__(self, obs_dim: int, out_dim: int, hidden: int, structure: dict[str, Any]) -> None:
        super().__init__()
        self.g_dim = int(structure["global"])
        self.sets = [(str(n), int(c), int(w)) for n, c, w in structure["sets"]]
        if self.g_dim + sum(c * w for _, c, w in self.sets) != obs_dim:
            raise ValueError(f"structure does not describe a {obs_dim}-dim observation")
        self.spec = [(str(k), v) for k, v in structure.get("actions", [])]
        counts = {n: c for n, c, _ in self.sets}
        n_out = sum(counts[a] if k == "slot" else int(a) for k, a in self.spec) or out_dim
        if n_out != out_dim:
            raise ValueError(f"structure has {n_out} outputs, expected {out_dim}")
        h = hidden
        self.ctx = nn.Sequential(nn.Linear(self.g_dim, h), nn.ReLU())
        self.embed = nn.ModuleDict({n: mlp(w + h, h, h, 1) for n, _, w in self.sets})
        self.summary = mlp(h * (1 + len(self.sets)), h, h, 1)
        self.heads = nn.ModuleList(
            nn.Linear(h, 1) if k == "slot" else nn.Linear(h, int(a)) for k, a in self.spec
        )
        self.out = None if self.spec else nn.Linear(h, out_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        ctx = self.ctx(obs[:, : self.g_dim])
        emb, start = {}, self.g_dim
        for n, c, w in self.sets:
            block = obs[:, start : start + c * w].view(-1, c, w)
            start += c * w
            # The first layer sees [slot, ctx]; its ctx half is the same for every slot of a
            # sample, so it is applied once per sample and broadcast: the same function and
            # parameters as concatenating, at 13 instead of 45 input columns per slot row.
            first, rest = self.embed[n][0], self.embed[n][1:]
            per_slot = F.linear(block, first.weight[:, :w])
            per_sample = F.linear(ctx, first.weight[:, w:], first.bias)
            emb[n] = F.relu(rest(per_slot + per_sample.unsqueeze(1)))
        # amax, not max(...).values: 14x faster on CPU here (no argmax indices to keep)
        pooled = torch.cat([ctx] + [emb[n].amax(dim=1) for n, _, _ in self.sets], -1)
        summary = F.relu(self.summary(pooled))
        if self.out is not None:
            return self.out(summary)
        return torch.cat(
            [
                head(emb[a]).squeeze(-1) if k == "slot" else head(summary)
                for (k, a), head in zip(self.spec, self.heads, strict=True)
            ],
            -1,
        )


def make_net(
    obs_dim: int, out_dim: int, cfg: IQLConfig, structure: dict[str, Any] | None, per_action: bool
) -> nn.Module:
    """A flat MLP, or a SlotNet when the env publishes its slot structure (network="auto")."""
    if cfg.network not in ("auto", "mlp"):
        raise ValueError(f"IQLConfig.network must be 'auto' or 'mlp', not {cfg.network!r}")
    if structure is None or cfg.network == "mlp":
        return mlp(obs_dim, out_dim, cfg.hidden_dim, cfg.hidden_depth)
    s = dict(structure) if per_action else {**structure, "actions": []}
    return SlotNet(obs_dim, out_dim, cfg.slot_hidden, s)


class TwinQ(nn.Module):
    """Two Q-heads over all actions: [2, B, n_actions]."""

    def __init__(
        self, obs_dim: int, n_actions: int, cfg: IQLConfig, structure: dict[str, Any] | None
    ) -> None:
        super().__init__()
        self.q1 = make_net(obs_dim, n_actions, cfg, structure, per_action=True)
        self.q2 = make_net(obs_dim, n_actions, cfg, structure, per_action=True)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.q1(obs), self.q2(obs)])


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """Asymmetric squared loss |tau - 1(diff < 0)| * diff^2 (diff = target - prediction)."""
    weight = torch.where(diff > 0, expectile, 1.0 - expectile)
    return (weight * diff.pow(2)).mean()


def masked_logits(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return logits if mask is None else logits.masked_fill(~mask, NEG_INF)


class IQL:
    """update(batch) with batch keys obs, action (int64), reward, next_obs, not_done, mask (bool)."""

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        config: IQLConfig | None = None,
        seed: int = 0,
        structure: dict[str, Any] | None = None,
    ) -> None:
        self.config = cfg = config or IQLConfig()
        self.n_actions = n_actions
        self.structure = structure
        torch.manual_seed(seed)
        self.q = TwinQ(obs_dim, n_actions, cfg, structure)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.v = make_net(obs_dim, 1, cfg, structure, per_action=False)
        self.policy = make_net(obs_dim, n_actions, cfg, structure, per_action=True)
        # fused Adam: the same update rule in one kernel per step; the per-tensor loop took a
        # sixth of an update's time with these small networks
        self.q_opt = torch.optim.Adam(self.q.parameters(), lr=cfg.lr, fused=True)
        self.v_opt = torch.optim.Adam(self.v.parameters(), lr=cfg.lr, fused=True)
        self.pi_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr, fused=True)
        self._gen = torch.Generator().manual_seed(seed)
        self._online_params = list(self.q.parameters())
        self._target_params = list(self.q_target.parameters())
        self.updates = 0

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        obs, next_obs = batch["obs"], batch["next_obs"]
        action = batch["action"].long().view(-1, 1)
        reward, not_done = batch["reward"].view(-1), batch["not_done"].view(-1)
        mask = batch.get("mask")

        with torch.no_grad():
            q_t = (
                self.q_target(obs)
                .gather(2, action.expand(2, -1, -1).contiguous())
                .squeeze(-1)
                .min(0)
                .values
            )

        # V: upper expectile of the dataset's Q-values
        v = self.v(obs).squeeze(-1)
        v_loss = expectile_loss(q_t - v, cfg.expectile)
        self.v_opt.zero_grad(set_to_none=True)
        v_loss.backward()
        self.v_opt.step()

        # Q: one-step backup through V (never through an argmax over unseen actions)
        with torch.no_grad():
            target = reward + cfg.discount * not_done * self.v(next_obs).squeeze(-1)
        q = self.q(obs).gather(2, action.expand(2, -1, -1).contiguous()).squeeze(-1)
        q_loss = F.mse_loss(q[0], target) + F.mse_loss(q[1], target)
        self.q_opt.zero_grad(set_to_none=True)
        q_loss.backward()
        self.q_opt.step()

        # policy: advantage-weighted log-likelihood of the logged action among valid actions
        with torch.no_grad():
            adv = q_t - v.detach()
            weight = torch.exp(cfg.temperature * adv).clamp(max=cfg.max_weight)
        logp = (
            F.log_softmax(masked_logits(self.policy(obs), mask), dim=-1)
            .gather(1, action)
            .squeeze(-1)
        )
        pi_loss = -(weight * logp).mean()
        self.pi_opt.zero_grad(set_to_none=True)
        pi_loss.backward()
        self.pi_opt.step()

        with torch.no_grad():
            torch._foreach_lerp_(self._target_params, self._online_params, cfg.tau)
        self.updates += 1
        return {
            "v_loss": float(v_loss.detach()),
            "q_loss": float(q_loss.detach()),
            "pi_loss": float(pi_loss.detach()),
            "adv_mean": float(adv.mean()),
            "v_mean": float(v.detach().mean()),
        }

    @torch.no_grad()
    def act(
        self, obs: np.ndarray, mask: np.ndarray | None = None, greedy: bool = True
    ) -> int | np.ndarray:
        """Action(s) for one observation [obs_dim] or a batch [B, obs_dim]; never an invalid one."""
        single = np.ndim(obs) == 1
        o = torch.as_tensor(np.atleast_2d(obs), dtype=torch.float32)
        m = None if mask is None else torch.as_tensor(np.atleast_2d(mask), dtype=torch.bool)
        logits = masked_logits(self.policy(o), m)
        if greedy:
            a = logits.argmax(-1)
        else:
            a = torch.multinomial(F.softmax(logits, -1), 1, generator=self._gen).squeeze(-1)
        out = a.numpy()
        return int(out[0]) if single else out

    def state_dict(self) -> dict[str, Any]:
        return {
            "q": self.q.state_dict(),
            "q_target": self.q_target.state_dict(),
            "v": self.v.state_dict(),
            "policy": self.policy.state_dict(),
            "q_opt": self.q_opt.state_dict(),
            "v_opt": self.v_opt.state_dict(),
            "pi_opt": self.pi_opt.state_dict(),
            "generator": self._gen.get_state(),
            "updates": self.updates,
            "config": self.config.to_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("q", "q_target", "v", "policy", "q_opt", "v_opt", "pi_opt"):
            getattr(self, name).load_state_dict(state[name])
        self._gen.set_state(state["generator"])
        self.updates = int(state["updates"])

"""Soft actor-critic (Haarnoja et al., 2018) as PEBBLE/BPref run it, written for CPU speed.

Readable top to bottom like CleanRL's, with one speed choice: the twin critics are one module
whose weights carry a leading ensemble axis, so both Q-functions run as batched matmuls (one
`torch.baddbmm` per layer) instead of two Python-level forward passes. Defaults are the agent
config the reference code's run scripts use (tunglm2203/erlvlm config/agent/sac.yaml, the
`agent: sac` default of config/train_PEBBLE_VLM.yaml): 3x256 MLPs, batch 512, actor and critic
lr 3e-4, alpha lr 1e-4, discount 0.99, tau 0.005, initial temperature 0.1, critic target
updated every 2 steps, actor every step, and every linear layer of the actor and both critics
initialised orthogonally (gain 1) with zero biases (utils.py `weight_init`). The repository's
config/agent/sac_metaworld.yaml says lr 1e-4, but no script selects it; this suite used 1e-4
and PyTorch's uniform init before, and `--sac-opt actor_lr=1e-4 critic_lr=1e-4 init=uniform`
brings both back (docs/deviations.md).

`precision="bf16"` (off by default) runs the hidden layers' matmuls under CPU autocast to
bfloat16, the CPU's analogue of TF32 on GPUs: weights, Adam and the losses stay fp32, and the
output layers (Q-values, the policy's mean and log-std) run in fp32 so a Q of several hundred
keeps its low bits. On CPUs with AVX512-BF16 or AMX the update is 1.6-1.8x faster than fp32
(benchmarks/bench_sac_vs_sb3.py), and over 3 seeds of 50k steps on drawer-open it learned as
fp32 did (docs/measurements.md). fp32 stays the default all the same: a CPU without bf16 units emulates it
slowly, and a default that changed with the hardware would change results with it. The fp32 path
is unchanged by the switch.

`matmul="onednn"` (the default) runs the fp32 layers, forward and backward, on oneDNN's kernels
(`rl/onednn.py`) instead of PyTorch's own dispatch (MKL on x86): the same fp32 arithmetic in
another summation order, and on this project's AMD CPU, where MKL takes its AVX2 path, a 1.75x
faster update (docs/measurements.md). `matmul="aten"` is the path every run before the switch
took; the protocols written before pin it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.rl.nets import mlp
from benchmark.rl.onednn import available as onednn_available
from benchmark.rl.onednn import ensemble_linear, onednn_linear
from benchmark.rl.sac_history import SAC_MATMULS as MATMULS
from benchmark.rl.sac_history import SAC_PRECISIONS as PRECISIONS


@dataclass
class SACConfig:
    hidden_dim: int = 256
    hidden_depth: int = 3
    batch_size: int = 512
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 1e-4
    discount: float = 0.99
    tau: float = 0.005
    init_temperature: float = 0.1
    actor_update_every: int = 1
    target_update_every: int = 2
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    #: "fp32" or "bf16" (hidden-layer matmuls under bfloat16 autocast; module docstring)
    precision: str = "fp32"
    #: "orthogonal" (weights, gain 1; biases 0: the reference's) or "uniform" (PyTorch's
    #: default U(+-1/sqrt(fan_in)) for weights and biases: this suite's before)
    init: str = "orthogonal"
    #: the fp32 matmul kernels: "onednn" (AVX-512 on any CPU that has it, `rl/onednn.py`) or
    #: "aten" (PyTorch's own dispatch: MKL on x86, this suite's before). Same fp32 arithmetic,
    #: other summation order; bf16 runs use autocast's kernels whatever this says
    matmul: str = "onednn"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fp32_head(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """An output layer in fp32 even under bf16 autocast; a no-op wrapper in fp32 runs."""
    if torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return layer(x.float())
    return layer(x)


class EnsembleLinear(nn.Module):
    """`n` independent linear layers applied as one batched matmul: [n, B, in] -> [n, B, out]."""

    def __init__(self, n: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(n, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


INITS = ("orthogonal", "uniform")


@torch.no_grad()
def orthogonal_init(module: nn.Module) -> None:
    """Orthogonal weights (gain 1) and zero biases for every linear layer, as the reference.

    An ensemble layer's members are initialised one by one, each as an `out x in` matrix the
    way `nn.Linear` stores it, so each member is what the reference's separate critic holds.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.orthogonal_(layer.weight)
            layer.bias.zero_()
        elif isinstance(layer, EnsembleLinear):
            n, in_dim, out_dim = layer.weight.shape
            for i in range(n):
                w = torch.empty(out_dim, in_dim)
                nn.init.orthogonal_(w)
                layer.weight[i].copy_(w.T)
            layer.bias.zero_()


class TwinQ(nn.Module):
    """Both critics of SAC in one module; returns Q-values of shape [2, B]."""

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: int, depth: int, onednn: bool = False
    ) -> None:
        super().__init__()
        dims = [obs_dim + act_dim] + [hidden] * depth + [1]
        self.layers = nn.ModuleList(
            EnsembleLinear(2, dims[i], dims[i + 1]) for i in range(len(dims) - 1)
        )
        self.onednn = onednn

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        if self.onednn:
            x = torch.cat([obs, act], dim=-1)  # [B, in], read by both members
            for layer in self.layers[:-1]:
                x = ensemble_linear(x, layer.weight, layer.bias, relu=True)
            head = self.layers[-1]
            return ensemble_linear(x, head.weight, head.bias).squeeze(-1)
        x = torch.cat([obs, act], dim=-1).unsqueeze(0).expand(2, -1, -1)
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return fp32_head(self.layers[-1], x).squeeze(-1)


class Actor(nn.Module):
    """Tanh-squashed diagonal Gaussian policy."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig, onednn: bool = False) -> None:
        super().__init__()
        self.net = mlp(obs_dim, 2 * act_dim, cfg.hidden_dim, cfg.hidden_depth)
        self.log_std_min, self.log_std_max = cfg.log_std_min, cfg.log_std_max
        self.onednn = onednn

    def _head(self, obs: torch.Tensor, onednn: bool) -> torch.Tensor:
        *body, head = self.net
        h = obs
        if onednn:
            for layer in body[::2]:  # Linear, ReLU, Linear, ReLU, ...: the ReLU is fused
                h = onednn_linear(h, layer.weight, layer.bias, relu=True)
            return onednn_linear(h, head.weight, head.bias)
        for layer in body:
            h = layer(h)
        return fp32_head(head, h)

    def forward(
        self, obs: torch.Tensor, onednn: bool | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (sampled action, its log-prob, deterministic action).

        `onednn=False` forces PyTorch's kernels (acting on one observation: oneDNN's per-call
        overhead outweighs its speed there); `None` means the agent's setting.
        """
        mu, log_std = self._head(obs, self.onednn if onednn is None else onednn).chunk(2, dim=-1)
        log_std = torch.tanh(log_std)  # bounded, as in PEBBLE's actor
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (log_std + 1)
        std = log_std.exp()
        noise = torch.randn_like(mu)
        pre_tanh = mu + std * noise
        action = torch.tanh(pre_tanh)
        # log N(pre_tanh; mu, std) minus the tanh Jacobian, in the numerically stable form
        log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (2 * (math.log(2) - pre_tanh - F.softplus(-2 * pre_tanh))).sum(-1)
        return action, log_prob, torch.tanh(mu)


class SAC:
    """The agent: `act` for the environment, `update` for one gradient step on a batch."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig, seed: int) -> None:
        if cfg.precision not in PRECISIONS:
            raise ValueError(f"SACConfig.precision must be 'fp32' or 'bf16', not {cfg.precision!r}")
        if cfg.init not in INITS:
            raise ValueError(f"SACConfig.init must be one of {INITS}, not {cfg.init!r}")
        if cfg.matmul not in MATMULS:
            raise ValueError(f"SACConfig.matmul must be one of {MATMULS}, not {cfg.matmul!r}")
        if cfg.matmul == "onednn" and not onednn_available():
            raise ValueError(
                "SACConfig.matmul='onednn' needs a PyTorch build with oneDNN "
                "(torch.backends.mkldnn), which this one lacks: pass --sac-opt matmul=aten"
            )
        torch.manual_seed(seed)
        self.cfg = cfg
        #: oneDNN's kernels for the fp32 update; bf16 runs keep autocast's
        self.onednn = cfg.matmul == "onednn" and cfg.precision == "fp32"
        self.actor = Actor(obs_dim, act_dim, cfg, self.onednn)
        self.critic, self.critic_target = self._new_critics(obs_dim, act_dim)
        if cfg.init == "orthogonal":
            orthogonal_init(self.actor)
        self.log_alpha = torch.tensor(math.log(cfg.init_temperature), requires_grad=True)
        self.target_entropy = -float(act_dim)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr, foreach=True)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, foreach=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr)
        self.updates = 0

    def _new_critics(self, obs_dim: int, act_dim: int) -> tuple[TwinQ, TwinQ]:
        """Critic and its target, initialised as `cfg.init` says.

        Both are built before any re-initialisation, so `init="uniform"` draws exactly the
        random numbers it drew before the switch existed.
        """
        cfg = self.cfg
        critic = TwinQ(obs_dim, act_dim, cfg.hidden_dim, cfg.hidden_depth, self.onednn)
        target = TwinQ(obs_dim, act_dim, cfg.hidden_dim, cfg.hidden_depth, self.onednn)
        if cfg.init == "orthogonal":
            orthogonal_init(critic)
        target.load_state_dict(critic.state_dict())
        target.requires_grad_(False)
        return critic, target

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    @torch.inference_mode()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0)
        if deterministic:  # draws no noise, so evaluation leaves the training RNG untouched
            return torch.tanh(self.actor.net(o).chunk(2, dim=-1)[0])[0].numpy()
        return self.actor(o, onednn=False)[0][0].numpy()

    def _forward_precision(self) -> torch.autocast:
        """Forward passes of `update` run in this context (backward passes outside it)."""
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16")

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        obs, act, rew = batch["obs"], batch["action"], batch["reward"]
        next_obs, not_done = batch["next_obs"], batch["not_done"]
        cfg = self.cfg

        with torch.no_grad(), self._forward_precision():
            next_act, next_logp, _ = self.actor(next_obs)
            target_q = self.critic_target(next_obs, next_act).min(0).values
            target = rew + not_done * cfg.discount * (target_q - self.alpha * next_logp)
        with self._forward_precision():
            q = self.critic(obs, act)
            critic_loss = F.mse_loss(q, target.unsqueeze(0).expand_as(q), reduction="mean") * 2
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        stats = {"critic_loss": critic_loss.item()}

        if self.updates % cfg.actor_update_every == 0:
            self.critic.requires_grad_(False)
            with self._forward_precision():
                new_act, logp, _ = self.actor(obs)
                actor_q = self.critic(obs, new_act).min(0).values
                actor_loss = (self.alpha.detach() * logp - actor_q).mean()
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.actor_opt.step()
            self.critic.requires_grad_(True)
            alpha_loss = (self.alpha * (-logp.detach() - self.target_entropy)).mean()
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_opt.step()
            stats.update(actor_loss=actor_loss.item(), alpha=self.log_alpha.exp().item())

        if self.updates % cfg.target_update_every == 0:
            with torch.no_grad():
                for p, tp in zip(
                    self.critic.parameters(), self.critic_target.parameters(), strict=True
                ):
                    tp.lerp_(p, cfg.tau)
        self.updates += 1
        return stats

    def reset_critic(self) -> None:
        """PEBBLE resets the critic after unsupervised pre-training (its Q is for another reward)."""
        obs_dim = self.critic.layers[0].weight.shape[1] - self.actor.net[-1].out_features // 2
        act_dim = self.actor.net[-1].out_features // 2
        self.critic, self.critic_target = self._new_critics(obs_dim, act_dim)
        self.critic_opt = torch.optim.Adam(
            self.critic.parameters(), lr=self.cfg.critic_lr, foreach=True
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
        self.updates = state["updates"]

"""SAC's pieces: fused twin critics match two separate networks, updates learn, state round-trips."""

import io

import numpy as np
import torch

from benchmark.rl.sac import SAC, EnsembleLinear, SACConfig


def test_ensemble_linear_equals_independent_layers():
    torch.manual_seed(0)
    layer = EnsembleLinear(2, 5, 3)
    x = torch.randn(2, 7, 5)
    y = layer(x)
    for i in range(2):
        ref = x[i] @ layer.weight[i] + layer.bias[i]
        assert torch.allclose(y[i], ref, atol=1e-6)


def test_critic_fits_a_fixed_reward():
    torch.set_num_threads(1)
    cfg = SACConfig(hidden_dim=64, batch_size=64, critic_lr=1e-3, actor_lr=1e-3)
    agent = SAC(3, 2, cfg, seed=0)
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(64, 3, generator=g)
    batch = {
        "obs": obs,
        "action": torch.rand(64, 2, generator=g) * 2 - 1,
        "reward": obs[:, 0],  # a learnable function of the state
        "next_obs": obs,
        "not_done": torch.zeros(64),  # terminal: target = reward exactly
    }
    first = agent.update(batch)["critic_loss"]
    for _ in range(300):
        last = agent.update(batch)["critic_loss"]
    assert last < 0.1 * first


def test_deterministic_act_draws_no_random_numbers():
    agent = SAC(4, 2, SACConfig(hidden_dim=16), seed=0)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = agent.act(np.zeros(4, np.float32), deterministic=True)
    assert torch.equal(state, torch.get_rng_state())
    assert a.shape == (2,) and np.all(np.abs(a) <= 1)


def test_state_dict_round_trip_reproduces_updates():
    cfg = SACConfig(hidden_dim=16, batch_size=8)
    batch = {
        "obs": torch.randn(8, 3),
        "action": torch.rand(8, 2),
        "reward": torch.randn(8),
        "next_obs": torch.randn(8, 3),
        "not_done": torch.ones(8),
    }
    a = SAC(3, 2, cfg, seed=1)
    a.update(batch)
    # through bytes, as a checkpoint goes (load_state_dict of a live dict would share Adam's
    # state tensors between the two agents)
    blob = io.BytesIO()
    torch.save(a.state_dict(), blob)
    blob.seek(0)
    b = SAC(3, 2, cfg, seed=2)
    b.load_state_dict(torch.load(blob))
    torch.manual_seed(5)
    sa = a.update(batch)
    torch.manual_seed(5)
    sb = b.update(batch)
    assert sa == sb


def _fixed_batch(n: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, 3, generator=g)
    return {
        "obs": obs,
        "action": torch.rand(n, 2, generator=g) * 2 - 1,
        "reward": 300 + obs[:, 0],  # large returns: the bits an fp32 output layer keeps
        "next_obs": obs,
        "not_done": torch.zeros(n),
    }


def test_bf16_precision_keeps_fp32_outputs_and_learns():
    torch.set_num_threads(1)
    cfg = SACConfig(hidden_dim=64, batch_size=64, critic_lr=1e-3, actor_lr=1e-3)
    fp32, bf16 = (
        SAC(3, 2, cfg, seed=0),
        SAC(3, 2, SACConfig(**{**cfg.to_dict(), "precision": "bf16"}), seed=0),
    )
    batch = _fixed_batch()
    with torch.no_grad(), bf16._forward_precision():
        q = bf16.critic(batch["obs"], batch["action"])
        action, logp, _ = bf16.actor(batch["obs"])
    assert (
        q.dtype == torch.float32 and logp.dtype == torch.float32 and action.dtype == torch.float32
    )
    with torch.no_grad():
        q32 = fp32.critic(batch["obs"], batch["action"])  # same seed, same weights
    assert torch.allclose(q, q32, rtol=0.05, atol=0.02)
    # fitting Q ~ 300 + obs[0]: bf16 hidden layers must get about as close as fp32 does
    for _ in range(300):
        loss32, loss16 = fp32.update(batch)["critic_loss"], bf16.update(batch)["critic_loss"]
    assert loss16 < 1.5 * loss32


def test_unknown_precision_is_refused():
    import pytest

    with pytest.raises(ValueError, match="precision"):
        SAC(3, 2, SACConfig(precision="fp16"), seed=0)

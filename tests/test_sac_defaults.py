"""SAC's defaults are the reference code's; each changed one is a switch away from the old.

Reference: tunglm2203/erlvlm config/agent/sac.yaml (the `agent: sac` default of
config/train_PEBBLE_VLM.yaml, used by every run script) and utils.py `weight_init`.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from benchmark.cli import main as cli_main
from benchmark.rl.sac import SAC, Actor, EnsembleLinear, SACConfig, TwinQ

#: the old behaviour, as `--sac-opt` spells it and the old leaderboard protocols pin it
OLD = {"actor_lr": 1e-4, "critic_lr": 1e-4, "init": "uniform"}


def test_defaults_are_the_reference_agent_config():
    cfg = SACConfig()
    assert (cfg.actor_lr, cfg.critic_lr, cfg.alpha_lr) == (3e-4, 3e-4, 1e-4)
    assert cfg.init == "orthogonal"
    assert (cfg.hidden_dim, cfg.hidden_depth, cfg.batch_size) == (256, 3, 512)
    assert (cfg.discount, cfg.tau, cfg.init_temperature) == (0.99, 0.005, 0.1)
    assert (cfg.actor_update_every, cfg.target_update_every) == (1, 2)
    agent = SAC(5, 2, SACConfig(hidden_dim=16), seed=0)
    assert agent.actor_opt.param_groups[0]["lr"] == 3e-4
    assert agent.critic_opt.param_groups[0]["lr"] == 3e-4
    assert agent.alpha_opt.param_groups[0]["lr"] == 1e-4


def _linear_weights(agent: SAC) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight as out x in, bias) of every actor layer and every member of each critic layer."""
    out = [(m.weight, m.bias) for m in agent.actor.modules() if isinstance(m, nn.Linear)]
    for layer in agent.critic.layers:
        for i in range(layer.weight.shape[0]):
            out.append((layer.weight[i].T, layer.bias[i, 0]))
    return out


def _is_orthogonal(w: torch.Tensor) -> bool:
    small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return torch.allclose(small, torch.eye(small.shape[0]), atol=1e-5)


def test_default_init_is_orthogonal_with_zero_biases_in_every_layer():
    agent = SAC(7, 3, SACConfig(hidden_dim=32), seed=0)
    layers = _linear_weights(agent)
    assert len(layers) == 4 + 2 * 4  # 3 hidden layers + output, actor and both critics
    for w, b in layers:
        assert _is_orthogonal(w.detach())
        assert torch.count_nonzero(b) == 0
    for p, tp in zip(agent.critic.parameters(), agent.critic_target.parameters(), strict=True):
        assert torch.equal(p, tp)
    agent.reset_critic()  # PEBBLE's critic reset builds its critics the same way
    assert all(_is_orthogonal(w.detach()) for w, _ in _linear_weights(agent)[4:])


def test_uniform_init_draws_exactly_what_the_old_default_drew():
    """`init=uniform` is the pre-switch construction, random number for random number."""
    cfg = SACConfig(hidden_dim=16, **OLD)
    agent = SAC(6, 2, cfg, seed=3)
    torch.manual_seed(3)
    actor = Actor(6, 2, cfg)
    critic = TwinQ(6, 2, cfg.hidden_dim, cfg.hidden_depth)
    for a, b in zip(agent.actor.state_dict().values(), actor.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(agent.critic.state_dict().values(), critic.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    w, b = (t.detach() for t in _linear_weights(agent)[0])
    bound = 1 / math.sqrt(6)
    assert float(w.abs().max()) <= bound and torch.count_nonzero(b) > 0
    assert agent.actor_opt.param_groups[0]["lr"] == agent.critic_opt.param_groups[0]["lr"] == 1e-4


def test_ensemble_layer_members_are_orthogonalised_one_by_one():
    from benchmark.rl.sac import orthogonal_init

    torch.manual_seed(0)
    layer = EnsembleLinear(2, 5, 3)
    orthogonal_init(layer)
    assert not torch.equal(layer.weight[0], layer.weight[1])
    assert all(_is_orthogonal(layer.weight[i].T) for i in range(2))


def test_an_unknown_init_is_one_clear_line_on_the_command_line(tmp_path, capsys):
    with pytest.raises(ValueError, match="init must be one of"):
        SAC(3, 2, SACConfig(init="xavier"), seed=0)
    code = cli_main(["sweep", "--sac-opt", "init=xavier", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: --sac-opt:") and "orthogonal" in err[0]

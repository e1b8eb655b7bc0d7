"""SAC's fp32 matmuls on oneDNN (`SACConfig.matmul`, the default): same maths as PyTorch's own.

oneDNN sums in another order than MKL, so results agree to fp32 rounding, not bit for bit;
what must hold exactly is that each path is deterministic, and that `matmul=aten` is PyTorch's
own layers (the pre-switch arithmetic, which the old protocols pin).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from benchmark.cli import main as cli_main
from benchmark.rl import onednn
from benchmark.rl.sac import SAC, SACConfig

pytestmark = pytest.mark.skipif(not onednn.available(), reason="PyTorch built without oneDNN")


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("relu", [False, True])
def test_linear_matches_pytorch_forward_and_backward(relu: bool):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(33, 7, generator=g, requires_grad=True)
    w = torch.randn(5, 7, generator=g, requires_grad=True)
    b = torch.randn(5, generator=g, requires_grad=True)
    up = torch.randn(33, 5, generator=g)
    y = onednn.onednn_linear(x, w, b, relu=relu)
    ref = F.linear(x, w, b)
    ref = F.relu(ref) if relu else ref
    assert _close(y, ref)
    grads = torch.autograd.grad((y * up).sum(), (x, w, b))
    refs = torch.autograd.grad((ref * up).sum(), (x, w, b))
    assert all(_close(a, r) for a, r in zip(grads, refs, strict=True))


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("relu", [False, True])
def test_ensemble_linear_matches_baddbmm_forward_and_backward(shared: bool, relu: bool):
    g = torch.Generator().manual_seed(1)
    n, batch, d_in, d_out = 2, 17, 6, 4
    x = torch.randn(*(() if shared else (n,)), batch, d_in, generator=g, requires_grad=True)
    w = torch.randn(n, d_in, d_out, generator=g, requires_grad=True)
    b = torch.randn(n, 1, d_out, generator=g, requires_grad=True)
    up = torch.randn(n, batch, d_out, generator=g)
    y = onednn.ensemble_linear(x, w, b, relu=relu)
    ref = torch.baddbmm(b, x.expand(n, -1, -1) if shared else x, w)
    ref = F.relu(ref) if relu else ref
    assert y.shape == (n, batch, d_out) and _close(y, ref)
    grads = torch.autograd.grad((y * up).sum(), (x, w, b))
    refs = torch.autograd.grad((ref * up).sum(), (x, w, b))
    assert all(g.shape == r.shape and _close(g, r) for g, r in zip(grads, refs, strict=True))


def test_only_the_gradients_asked_for_are_computed():
    """A frozen critic (SAC's actor loss) asks only for the input's gradient."""
    x = torch.randn(4, 3, requires_grad=True)
    w, b = torch.randn(2, 3, 5), torch.randn(2, 1, 5)
    (gx,) = torch.autograd.grad(onednn.ensemble_linear(x, w, b, relu=True).sum(), (x,))
    assert gx.shape == x.shape


def _batch(seed: int, n: int = 64) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "obs": torch.randn(n, 5, generator=g),
        "action": torch.rand(n, 2, generator=g) * 2 - 1,
        "reward": torch.randn(n, generator=g),
        "next_obs": torch.randn(n, 5, generator=g),
        "not_done": torch.ones(n),
    }


def _agent(matmul: str) -> SAC:
    return SAC(5, 2, SACConfig(hidden_dim=32, batch_size=64, matmul=matmul), seed=0)


def test_default_is_onednn_and_it_matches_aten_through_updates():
    torch.set_num_threads(1)
    assert SACConfig().matmul == "onednn"
    fast, ref = _agent("onednn"), _agent("aten")
    assert fast.onednn and not ref.onednn
    for k in range(3):
        torch.manual_seed(k)  # the same policy noise for both
        s_fast = fast.update(_batch(k))
        torch.manual_seed(k)
        s_ref = ref.update(_batch(k))
        for key in s_ref:
            assert s_fast[key] == pytest.approx(s_ref[key], rel=1e-4, abs=1e-6), key
    batch = _batch(9)
    with torch.no_grad():
        q_fast, q_ref = (
            fast.critic(batch["obs"], batch["action"]),
            ref.critic(batch["obs"], batch["action"]),
        )
    assert torch.allclose(q_fast, q_ref, rtol=1e-3, atol=1e-4)


def test_each_path_is_deterministic():
    for matmul in ("onednn", "aten"):
        a, b = _agent(matmul), _agent(matmul)
        for k in range(2):
            torch.manual_seed(k)
            sa = a.update(_batch(k))
            torch.manual_seed(k)
            assert b.update(_batch(k)) == sa
        for pa, pb in zip(a.critic.parameters(), b.critic.parameters(), strict=True):
            assert torch.equal(pa, pb)


def test_aten_is_pytorchs_own_layers():
    """`matmul=aten` runs nn.Linear and baddbmm, the arithmetic the old protocols recorded."""
    agent = _agent("aten")
    batch = _batch(3)
    with torch.no_grad():
        mu_std = agent.actor.net(batch["obs"])
        assert torch.equal(agent.actor._head(batch["obs"], onednn=False), mu_std)
        x = torch.cat([batch["obs"], batch["action"]], -1).expand(2, -1, -1)
        for layer in agent.critic.layers[:-1]:
            x = F.relu(torch.baddbmm(layer.bias, x, layer.weight))
        head = agent.critic.layers[-1]
        q = torch.baddbmm(head.bias, x, head.weight).squeeze(-1)
        assert torch.equal(agent.critic(batch["obs"], batch["action"]), q)


def test_bf16_keeps_autocasts_kernels():
    agent = SAC(5, 2, SACConfig(hidden_dim=16, precision="bf16"), seed=0)
    assert agent.cfg.matmul == "onednn" and not agent.onednn


def test_unknown_matmul_is_refused_with_the_choices(tmp_path, capsys):
    with pytest.raises(ValueError, match="matmul must be one of"):
        SAC(3, 2, SACConfig(matmul="blas"), seed=0)
    code = cli_main(["sweep", "--sac-opt", "matmul=blas", "--out", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    assert code != 0 and err[0].startswith("error: --sac-opt:") and "'onednn', 'aten'" in err[0]

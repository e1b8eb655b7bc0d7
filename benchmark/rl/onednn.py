"""fp32 linear layers on oneDNN's matmul kernels, with their own backward pass.

Why: PyTorch's CPU wheels run an fp32 `addmm`/`bmm` on Intel MKL, which on AMD CPUs takes its
AVX2 code path; oneDNN (bundled in the same wheel, `torch.ops.mkldnn`) uses AVX-512 on any CPU
that has it. On this project's 2-core AMD EPYC machine a 512x256x256 fp32 matmul runs at about
115 GFLOP/s through MKL and 230 through oneDNN, forward and backward alike, and SAC's update is
about 80 % matmuls (benchmarks/bench_sac_vs_sb3.py, docs/measurements.md). Both are IEEE fp32:
the results differ from MKL's only in summation order (rounding), as MKL's own kernels differ
between CPUs. `SACConfig.matmul` picks the library; "aten" keeps PyTorch's own dispatch.

`onednn_linear` takes an `nn.Linear` weight ([out, in]); `ensemble_linear` takes the twin critics'
stacked weights ([n, in, out], `sac.EnsembleLinear`). Both can fuse the ReLU that follows, which
oneDNN applies as a post-op; the backward pass masks the gradient with the saved output, as
`ReluBackward` does.
"""

from __future__ import annotations

from typing import Any

import torch

_HIDDEN = "relu"


def available() -> bool:
    """Whether this PyTorch build has oneDNN's linear op (x86-64 and aarch64 wheels do)."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _mm(a: torch.Tensor, b_t: torch.Tensor, bias: torch.Tensor | None, post: str) -> torch.Tensor:
    """`a @ b_t.T + bias`, then `post` ("none" or "relu"), on oneDNN (strided views are fine)."""
    return torch.ops.mkldnn._linear_pointwise(a, b_t, bias, post, [], "")


def _relu_mask(grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.threshold_backward(grad, out, 0)


def _stack(parts: list[torch.Tensor]) -> torch.Tensor:
    """torch.stack, without its copy for a single member (a plain layer)."""
    return parts[0].unsqueeze(0) if len(parts) == 1 else torch.stack(parts)


class _EnsembleLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, relu: bool):
        # x: [B, in] (shared by every member) or [n, B, in]; w: [n, in, out]; b: [n, 1, out]
        n = w.shape[0]
        post = _HIDDEN if relu else "none"
        shared = x.dim() == 2
        y = _stack([_mm(x if shared else x[i], w[i].t(), b[i, 0], post) for i in range(n)])
        ctx.relu, ctx.shared = relu, shared
        ctx.save_for_backward(x, w, y if relu else None)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        x, w, y = ctx.saved_tensors
        if ctx.relu:
            grad = _relu_mask(grad, y)
        n = w.shape[0]
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            parts = [_mm(grad[i], w[i], None, "none") for i in range(n)]
            gx = _stack(parts).sum(0) if ctx.shared else _stack(parts)
        if ctx.needs_input_grad[1]:
            xs = [x if ctx.shared else x[i] for i in range(n)]
            gw = _stack([_mm(xs[i].t(), grad[i].t(), None, "none") for i in range(n)])
        if ctx.needs_input_grad[2]:
            gb = grad.sum(1, keepdim=True)
        return gx, gw, gb, None


def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, relu: bool = False):
    """`F.linear(x, weight, bias)` (then ReLU if `relu`) on oneDNN; x is [B, in], weight an
    `nn.Linear`'s [out, in]. A one-member ensemble, through views (no copies)."""
    return _EnsembleLinear.apply(x, weight.t().unsqueeze(0), bias.view(1, 1, -1), relu)[0]


def ensemble_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, relu: bool = False):
    """`baddbmm(bias, x, weight)` (then ReLU) on oneDNN, one matmul per member.

    x is [B, in] when every member reads the same input (a critic's first layer) or [n, B, in].
    """
    return _EnsembleLinear.apply(x, weight, bias, relu)

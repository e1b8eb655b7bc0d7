"""How far apart two SAC agents drift when only their rounding differs (issue 19).

`matmul=onednn` and `matmul=aten` compute the same fp32 update in another summation order, so
two agents from the same seed on the same batches part ways over training, as any two runs
whose rounding differs do. This script sets that drift beside the drift from the smallest
change there is: the same `aten` agent with every weight of one critic layer moved by one ulp.
If the two drifts are alike, the kernels' difference is of the same kind as a 1-ulp nudge,
and runs that differ only in it are as alike as two runs of one setting can be after SAC and
Adam amplify round-off.

    PYTHONPATH=$PWD python benchmarks/sac_kernel_divergence.py [--updates 300]

Printed: after each checkpoint of updates, the largest parameter difference of the critics,
relative to the largest parameter, for both pairs.
"""

from __future__ import annotations

import argparse

import torch

from benchmark.rl.sac import SAC, SACConfig

OBS, ACT, BATCH = 39, 4, 512  # MetaWorld's sizes, the reference's batch


def _batches(n: int) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        {
            "obs": torch.randn(BATCH, OBS, generator=g),
            "action": torch.rand(BATCH, ACT, generator=g) * 2 - 1,
            "reward": torch.randn(BATCH, generator=g),
            "next_obs": torch.randn(BATCH, OBS, generator=g),
            "not_done": torch.ones(BATCH),
        }
        for _ in range(n)
    ]


@torch.no_grad()
def _drift(a: SAC, b: SAC) -> float:
    return max(
        float((p - q).abs().max() / q.abs().max())
        for p, q in zip(a.critic.parameters(), b.critic.parameters(), strict=True)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ref = SAC(OBS, ACT, SACConfig(matmul="aten"), 0)
    onednn = SAC(OBS, ACT, SACConfig(matmul="onednn"), 0)
    nudged = SAC(OBS, ACT, SACConfig(matmul="aten"), 0)
    with torch.no_grad():
        w = nudged.critic.layers[1].weight
        w.copy_(torch.nextafter(w, torch.full_like(w, float("inf"))))
    batches = _batches(4)
    marks = {0, 5, 50, args.updates - 1}
    print("| updates | onednn vs aten | aten +1 ulp in one layer vs aten |")
    print("|---|---|---|")
    for k in range(args.updates):
        for agent in (ref, onednn, nudged):
            torch.manual_seed(k)  # the same policy noise for all three
            agent.update(batches[k % len(batches)])
        if k in marks:
            print(f"| {k + 1} | {_drift(onednn, ref):.2g} | {_drift(nudged, ref):.2g} |")


if __name__ == "__main__":
    main()

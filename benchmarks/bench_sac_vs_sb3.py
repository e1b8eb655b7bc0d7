"""Our SAC vs stable-baselines3's SAC on the same task, network sizes, batch and learning rates.

Speed: environment steps per second with one gradient update per step, both measured in this
one process, one after the other, so the ratio is meaningful on a shared, noisy machine.
Learning (--learn): success-rate curves over seeds at the same step budget with the env's
dense reward, evaluated by the same function on the same evaluation episodes.

Update-only (--update-only): one gradient step on a batch of 512, ours in fp32 on oneDNN's
kernels (the default), in fp32 on PyTorch's own (`matmul=aten`, MKL: the default before issue
19's change), in bf16 (SACConfig.precision), and SB3, timed in interleaved blocks so a load
change hits all of them alike. (Rows recorded before that change call the MKL path `ours-fp32`.)

    .venv/bin/python benchmarks/bench_sac_vs_sb3.py --steps 3000            # speed only
    .venv/bin/python benchmarks/bench_sac_vs_sb3.py --steps 3000 --impls ours-fp32,ours-fp32-aten,sb3
    .venv/bin/python benchmarks/bench_sac_vs_sb3.py --update-only --threads 1
    .venv/bin/python benchmarks/bench_sac_vs_sb3.py --learn --steps 50000 --seeds 0,1,2 \
        --impls ours-fp32,ours-bf16,sb3

Needs the `sb3` extra (`pip install -e '.[sb3]'`) for every mode that runs stable-baselines3
(the default --impls, --update-only); without it the script says so and stops.

Each finished (implementation, seed) is appended to `<out>/rows.jsonl`, so the runs can be split
across processes with the same --out (say one seed each) and a rerun skips what is done;
`--report-only` then prints the table and draws the curves from everything recorded.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.config import RunConfig, get_budget
from benchmark.loops.online import _episode_seed, evaluate, run
from benchmark.rl.sac import SACConfig
from envs import get_task

TASK = "metaworld/drawer-open"
#: SB3 gets our SAC's defaults (the reference's actor and critic lr, 3e-4). SB3 has one
#: learning rate for actor, critic and temperature, so its temperature lr is 3e-4 where ours is
#: 1e-4, and it keeps PyTorch's default init where ours is orthogonal: neither is a switch there
LR = SACConfig().critic_lr
assert SACConfig().actor_lr == LR
#: the replay capacity of our runs (the reference's 200k, or the run when shorter)
CAPACITY = get_budget("short").replay_capacity


class _SB3Policy:
    """Adapter so our `evaluate` can drive an SB3 model."""

    def __init__(self, model) -> None:
        self.model = model

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self.model.predict(obs, deterministic=deterministic)[0]


def sb3_run(seed: int, steps: int, eval_every: int, eval_episodes: int, max_len: int, threads: int):
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(threads)
    task = get_task(TASK)
    env = task.make(seed, max_len)
    env.reset(seed=_episode_seed(seed, 0))
    eval_env = task.make(seed + 1, max_len)
    model = SB3SAC(
        "MlpPolicy",
        env,
        learning_rate=LR,
        buffer_size=min(steps, CAPACITY),
        learning_starts=1000,
        batch_size=512,
        tau=0.005,
        gamma=0.99,
        train_freq=1,
        gradient_steps=1,
        ent_coef="auto_0.1",
        policy_kwargs={"net_arch": [256, 256, 256]},
        seed=seed,
        device="cpu",
    )
    curve: list[tuple[int, float]] = []

    class Eval(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every == 0:
                sr, ret = evaluate(_SB3Policy(self.model), eval_env, seed, eval_episodes)
                curve.append((self.num_timesteps, sr, ret))
            return True

    t0 = time.perf_counter()
    model.learn(steps, callback=Eval())
    wall = time.perf_counter() - t0
    if not curve or curve[-1][0] != steps:  # the callback has not just evaluated the end
        sr, ret = evaluate(_SB3Policy(model), eval_env, seed, eval_episodes)
        curve.append((steps, sr, ret))
    return wall, curve


def ours_run(
    seed: int,
    steps: int,
    eval_every: int,
    eval_episodes: int,
    max_len: int,
    threads: int,
    out: str,
    sac: dict,
):
    cfg = RunConfig(
        task=TASK,
        method="gt-reward",
        seed=seed,
        budget="short",
        out_dir=out,
        cache_dir=f"{out}/cache",
        threads=threads,
        sac=sac,
        budget_overrides={
            "total_steps": steps,
            "seed_steps": 1000,
            "unsup_steps": 0,
            "eval_every": eval_every,
            "eval_episodes": eval_episodes,
            "max_episode_steps": max_len,
        },
    )
    root = run(cfg)
    phases = json.loads((root / "phases.json").read_text())
    import pandas as pd

    m = pd.read_csv(root / "metrics.csv")
    return phases, list(zip(m["step"], m["success_rate"], m["eval_return"], strict=True))


def update_only(threads: int, rounds: int, block: int) -> None:
    """Updates/s of one gradient step, ours (each of IMPL_SAC) vs SB3, interleaved block by block."""
    from stable_baselines3 import SAC as SB3SAC

    from benchmark.rl.sac import SAC

    torch.set_num_threads(threads)
    env = get_task(TASK).make_env(0)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    n = 20_000
    g = torch.Generator().manual_seed(0)
    pool = {
        "obs": torch.randn(n, obs_dim, generator=g),
        "action": torch.rand(n, act_dim, generator=g) * 2 - 1,
        "reward": torch.randn(n, generator=g),
        "next_obs": torch.randn(n, obs_dim, generator=g),
        "not_done": torch.ones(n),
    }
    ours = {i: SAC(obs_dim, act_dim, SACConfig(**sac), 0) for i, sac in IMPL_SAC.items()}
    sb3 = SB3SAC(
        "MlpPolicy",
        env,
        learning_rate=LR,
        buffer_size=n,
        batch_size=512,
        ent_coef="auto_0.1",
        policy_kwargs={"net_arch": [256, 256, 256]},
        seed=0,
        device="cpu",
    )
    for i in range(n):  # SB3 samples from its own buffer, as it does in learn()
        sb3.replay_buffer.add(
            pool["obs"][i].numpy(),
            pool["next_obs"][i].numpy(),
            pool["action"][i].numpy(),
            pool["reward"][i].numpy(),
            np.zeros(1),
            [{}],
        )
    sb3._setup_learn(1, None)  # what learn() does before its first train() (logger etc.)

    def ours_step(agent: SAC) -> None:
        idx = torch.randint(0, n, (512,))
        agent.update({k: v[idx] for k, v in pool.items()})

    steps = {IMPL_LABEL[i]: (lambda a=agent: ours_step(a)) for i, agent in ours.items()}
    steps["SB3 (fp32)"] = lambda: sb3.train(gradient_steps=1, batch_size=512)
    elapsed = dict.fromkeys(steps, 0.0)
    for fn in steps.values():
        for _ in range(3):
            fn()
    for _ in range(rounds):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            for _ in range(block):
                fn()
            elapsed[name] += time.perf_counter() - t0
    rate = {k: rounds * block / v for k, v in elapsed.items()}
    print(f"\n| update (batch 512, 3x256, {threads} thread(s)) | updates/s | vs SB3 |")
    print("|---|---|---|")
    for name, r in rate.items():
        print(f"| {name} | {r:.1f} | {r / rate['SB3 (fp32)']:.2f}x |")
    print(f"\n{rounds} interleaved rounds of {block} updates each")


#: SAC settings of each of our implementations (the rest are SACConfig's defaults)
IMPL_SAC = {
    "ours-fp32": {"precision": "fp32"},  # the default: fp32 on oneDNN's kernels
    "ours-fp32-aten": {"precision": "fp32", "matmul": "aten"},  # PyTorch's own (MKL): before
    "ours-bf16": {"precision": "bf16"},
}
IMPL_LABEL = {
    "ours-fp32": "ours fp32, oneDNN (default)",
    "ours-fp32-aten": "ours fp32, aten/MKL",
    "ours-bf16": "ours bf16",
}
IMPLS = (*IMPL_SAC, "sb3")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--learn", action="store_true", help="also report success curves")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/bench_sac_vs_sb3")
    ap.add_argument(
        "--impls", default="ours-fp32,sb3", help=f"comma-separated, from {', '.join(IMPLS)}"
    )
    ap.add_argument("--update-only", action="store_true", help="interleaved update timing")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--block", type=int, default=10)
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="no runs: table and plot from the runs already recorded in --out",
    )
    args = ap.parse_args()
    needs_sb3 = args.update_only or "sb3" in args.impls.split(",")
    if needs_sb3 and not args.report_only and importlib.util.find_spec("stable_baselines3") is None:
        raise SystemExit(
            "stable-baselines3 is not installed: `pip install -e '.[sb3]'` (the sb3 extra), "
            "or leave it out with --impls ours-fp32,ours-bf16"
        )
    if args.update_only:
        update_only(args.threads, args.rounds, args.block)
        return
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    if not impls or set(impls) - set(IMPLS):
        raise SystemExit(f"--impls takes names from {IMPLS}, got {args.impls!r}")
    out = Path(args.out)
    if args.report_only:
        report(load_rows(out), args.learn, out)
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    eval_every = max(1000, args.steps // 10) if args.learn else 10**9
    eval_eps = 5 if args.learn else 1
    max_len = get_budget("short").max_episode_steps or 500
    out.mkdir(parents=True, exist_ok=True)
    done = {(r["impl"], r["seed"], r["steps"], r["learn"]) for r in load_rows(out)}
    for seed in seeds:
        for impl in impls:  # one after another in this process, so load changes hit all alike
            if (impl, seed, args.steps, args.learn) in done:
                print(f"seed {seed} {impl}: already in {out / ROWS}, skipped")
                continue
            if impl == "sb3":
                wall, curve = sb3_run(seed, args.steps, eval_every, eval_eps, max_len, args.threads)
                train_s = wall  # includes its evaluations (none in speed mode)
            else:
                phases, curve = ours_run(
                    seed,
                    args.steps,
                    eval_every,
                    eval_eps,
                    max_len,
                    args.threads,
                    # a stable directory per implementation: a killed run resumes from its
                    # checkpoint when this command is run again
                    str(out / f"{impl}_{args.steps}{'_learn' if args.learn else ''}"),
                    IMPL_SAC[impl],
                )
                train_s = phases["total_s"] - phases.get("eval", 0.0)
            row = {
                "impl": impl,
                "seed": seed,
                "steps": args.steps,
                "learn": args.learn,
                "threads": args.threads,
                "steps_per_s": args.steps / train_s,
                "final": curve[-1][1],
                "final_return": curve[-1][2],
                "curve": curve,
            }
            with (out / ROWS).open("a") as f:  # one line per finished run: nothing lost on a kill
                f.write(json.dumps(row, default=float) + "\n")
            print(
                f"seed {seed} {impl}: {row['steps_per_s']:.1f} env steps/s, "
                f"final success {row['final']:.2f}, final return {row['final_return']:.0f}"
            )
    report(load_rows(out), args.learn, out)


ROWS = "rows.jsonl"


def load_rows(out: Path) -> list[dict]:
    """Every finished run recorded under `out` (several processes may append to the same file)."""
    path = out / ROWS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _by_step(curve: list) -> np.ndarray:
    """A curve as an array with one row per step (the last evaluation at a step wins)."""
    last = {int(point[0]): point for point in curve}
    return np.asarray([last[k] for k in sorted(last)], dtype=float)


def report(rows: list[dict], learn: bool, out: Path) -> None:
    """Table of speed and final success/return per implementation (+ curves with --learn)."""
    rows = [r for r in rows if r["learn"] == learn]
    if not rows:
        raise SystemExit(f"no {'--learn ' if learn else ''}runs recorded in {out / ROWS}")
    impls = [i for i in IMPLS if any(r["impl"] == i for r in rows)]
    by = {i: [r for r in rows if r["impl"] == i] for i in impls}
    ref = np.mean([r["steps_per_s"] for r in by["sb3"]]) if "sb3" in by else None
    print(
        "\n| implementation | seeds | env steps/s (1 update/step, batch 512, 3x256) | vs SB3 "
        "| final success (mean ± std) | final eval return (mean ± std) |"
    )
    print("|---|---|---|---|---|---|")
    for impl, rs in by.items():
        rate = np.mean([r["steps_per_s"] for r in rs])
        ratio = f"{rate / ref:.2f}x" if ref else "-"
        fin = [r["final"] for r in rs]
        ret = [r.get("final_return", np.nan) for r in rs]
        seeds = ",".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))
        print(
            f"| {impl} | {seeds} | {rate:.1f} | {ratio} | {np.mean(fin):.2f} ± {np.std(fin):.2f} "
            f"| {np.mean(ret):.0f} ± {np.std(ret):.0f} |"
        )
    steps = sorted({r["steps"] for r in rows})
    print(f"\n(steps={steps}, threads={sorted({r['threads'] for r in rows})})")
    (out / "bench.json").write_text(json.dumps(rows, indent=1, default=float))
    if not learn:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for k, impl in enumerate(impls):
        color = f"C{k}"
        for panel, (ax, col) in enumerate(zip(axes, (1, 2), strict=True)):
            curves = [_by_step(r["curve"]) for r in by[impl]]
            for c in curves:  # each seed faint, the mean bold
                ax.plot(c[:, 0], c[:, col], color=color, alpha=0.25, lw=0.8)
            n = min(len(c) for c in curves)
            mean = np.mean([c[-n:, col] for c in curves], axis=0)
            label = f"{impl} (n={len(curves)})" if panel == 0 else None
            ax.plot(curves[0][-n:, 0], mean, color=color, lw=2, label=label)
    axes[0].set_ylabel("success rate")
    axes[0].set_ylim(-0.03, 1.03)  # the whole scale, so a single 1-in-5 success looks its size
    axes[1].set_ylabel("eval return (dense env reward)")
    for ax in axes:
        ax.set_xlabel("environment steps")
    axes[0].legend()
    fig.suptitle(f"{TASK}: ours vs SB3 SAC, dense env reward (faint: seeds, bold: mean)")
    fig.tight_layout()
    fig.savefig(out / "sac_vs_sb3.png", dpi=120)
    print(f"plot: {out / 'sac_vs_sb3.png'}")


if __name__ == "__main__":
    main()

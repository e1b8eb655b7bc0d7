"""Audit an oracle on a task: are its ratings right, and do they rise along expert trajectories?

Rolls out the task's expert and a random policy, renders each sampled state at the oracle's
resolution, asks the oracle (through the cache, so an audit of a VLM is paid for once), and
writes: a confusion matrix of ratings against ground-truth success, mean rating along expert
and random trajectories, and a self-contained HTML gallery of the queried frames with their
rating and the oracle's analysis. Every output names the oracle.

    python -m benchmark audit --task metaworld/drawer-open [--oracle scripted] [--out docs/audit]
"""

from __future__ import annotations

import argparse
import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from envs import get_task  # noqa: E402
from oracle_cache import RateQuery, build_oracle  # noqa: E402


@dataclass
class Record:
    kind: str  # "expert" or "random"
    episode: int
    position: float  # 0 = start of the trajectory, 1 = its end
    success: bool
    progress: float
    level: int
    analysis: str
    frame: np.ndarray


def rollout(
    task_name: str, kind: str, episodes: int, every: int, size: int, seed: int
) -> list[tuple]:
    """(episode, position, frame, info) of every `every`-th state of each episode."""
    spec = get_task(task_name)
    env = spec.make_env(seed)
    rng = np.random.default_rng(seed)
    out = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=10_000 + seed * 100 + ep)
        expert = spec.make_expert(env) if kind == "expert" and spec.make_expert else None
        states = []
        for t in range(spec.max_episode_steps):
            if expert is not None:
                action = expert(obs)
            elif spec.action_kind == "discrete":
                action = int(rng.integers(env.action_space.n))
            else:
                action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
            obs, _, term, trunc, info = env.step(action)
            if t % every == 0 or term or trunc:
                states.append((t, env.render_frame(size), dict(info)))
            if term or trunc:
                break
        n = max(1, states[-1][0])
        out += [(ep, t / n, frame, info) for t, frame, info in states]
    env.close()
    return out


def audit(
    task_name: str,
    oracle_name: str = "scripted",
    cache: str = "record",
    cache_dir: str = ".cache/oracle",
    episodes: int = 4,
    every: int = 25,
    seed: int = 0,
) -> list[Record]:
    spec = get_task(task_name)
    oracle = build_oracle(oracle_name, cache, cache_dir)
    records: list[Record] = []
    for kind in ("expert", "random"):
        states = rollout(task_name, kind, episodes, every, spec.oracle_frame_size, seed)
        queries = [
            RateQuery(
                [frame],
                spec.instruction,
                spec.levels,
                {
                    "task": task_name,
                    "progress": float(info.get("progress", 0.0)),
                    "success": bool(info["success"]),
                },
            )
            for _, _, frame, info in states
        ]
        for (ep, pos, frame, info), rating in zip(states, oracle.rate_many(queries), strict=True):
            records.append(
                Record(
                    kind,
                    ep,
                    pos,
                    bool(info["success"]),
                    float(info.get("progress", 0)),
                    int(rating.level),
                    rating.analysis,
                    frame,
                )
            )
    return records


def plot_confusion(records: list[Record], levels: int, path: Path, title: str) -> None:
    m = np.zeros((2, levels), int)
    for r in records:
        m[int(r.success), r.level] += 1
    fig, ax = plt.subplots(figsize=(1.4 * levels + 2, 3))
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(v), ha="center", va="center")
    ax.set_xticks(range(levels), [f"rated {j}" for j in range(levels)])
    ax.set_yticks([0, 1], ["not success", "success"])
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_along(records: list[Record], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    bins = np.linspace(0, 1, 6)
    for kind in ("expert", "random"):
        rs = [r for r in records if r.kind == kind]
        idx = np.clip(np.digitize([r.position for r in rs], bins) - 1, 0, 4)
        means = [
            np.mean([r.level for r, i in zip(rs, idx, strict=True) if i == b] or [np.nan])
            for b in range(5)
        ]
        ax.plot((bins[:-1] + bins[1:]) / 2, means, marker="o", label=kind)
    ax.set_xlabel("position along the trajectory")
    ax.set_ylabel("mean rating")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _png(a: np.ndarray, side: int = 160) -> str:
    buf = io.BytesIO()
    Image.fromarray(a).resize((side, side)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def write_gallery(records: list[Record], path: Path, title: str, plots: list[Path]) -> None:
    cards = "".join(
        f'<figure><img src="data:image/png;base64,{_png(r.frame)}" alt="frame">'
        f"<figcaption><b>{r.kind} ep {r.episode} @ {r.position:.2f}</b> rated {r.level}"
        f"{' · success' if r.success else ''}<br><small>{html.escape(r.analysis)}</small></figcaption></figure>"
        for r in records
    )
    imgs = "".join(
        f'<img src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}" alt="{p.stem}">'
        for p in plots
    )
    path.write_text(
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em}figure{display:inline-block;width:170px;"
        "vertical-align:top;margin:4px}figcaption{font-size:11px}</style>"
        f"<h1>{html.escape(title)}</h1>{imgs}<div>{cards}</div>"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmark audit", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--task", default="metaworld/drawer-open")
    ap.add_argument("--oracle", default="scripted")
    ap.add_argument("--cache", default="record")
    ap.add_argument("--cache-dir", default=".cache/oracle")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--every", type=int, default=25, help="rate every n-th state")
    ap.add_argument("--out", default="results/audit")
    args = ap.parse_args(argv)
    spec = get_task(args.task)
    records = audit(args.task, args.oracle, args.cache, args.cache_dir, args.episodes, args.every)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = spec.name.replace("/", "__")
    who = "scripted teacher (not a VLM)" if args.oracle == "scripted" else args.oracle
    label = f"{spec.name}\noracle: {who}"
    conf, along = out / f"{stem}_confusion.png", out / f"{stem}_along.png"
    plot_confusion(records, spec.levels, conf, f"Ratings vs success — {label}")
    plot_along(records, along, f"Ratings along trajectories — {label}")
    write_gallery(
        records,
        out / f"{stem}_gallery.html",
        f"Audit of {label}".replace("\n", ", "),
        [conf, along],
    )
    succ = [r for r in records if r.success]
    top = np.mean([r.level == spec.levels - 1 for r in succ]) if succ else float("nan")
    print(
        f"{spec.name}: {len(records)} ratings by {args.oracle}; successful states rated top: {top:.2f}"
    )
    print(f"wrote {conf}, {along}, {out / f'{stem}_gallery.html'}")
    return 0

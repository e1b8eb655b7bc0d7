"""Issue 22's robustness sweep: ERL-VLM's loss and sampling against the kind and rate of noise.

The oracle is the scripted teacher in its named profiles (oracle_cache.teachers; never a VLM).
Each cell of the grid is one reward-model-track run (benchmark/loops/reward_track.py: the
method's reward trained on a fixed logged dataset through the feedback gate, scored on held-out
episodes, no RL): variant x profile x noise rate x seed. The teacher's own seed is the run's
seed, so the three seeds differ in the logged data, the model's initialisation and where the
teacher's errors fall (view-placed profiles scatter by teacher seed: docs/teachers.md).

Variants (`--variants`, keys without commas so the list parses): ERL-VLM (MAE, stratified),
its loss and sampling switched one at a time (`loss=ce`, `sampling=uniform`), both switched
(`rbrl`: cross-entropy, uniform batches) and `loss=label_smoothing`. Profiles (`--profiles`):
ordinal, symmetric, systematic, vlm-like and skip (unanswered share = the rate; the answered
queries by vlm-like at the task's paper rate). Rates: the share of wrong answers (skip: of
unanswered ones).

Runs one job at a time, in this process, seed-major (every cell's seed 0 before any seed 1). A
finished run (done.json) is skipped and a killed one resumes from its checkpoint, so rerunning
the same command continues the sweep. Then writes `robustness.md` (mean and 95 % bootstrap CI
over seeds per cell of the headline score, the policy-free metrics, and the paired effects of
MAE and of stratified sampling per profile) and `robustness.png` (score against noise rate,
one panel per profile, one line per variant) into `--doc-dir`.

    PYTHONPATH=$PWD MUJOCO_GL=egl nice -n 10 .venv/bin/python benchmarks/robustness.py \\
        --out /work/runs/teachers2/robustness --doc-dir docs/robustness
    ... --report-only          # the table and plot from the runs finished so far
    ... --estimate             # cells left and hours at the logged (else 20) minutes a run

`--track online` (issue 22's "one online task that brackets"; docs/robustness/online/README.md):
the same grid, each cell one online SAC run with `metaworld-online-v1`'s task, budget and
overrides, SAC settings and thread count, read from leaderboards/protocols.json; each run in
a process of its own (`python -m benchmark run`, OMP/MKL threads = the protocol's). Scores per
cell: final success (the last evaluation's success_rate, the board's score) and the mean over
the last three evaluations. Out dir /work/runs/robustness-online, doc dir
docs/robustness/online. `--steps N [--eval-every M]` cuts each run to N steps, for smoke checks
only; results are not comparable to the board (they go to OUT/smoke-stepsN...).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmark.analysis.figures import colors, new_figure, save, styled  # noqa: E402
from benchmark.analysis.reward_table import COLUMNS  # noqa: E402
from benchmark.analysis.stats import summarize  # noqa: E402
from benchmark.config import RunConfig  # noqa: E402
from benchmark.results import RunPaths  # noqa: E402


@dataclass(frozen=True)
class Variant:
    label: str
    method: str
    options: dict[str, object]


#: key (no commas: it goes through a comma-separated list) -> variant
VARIANTS: dict[str, Variant] = {
    "erl-vlm": Variant("ERL-VLM (MAE, stratified)", "erl-vlm", {}),
    "ce": Variant("CE, stratified", "erl-vlm", {"loss": "ce"}),
    "uniform": Variant("MAE, uniform", "erl-vlm", {"sampling": "uniform"}),
    "rbrl": Variant("RbRL (CE, uniform)", "rbrl", {}),
    "label-smoothing": Variant(
        "label smoothing, stratified", "erl-vlm", {"loss": "label_smoothing"}
    ),
}
#: profile -> its oracle options besides profile, rate and seed
PROFILES: dict[str, dict[str, object]] = {
    "ordinal": {},
    "symmetric": {},
    "systematic": {},
    "vlm-like": {},
    "skip": {"base": "vlm-like"},
}
RATES = (0.1, 0.35, 0.5)
SEEDS = (0, 1, 2)
TASK = "metaworld/drawer-open"
#: metrics reported per cell: the reward track's headline and its policy-free metrics
METRICS = dict(COLUMNS)
#: the paired comparisons the note is about: (name, with, without)
EFFECTS = (
    ("MAE vs CE (stratified)", "erl-vlm", "ce"),
    ("stratified vs uniform (MAE)", "erl-vlm", "uniform"),
    ("ERL-VLM vs RbRL", "erl-vlm", "rbrl"),
)


@dataclass(frozen=True)
class Cell:
    variant: str
    profile: str
    rate: float
    seed: int
    cfg: RunConfig

    @property
    def paths(self) -> RunPaths:
        return RunPaths.for_run(self.cfg.out_dir, self.cfg.task, self.cfg.method, self.seed)


def parse_list(text: str, known: Sequence[str], what: str) -> list[str]:
    """A comma-separated list of keys, each checked against `known`."""
    items = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in items if s not in known]
    if unknown or not items:
        raise SystemExit(f"unknown {what} {unknown or text!r}; choose from {', '.join(known)}")
    return items


def cell_dir(out: Path, variant: str, profile: str, rate: float) -> Path:
    return out / "runs" / profile / f"rate{rate:g}" / variant


def _cells(
    variants: Sequence[str],
    profiles: Sequence[str],
    rates: Sequence[float],
    seeds: Sequence[int],
    out: Path,
    make: Callable[..., RunConfig],
) -> list[Cell]:
    """Every (variant, profile, rate, seed), seed-major: a sweep stopped part-way holds whole
    seeds. `make(variant, oracle_options, seed, out_dir)` builds one cell's RunConfig."""
    cells = []
    for seed in seeds:
        for rate in rates:
            for profile in profiles:
                for key in variants:
                    oracle = {"profile": profile, "rate": rate, "seed": seed, **PROFILES[profile]}
                    cfg = make(VARIANTS[key], oracle, seed, cell_dir(out, key, profile, rate))
                    cells.append(Cell(key, profile, rate, seed, cfg))
    return cells


def grid(
    variants: Sequence[str],
    profiles: Sequence[str],
    rates: Sequence[float],
    seeds: Sequence[int],
    out: Path,
    task: str = TASK,
    budget: str = "smoke",
) -> list[Cell]:
    """The reward-model track's cells, seed-major. One oracle cache and one logged dataset per
    seed are shared by all cells."""

    def make(v: Variant, oracle: dict, seed: int, out_dir: Path) -> RunConfig:
        return RunConfig(
            task=task,
            method=v.method,
            seed=seed,
            budget=budget,
            oracle="scripted",
            cache_dir=str(out / "cache" / "oracle"),
            out_dir=str(out_dir),
            method_options=dict(v.options),
            oracle_options=oracle,
            log_sinks=[],
            loop="reward-model",
        )

    return _cells(variants, profiles, rates, seeds, out, make)


# --- the online slice: issue 22's "one online task that brackets" ---------------------------

#: the official online protocol whose settings every online cell runs with
ONLINE_PROTOCOL = "metaworld-online-v1"
#: the online track's per-cell scores (column -> label); the first is the headline (the board's)
ONLINE_METRICS = {
    "final_success": "final success",
    "success_last3": "mean success, last 3 evaluations",
}
SMOKE_NOTE = "for smoke checks only; results are not comparable to the board"
#: the schedule --steps scales with the run's length, so a tiny run still asks the teacher
SMOKE_SCALED = ("seed_steps", "unsup_steps", "feedback_every")


def smoke_overrides(
    budget: str, overrides: dict[str, object], steps: int, eval_every: int | None
) -> dict[str, object]:
    """--steps N (for smoke checks only; results are not comparable to the board): the
    protocol's budget cut to N environment steps, with its seed steps, unsupervised exploration
    and feedback interval scaled by the same ratio (at least 1 step each), so a run of a few
    hundred steps still reaches the learned-reward phase and asks the teacher."""
    from benchmark.config import get_budget

    full = get_budget(budget).with_overrides(**overrides)
    ratio = steps / full.total_steps
    scaled = {k: max(1, round(getattr(full, k) * ratio)) for k in SMOKE_SCALED}
    every = eval_every if eval_every is not None else max(1, steps // 2)
    return {**overrides, **scaled, "total_steps": steps, "eval_every": every}


def smoke_out(out: Path, steps: int, eval_every: int | None) -> Path:
    """Where a --steps run writes: never the real sweep's directory, so a finished smoke cell
    can never be skipped as if it were a real one, nor its wall time enter the estimate."""
    return out / (f"smoke-steps{steps}" + (f"-eval{eval_every}" if eval_every else ""))


def online_grid(
    variants: Sequence[str],
    profiles: Sequence[str],
    rates: Sequence[float],
    seeds: Sequence[int],
    out: Path,
    protocol_id: str = ONLINE_PROTOCOL,
    steps: int | None = None,
    eval_every: int | None = None,
) -> list[Cell]:
    """The online slice's cells, seed-major: each one online run with the protocol's task,
    budget and overrides, SAC settings, thread count, loop and oracle provider, read from
    `leaderboards/protocols.json` (never copied here); only the method (the variant) and the
    teacher's profile, rate and seed differ. `steps` (smoke checks only) shortens the budget."""
    from benchmark.leaderboard.protocol import get_protocol

    p = get_protocol(protocol_id)
    if len(p.tasks) != 1 or p.kind != "online":
        raise SystemExit(f"protocol {protocol_id} is not a one-task online protocol")
    overrides = dict(p.budget_overrides)
    if steps is not None:
        overrides = smoke_overrides(p.budget, overrides, steps, eval_every)

    def make(v: Variant, oracle: dict, seed: int, out_dir: Path) -> RunConfig:
        return RunConfig(
            task=p.tasks[0],
            method=v.method,
            seed=seed,
            budget=p.budget,
            oracle=p.oracle.provider,
            cache_dir=str(out / "cache" / "oracle"),
            out_dir=str(out_dir),
            method_options=dict(v.options),
            oracle_options={**p.oracle.options, **oracle},
            budget_overrides=dict(overrides),
            sac=dict(p.sac),
            threads=p.threads,
            log_sinks=[],
            loop=p.loop,
        )

    return _cells(variants, profiles, rates, seeds, out, make)


def _die_with_parent() -> None:
    """In the child: end when the sweep's process ends (Linux; elsewhere a no-op)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_in_subprocess(cfg: RunConfig, spawn: Callable = subprocess.run) -> None:
    """One online cell in a process of its own (`python -m benchmark run --config`), as the
    board's workers run it: OMP/MKL threads set to the run's thread count before torch loads
    (results depend on it), its output appended to the run's run.log, and a crash costs only
    this cell. Raises with the log's tail when the run fails."""
    from dataclasses import asdict

    paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
    paths.root.mkdir(parents=True, exist_ok=True)
    spec = Path(cfg.out_dir) / f"runconfig-seed{cfg.seed}.json"
    spec.write_text(json.dumps(asdict(cfg), indent=1))
    repo = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(cfg.threads),
        "MKL_NUM_THREADS": str(cfg.threads),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, "-m", "benchmark", "run", "--config", str(spec)]
    with paths.log.open("a") as log:
        rc = spawn(
            cmd, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        ).returncode  # fmt: skip
    if rc != 0:
        tail = paths.log.read_text(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"exit {rc}; {paths.log}: " + " / ".join(tail))


def run_grid(
    cells: Sequence[Cell], run: Callable[[RunConfig], object] | None = None, log: Path | None = None
) -> dict[str, int]:
    """Run the cells one at a time; a finished one is skipped. Returns counts; each run's wall
    time goes to `log` (CSV), from which the rest of the sweep is estimated."""
    if run is None:
        from benchmark.loops.dispatch import run_any as run
    counts = {"skipped": 0, "ran": 0, "failed": 0}
    todo = [c for c in cells if not c.paths.done.exists()]
    counts["skipped"] = len(cells) - len(todo)
    print(f"{len(cells)} cells: {counts['skipped']} finished, {len(todo)} to run", flush=True)
    for i, c in enumerate(todo):
        start = time.monotonic()
        try:
            run(c.cfg)
            counts["ran"] += 1
            status = "ok"
        except Exception as e:  # one broken cell must not stop the sweep; it is listed
            counts["failed"] += 1
            status = f"failed: {type(e).__name__}: {e}".replace("\n", " ")[:300]
        wall = time.monotonic() - start
        if log is not None:
            new = not log.exists()
            with log.open("a") as f:
                if new:
                    f.write("variant,profile,rate,seed,wall_s,load1,status\n")
                f.write(
                    f"{c.variant},{c.profile},{c.rate},{c.seed},{wall:.1f},"
                    f'{os.getloadavg()[0]:.2f},"{status}"\n'
                )
        print(
            f"[{i + 1}/{len(todo)}] {c.profile} rate={c.rate:g} {c.variant} seed={c.seed}: "
            f"{status} in {wall:.0f} s",
            flush=True,
        )
    return counts


def reward_scores(metrics: pd.DataFrame) -> dict[str, object]:
    """A reward-track run's scores: its final row (held-out split)."""
    last = metrics.iloc[-1]
    return {"queries": int(last["queries"]), **{k: float(last[k]) for k in METRICS}}


def collect(
    cells: Sequence[Cell], scores: Callable[[pd.DataFrame], dict] = reward_scores
) -> pd.DataFrame:
    """One row per finished cell: its keys, the oracle it names and its scores (`scores` of
    its metrics.csv: the reward track's final row by default)."""
    rows = []
    for c in cells:
        p = c.paths
        if not (p.done.exists() and p.metrics.exists()):
            continue
        cfg = json.loads(p.config.read_text())
        rows.append(
            {
                "variant": c.variant,
                "profile": c.profile,
                "rate": c.rate,
                "seed": c.seed,
                "oracle": cfg["oracle"]["provider"]
                if isinstance(cfg.get("oracle"), dict) and "provider" in cfg["oracle"]
                else c.cfg.oracle,
                **scores(pd.read_csv(p.metrics)),
            }
        )
    return pd.DataFrame(rows)


def label_stats(cache_dir: Path) -> pd.DataFrame:
    """The labels the teacher actually gave, per (profile, rate, teacher seed), from the sweep's
    oracle cache (pooled over the variants that asked, as they share the cache): ratings asked,
    the unanswered share, the error rate of the answered ones against the true level, and the
    share of errors that jump more than one level."""
    from oracle_cache.store import existing_store, iter_keys, read_value

    counts: dict[tuple, list[int]] = {}
    if not (cache_dir / "cache.db").exists():
        return pd.DataFrame()
    with existing_store(cache_dir) as store:
        for key in list(iter_keys(store, cache_dir)):
            # read as stored (oracle_cache.entry.check_entry refuses skip's unanswered -1)
            try:
                e = json.loads(read_value(store, key))
                params = dict(e["document"]["identity"]["params"])
            except (ValueError, TypeError, KeyError):
                continue
            if "profile" not in params and "accuracy" in params:  # ordinal keeps 1 - rate
                params = {**params, "profile": "ordinal", "rate": round(1 - params["accuracy"], 9)}
            if e.get("kind") != "rate" or params.get("rate") is None:
                continue
            c = counts.setdefault((params["profile"], params["rate"], params["seed"]), [0] * 4)
            meta = e.get("meta") or {}
            c[0] += 1
            if meta.get("unanswered"):
                c[1] += 1
            elif "true_level" in meta and int(e["answer"]) != int(meta["true_level"]):
                c[2] += 1
                c[3] += abs(int(e["answer"]) - int(meta["true_level"])) > 1
    rows = [
        {
            "profile": p,
            "rate": r,
            "seed": sd,
            "asked": n,
            "unanswered": u / n,
            "error_rate": err / (n - u) if n > u else float("nan"),
            "jumps": jump / err if err else 0.0,
        }
        for (p, r, sd), (n, u, err, jump) in counts.items()
    ]
    return pd.DataFrame(rows)


def _label_lines(labels: pd.DataFrame) -> list[str]:
    if labels.empty:
        return []
    lines = [
        "",
        "## The labels the teacher gave",
        "",
        "From the sweep's oracle cache, per profile and rate: ratings recorded (pooled over the "
        "variants, which share the cache, and over the seeds), the unanswered share, the error "
        "rate of the answered ones against the true level (mean over teacher seeds, and the "
        "seeds' range), and the share of errors more than one level off (3 levels: Bad <-> Good).",
        "",
        "| profile | rate | ratings | unanswered | error rate (mean) | error rate (seeds' range) "
        "| errors that jump a level |",
        "|---|---|---|---|---|---|---|",
    ]
    for (profile, rate), g in labels.groupby(["profile", "rate"], sort=False):
        lines.append(
            f"| {profile} | {rate:g} | {g['asked'].sum()} | {g['unanswered'].mean():.2f} | "
            f"{g['error_rate'].mean():.2f} | {g['error_rate'].min():.2f}-"
            f"{g['error_rate'].max():.2f} | {g['jumps'].mean():.2f} |"
        )
    return lines


def cell_table(
    final: pd.DataFrame, score: str = "score", metrics: dict[str, str] = METRICS
) -> pd.DataFrame:
    """Per (profile, rate, variant): the `score` column's mean and 95 % bootstrap CI over seeds
    (stats.summarize) and the other metrics' means."""
    rows = []
    for (profile, rate, variant), g in final.groupby(["profile", "rate", "variant"], sort=False):
        s = summarize(g[score].to_numpy())
        rows.append(
            {
                "profile": profile,
                "rate": rate,
                "variant": variant,
                **s,
                **{k: g[k].mean() for k in metrics if k != score},
                "queries": g["queries"].mean(),
            }
        )
    return pd.DataFrame(rows)


def effects(
    final: pd.DataFrame, by: Sequence[str] = ("profile",), score: str = "score"
) -> pd.DataFrame:
    """Per group (`by`: profile, or profile and rate) and comparison: the `score` difference,
    paired on (rate, seed) (the same data, teacher and initialisation seed), with its mean and
    95 % bootstrap CI over the pairs."""
    rows = []
    for group, g in final.groupby(list(by), sort=False):
        keys = dict(zip(by, group if isinstance(group, tuple) else (group,), strict=True))
        wide = g.pivot_table(index=["rate", "seed"], columns="variant", values=score)
        for name, a, b in EFFECTS:
            if a not in wide or b not in wide:
                continue
            diff = (wide[a] - wide[b]).dropna().to_numpy()
            if len(diff) == 0:
                continue
            s = summarize(diff)
            if s["n"] < 2:
                verdict = "too few pairs"
            elif s["ci_low"] > 0:
                verdict = "helps"
            elif s["ci_high"] < 0:
                verdict = "hurts"
            else:
                verdict = "no clear difference"
            rows.append({**keys, "effect": name, **s, "verdict": verdict})
    return pd.DataFrame(rows)


def _effect_lines(eff: pd.DataFrame, by: Sequence[str]) -> list[str]:
    lines = [
        "| " + " | ".join(by) + " | comparison | mean difference | 95% CI | pairs | verdict |",
        "|" + "---|" * (len(by) + 5),
    ]
    for r in eff.to_dict("records"):
        keys = " | ".join(f"{r[k]:g}" if isinstance(r[k], float) else str(r[k]) for k in by)
        lines.append(
            f"| {keys} | {r['effect']} | {r['mean']:+.3f} | "
            f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] | {r['n']} | {r['verdict']} |"
        )
    return lines


def markdown(
    table: pd.DataFrame,
    eff: pd.DataFrame,
    eff_rate: pd.DataFrame,
    header: Sequence[str],
    labels: pd.DataFrame | None = None,
) -> str:
    lines = [*header, ""]
    lines += [
        "## Paired effects on the score (per profile, over rates x seeds)",
        "",
        "Difference of the final score, paired on (rate, seed); mean and 95 % bootstrap CI over "
        "the pairs (`benchmark.analysis.stats.summarize`). *helps* / *hurts*: the CI excludes "
        "0; otherwise *no clear difference*. Pairs at different rates share a seed's data, so "
        "they are not independent: read the CI as a guide, not a test.",
        "",
        *_effect_lines(eff, ["profile"]),
        "",
        "## Paired effects per profile and rate (over seeds)",
        "",
        *_effect_lines(eff_rate, ["profile", "rate"]),
        *_label_lines(labels if labels is not None else pd.DataFrame()),
    ]
    metric_cols = [k for k in METRICS if k != "score"]
    lines += [
        "",
        "## Every cell",
        "",
        "Final row of each run (held-out split). Score: mean ± std and 95 % bootstrap CI over "
        "seeds; the other metrics: means over seeds.",
        "",
        "| profile | rate | variant | score (mean ± std) | 95% CI | "
        + " | ".join(METRICS[k] for k in metric_cols)
        + " | queries | seeds |",
        "|---|---|---|---|---|" + "---|" * len(metric_cols) + "---|---|",
    ]
    for r in table.itertuples():
        label = VARIANTS[r.variant].label if r.variant in VARIANTS else r.variant
        extra = " | ".join(f"{getattr(r, k):.2f}" for k in metric_cols)
        lines.append(
            f"| {r.profile} | {r.rate:g} | {label} | {r.mean:.2f} ± {r.std:.2f} | "
            f"[{r.ci_low:.2f}, {r.ci_high:.2f}] | {extra} | {r.queries:.0f} | {r.n} |"
        )
    return "\n".join(lines) + "\n"


@styled
def figure(table: pd.DataFrame, title: str, ylabel: str = "score (1 - sqrt(2) EPIC)"):
    """Score against noise rate: one panel per profile, one line per variant, CI as bars."""
    if table.empty:
        return None
    profiles = list(dict.fromkeys(table["profile"]))
    variants = list(dict.fromkeys(table["variant"]))
    color = colors(variants)
    cols = min(3, len(profiles))
    rows = -(-len(profiles) // cols)
    fig, axes = new_figure(rows, cols, 3.4, 2.8)
    for ax, profile in zip(axes.flat, profiles, strict=False):
        g = table[table["profile"] == profile]
        for i, variant in enumerate(variants):
            v = g[g["variant"] == variant].sort_values("rate")
            if v.empty:
                continue
            x = v["rate"].to_numpy() + (i - (len(variants) - 1) / 2) * 0.006  # dodge
            err = np.vstack([v["mean"] - v["ci_low"], v["ci_high"] - v["mean"]]).clip(min=0)
            label = VARIANTS[variant].label if variant in VARIANTS else variant
            ax.errorbar(
                x,
                v["mean"],
                yerr=err,
                marker="o",
                ms=3,
                lw=1.2,
                capsize=2,
                color=color[variant],
                label=label,
            )
        ax.set_title(f"{profile} (scripted teacher)")
        ax.set_xlabel(
            "teacher noise rate"
            if profile != "skip"
            else "unanswered share (answered: vlm-like, paper rate)"
        )
        ax.set_ylabel(ylabel)
        ax.set_ylim(-0.02, 1.02)
    for ax in list(axes.flat)[len(profiles) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)))
    fig.suptitle(title)
    return fig


def machine_lines(args: argparse.Namespace, wall: float | None, load: tuple) -> list[str]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    cpu = platform.processor() or platform.machine()
    return [
        f"Command: `{' '.join(['benchmarks/robustness.py', *sys.argv[1:]])}` at commit {commit}.",
        f"Machine: {platform.node()}, {os.cpu_count()} cores ({cpu}), "
        f"load average at the start of this invocation {load[0]:.1f} and at the end "
        f"{os.getloadavg()[0]:.1f}"
        + (f"; this invocation ran {wall / 60:.1f} min." if wall is not None else "."),
    ]


def _grid_order(final: pd.DataFrame) -> Callable[[pd.Series], pd.Series]:
    """Sort key: profiles in the grid's order, rates ascending."""
    order = {p: i for i, p in enumerate(dict.fromkeys(final["profile"]))}
    return lambda col: col.map(order) if col.name == "profile" else col


def report(cells: Sequence[Cell], args: argparse.Namespace, header: Sequence[str]) -> None:
    final = collect(cells)
    doc = Path(args.doc_dir)
    doc.mkdir(parents=True, exist_ok=True)
    if final.empty:
        print("no finished runs yet: nothing to report")
        return
    table, eff = cell_table(final), effects(final)
    eff_rate = effects(final, ["profile", "rate"])
    labels = label_stats(Path(args.out) / "cache" / "oracle")
    if not labels.empty:  # only the profiles, rates and seeds of this grid
        keep = labels["profile"].isin(final["profile"]) & labels["rate"].isin(final["rate"])
        labels = labels[keep & labels["seed"].isin(final["seed"])]
        labels = labels.sort_values(["rate", "profile"], key=_grid_order(final))
    (doc / "robustness.md").write_text(markdown(table, eff, eff_rate, header, labels))
    final.to_csv(doc / "robustness_runs.csv", index=False)
    fig = figure(
        table,
        f"{args.task}, reward-model track, budget {args.budget}, "
        f"{final['seed'].nunique()} seeds: mean, 95 % bootstrap CI",
    )
    if fig is not None:
        problems = save(fig, doc / "robustness")
        if problems:
            print("figure layout problems:", problems)
    print(
        f"wrote {doc / 'robustness.md'} and {doc / 'robustness.png'} "
        f"({len(final)} of {len(cells)} runs)"
    )


def online_scores(metrics: pd.DataFrame) -> dict[str, object]:
    """An online run's scores: `success_rate` of its last evaluation (the board's final
    success) and the mean over its last three evaluations (a run's success is 0 or 1 at each
    evaluation on the fixed layout: the mean of three is less noisy), plus its queries."""
    sr = metrics["success_rate"].astype(float)
    return {
        "queries": int(metrics["queries"].iloc[-1]),
        "final_success": float(sr.iloc[-1]),
        "success_last3": float(sr.iloc[-3:].mean()),
        "evaluations": len(metrics),
        "last_step": int(metrics["step"].iloc[-1]),
    }


def _online_cell_lines(final: pd.DataFrame) -> list[str]:
    head, last3 = (
        cell_table(final, "final_success", ONLINE_METRICS),
        cell_table(final, "success_last3", ONLINE_METRICS),
    )
    lines = [
        "| profile | rate | variant | final success (mean ± std) | 95% CI | last-3 mean "
        "(mean ± std) | 95% CI | queries | seeds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a, b in zip(head.itertuples(), last3.itertuples(), strict=True):
        label = VARIANTS[a.variant].label if a.variant in VARIANTS else a.variant
        lines.append(
            f"| {a.profile} | {a.rate:g} | {label} | {a.mean:.2f} ± {a.std:.2f} | "
            f"[{a.ci_low:.2f}, {a.ci_high:.2f}] | {b.mean:.2f} ± {b.std:.2f} | "
            f"[{b.ci_low:.2f}, {b.ci_high:.2f}] | {a.queries:.0f} | {a.n} |"
        )
    return lines


def _online_effect_lines(eff: pd.DataFrame, by: Sequence[str]) -> list[str]:
    if eff.empty:
        return ["No pairs yet: a comparison needs both its variants finished at one (rate, seed)."]
    return _effect_lines(eff, by)


def online_markdown(
    final: pd.DataFrame, header: Sequence[str], labels: pd.DataFrame | None = None
) -> str:
    lines = [*header, ""]
    for score, name in ONLINE_METRICS.items():
        lines += [
            f"## Paired effects on the {name} (per profile, over rates x seeds)",
            "",
            f"Difference of each run's {name}, paired on (rate, seed); mean and 95 % bootstrap "
            "CI over the pairs. *helps* / *hurts*: the CI excludes 0. On a fixed layout a "
            "run's success at one evaluation is 0 or 1 (its episodes are alike), so with few "
            "seeds the CIs are coarse: read them as a guide, not a test.",
            "",
            *_online_effect_lines(effects(final, score=score), ["profile"]),
            "",
            f"## Paired effects on the {name} per profile and rate (over seeds)",
            "",
            *_online_effect_lines(
                effects(final, ["profile", "rate"], score=score), ["profile", "rate"]
            ),
            "",
        ]
    lines += [
        *_label_lines(labels if labels is not None else pd.DataFrame()),
        "",
        "## Every cell",
        "",
        "Final success: `success_rate` of a run's last evaluation. Last-3 mean: its mean over "
        "the last three evaluations. Mean ± std and 95 % bootstrap CI over seeds; queries: mean.",
        "",
        *_online_cell_lines(final),
    ]
    return "\n".join(lines) + "\n"


def online_report(
    cells: Sequence[Cell], out: Path, doc: Path, title: str, header: Sequence[str]
) -> None:
    """robustness.md, robustness_runs.csv and two figures (final success; last-3 mean) in
    `doc` from the online cells finished so far."""
    final = collect(cells, online_scores)
    doc.mkdir(parents=True, exist_ok=True)
    if final.empty:
        print("no finished runs yet: nothing to report")
        return
    labels = label_stats(out / "cache" / "oracle")
    if not labels.empty:  # only the profiles, rates and seeds of this grid
        keep = labels["profile"].isin(final["profile"]) & labels["rate"].isin(final["rate"])
        labels = labels[keep & labels["seed"].isin(final["seed"])]
        labels = labels.sort_values(["rate", "profile"], key=_grid_order(final))
    (doc / "robustness.md").write_text(online_markdown(final, header, labels))
    final.to_csv(doc / "robustness_runs.csv", index=False)
    for score, stem in (("final_success", "robustness"), ("success_last3", "robustness_last3")):
        fig = figure(
            cell_table(final, score, ONLINE_METRICS),
            textwrap.fill(
                f"{title}, {final['seed'].nunique()} seeds: mean, 95 % bootstrap CI",
                40 * min(3, final["profile"].nunique()),
            ),
            ylabel=ONLINE_METRICS[score],
        )
        if fig is not None and (problems := save(fig, doc / stem)):
            print("figure layout problems:", problems)
    print(f"wrote {doc / 'robustness.md'} and its figures ({len(final)} of {len(cells)} runs)")


def logged_minutes(log: Path) -> tuple[float, int] | None:
    """Mean wall minutes of the runs the timings log says finished, and how many; None without
    a log or a finished run in it."""
    if not log.exists():
        return None
    t = pd.read_csv(log)
    ok = t[t["status"].astype(str).str.strip() == "ok"]
    return (float(ok["wall_s"].mean()) / 60, len(ok)) if len(ok) else None


DEFAULT_MINUTES = 20.0


def estimate(cells: Sequence[Cell], log: Path, minutes: float | None = None) -> dict:
    """Cells still to run and their cost one at a time: at `minutes` a run, else the mean of
    the log's finished runs, else DEFAULT_MINUTES."""
    todo = sum(not c.paths.done.exists() for c in cells)
    if minutes is not None:
        source = "as given (--minutes-per-run)"
    elif (logged := logged_minutes(log)) is not None:
        minutes, n = logged
        source = f"the mean of the {n} finished run(s) in {log}"
    else:
        minutes, source = DEFAULT_MINUTES, f"assumed: no finished run logged in {log}"
    return {
        "cells": len(cells),
        "finished": len(cells) - todo,
        "todo": todo,
        "minutes": minutes,
        "hours": todo * minutes / 60,
        "source": source,
    }


REWARD_OUT, REWARD_DOC = "/work/runs/teachers2/robustness", "docs/robustness"
ONLINE_OUT, ONLINE_DOC = "/work/runs/robustness-online", "docs/robustness/online"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--track",
        choices=("reward-model", "online"),
        default="reward-model",
        help="reward-model: each cell a reward-track run (default); online: each cell an "
        f"online run with {ONLINE_PROTOCOL}'s settings",
    )
    ap.add_argument("--task", default=None, help=f"reward-model track only (default {TASK})")
    ap.add_argument(
        "--budget", default=None, help="reward-model track only; the track's default: smoke"
    )
    ap.add_argument(
        "--protocol",
        default=ONLINE_PROTOCOL,
        help="online track: the protocol whose task, budget, SAC and threads every cell uses",
    )
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--profiles", default=",".join(PROFILES))
    ap.add_argument("--rates", default=",".join(f"{r:g}" for r in RATES))
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--out", default=None, help=f"default {REWARD_OUT} (online: {ONLINE_OUT})")
    ap.add_argument("--doc-dir", default=None, help=f"default {REWARD_DOC} (online: {ONLINE_DOC})")
    ap.add_argument("--report-only", action="store_true", help="run nothing; report what finished")
    ap.add_argument(
        "--estimate",
        action="store_true",
        help="run nothing; print the cells still to run and the hours they take one at a time",
    )
    ap.add_argument(
        "--minutes-per-run",
        type=float,
        default=None,
        help="for --estimate: default the mean of OUT/timings.csv's finished runs, else "
        f"{DEFAULT_MINUTES:g}",
    )
    ap.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"online track: cut each run to N steps, its schedule scaled alike ({SMOKE_NOTE}); "
        "runs go to OUT/smoke-stepsN, the report to OUT/smoke-stepsN/doc unless --doc-dir",
    )
    ap.add_argument("--eval-every", type=int, default=None, help="with --steps only")
    args = ap.parse_args(argv)
    online = args.track == "online"
    if online and (args.task or args.budget):
        raise SystemExit("--task and --budget are the reward-model track's: the online track "
                         f"takes them from the protocol ({args.protocol})")  # fmt: skip
    if not online and (args.steps is not None or args.protocol != ONLINE_PROTOCOL):
        raise SystemExit("--steps and --protocol are for --track online")
    if args.eval_every is not None and args.steps is None:
        raise SystemExit("--eval-every goes with --steps (smoke checks only)")
    if (args.steps is not None and args.steps < 1) or (args.eval_every or 1) < 1:
        raise SystemExit("--steps and --eval-every take positive integers")
    if not online:
        args.task, args.budget = args.task or TASK, args.budget or "smoke"
        args.out, args.doc_dir = args.out or REWARD_OUT, args.doc_dir or REWARD_DOC
    return args


def print_estimate(track: str, cells: Sequence[Cell], out: Path, minutes: float | None) -> None:
    e = estimate(cells, out / "timings.csv", minutes)
    print(
        f"{track} track: {e['cells']} cells ({e['finished']} finished, {e['todo']} to run); "
        f"at {e['minutes']:.1f} min a run ({e['source']}), one at a time: "
        f"{e['hours']:.1f} h of wall time"
    )


def online_main(args: argparse.Namespace, variants, profiles, rates, seeds) -> int:
    """--track online: run (or estimate, or report) the online slice."""
    from benchmark.config import get_budget
    from benchmark.leaderboard.protocol import get_protocol

    smoke = args.steps is not None
    out = Path(args.out or ONLINE_OUT)
    if smoke:
        out = smoke_out(out, args.steps, args.eval_every)
    cells = online_grid(
        variants, profiles, rates, seeds, out, args.protocol, args.steps, args.eval_every
    )
    if args.estimate:
        print_estimate("online", cells, out, args.minutes_per_run)
        return 0
    doc = Path(args.doc_dir or (out / "doc" if smoke else ONLINE_DOC))
    load, start, wall = os.getloadavg(), time.monotonic(), None
    if not args.report_only:
        out.mkdir(parents=True, exist_ok=True)
        counts = run_grid(cells, run_in_subprocess, log=out / "timings.csv")
        wall = time.monotonic() - start
        print(counts)
    p, cfg = get_protocol(args.protocol), cells[0].cfg
    b = get_budget(cfg.budget).with_overrides(**cfg.budget_overrides)
    settings = (
        f"Protocol {p.id}: task {cfg.task}, budget '{cfg.budget}' with the protocol's overrides"
        + (" and --steps's" if smoke else "")
        + f" ({b.total_steps} environment steps, an evaluation of {b.eval_episodes} episodes every "
        f"{b.eval_every}, at most {b.max_queries} queries), SAC {json.dumps(cfg.sac)}, "
        f"{cfg.threads} thread(s) a run, online loop."
    )
    header = [
        f"# Robustness sweep (issue 22): online slice ({p.id}), scripted-teacher profiles",
        "",
        "Oracle: the **scripted teacher** (privileged progress + a named noise profile, "
        "`oracle_cache.teachers`), not a VLM. Written by `benchmarks/robustness.py --track "
        "online`; [README.md](README.md) says what it shows.",
        "",
        *([f"**SMOKE CHECK** (`--steps {args.steps}`): {SMOKE_NOTE}.", ""] if smoke else []),
        settings,
        "",
        f"Variants {', '.join(variants)}, profiles {', '.join(profiles)}, rates "
        f"{', '.join(f'{r:g}' for r in rates)}, seeds {', '.join(map(str, seeds))} "
        "(teacher seed = run seed).",
        "",
        *machine_lines(args, wall, load),
    ]
    title = f"{cfg.task}, online ({p.id}" + (f", SMOKE --steps {args.steps})" if smoke else ")")
    online_report(cells, out, doc, title, header)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    variants = parse_list(args.variants, list(VARIANTS), "variant(s)")
    profiles = parse_list(args.profiles, list(PROFILES), "profile(s)")
    try:
        rates = [float(r) for r in args.rates.split(",") if r.strip()]
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(
            "--rates takes numbers in [0, 1] and --seeds integers, comma-separated"
        ) from None
    if not rates or not all(0 <= r <= 1 for r in rates) or not seeds:
        raise SystemExit("--rates takes numbers in [0, 1] and --seeds integers, comma-separated")
    if args.track == "online":
        return online_main(args, variants, profiles, rates, seeds)
    out = Path(args.out)
    cells = grid(variants, profiles, rates, seeds, out, args.task, args.budget)
    if args.estimate:
        print_estimate("reward-model", cells, out, args.minutes_per_run)
        return 0
    load, start, wall = os.getloadavg(), time.monotonic(), None
    if not args.report_only:
        out.mkdir(parents=True, exist_ok=True)
        counts = run_grid(cells, log=out / "timings.csv")
        wall = time.monotonic() - start
        print(counts)
    header = [
        "# Robustness sweep (issue 22): reward-model track, scripted-teacher profiles",
        "",
        "Oracle: the **scripted teacher** (privileged progress + a named noise profile, "
        "`oracle_cache.teachers`), not a VLM. Written by `benchmarks/robustness.py`; "
        "[README.md](README.md) says what it shows.",
        "",
        f"Task {args.task}, budget {args.budget}, variants {', '.join(variants)}, profiles "
        f"{', '.join(profiles)}, rates {', '.join(f'{r:g}' for r in rates)}, seeds "
        f"{', '.join(map(str, seeds))} (teacher seed = run seed).",
        "",
        *machine_lines(args, wall, load),
    ]
    report(cells, args, header)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

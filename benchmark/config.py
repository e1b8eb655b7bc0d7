"""A run's configuration in one place: `RunConfig`, the named budgets and `resolve(cfg)`.

Budgets: `paper` is the published protocol, `short` and `smoke` scale it down. Every scaled
number carries a note saying why it differs, and the whole budget is written into each run's
resolved config, so a table made at `smoke` can never be mistaken for the paper's.

`resolve(cfg)` turns the names in a `RunConfig` (task, budget, agent options) into the objects
every loop starts from, so the loops never parse options themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from benchmark.rl.iql import IQLConfig
    from benchmark.rl.sac import SACConfig
    from envs.spec import TaskSpec

from benchmark.inputs import check_options


@dataclass(frozen=True)
class Budget:
    name: str
    #: environment steps per run (paper: 1M SAC steps on MetaWorld)
    total_steps: int
    #: uniformly random actions at the start (paper: 1000)
    seed_steps: int
    #: PEBBLE's unsupervised state-entropy exploration after the seed steps (paper: 9000)
    unsup_steps: int
    #: a feedback session every this many steps once exploration is over (paper: 5000)
    feedback_every: int
    #: queries per session (paper: 50)
    queries_per_session: int
    #: total query budget per run (paper: 10000)
    max_queries: int
    #: reward-model epochs per session (paper: 10)
    reward_epochs: int
    #: evaluation every this many steps, on this many fresh episodes
    eval_every: int
    eval_episodes: int
    #: episode length cap; None keeps the task's own
    max_episode_steps: int | None = None
    #: gradient updates per environment step (paper: 1)
    updates_per_step: int = 1
    # --- the reference code's harness (docs/deviations.md); old protocols pin the old values
    #: SAC's replay capacity (reference: 200k when rewards come from images); None = total_steps
    replay_capacity: int | None = 200_000
    #: extra SAC updates right after the first reward session's critic reset (reference: 100)
    reset_updates: int = 100
    #: new transitions get their learned reward every this many steps (reference: 1, each as
    #: it arrives; this suite used 64)
    label_chunk: int = 1
    #: queried states come from the last this many finished episodes, one per episode, never
    #: an episode's last step (reference: 100); 0 = uniformly from the whole buffer (before)
    query_pool: int = 100
    #: a method whose reference code runs its own feedback schedule (RL-VLM-F) runs on it,
    #: scaled like this budget; False = every method on this budget's schedule
    method_schedule: bool = True
    #: PEBBLE's state-entropy normaliser: "welford" (running variance, this suite's fix) or
    #: "reference" (the reference's running mean, `+` where a `*` belongs)
    entropy_norm: Literal["welford", "reference"] = "welford"
    #: offline (IQL) settings for trajectory tasks such as ALFRED
    offline_episodes: int = 300
    offline_updates: int = 20000
    #: logged-data mix (source -> share, benchmark/loops/offline_data.py); None = the task's default
    offline_mix: dict[str, float] | None = None
    #: the `forks` / `decoys` sources' chance of a wrong turn at each fork of the plan
    #: (envs/alfred/flaws.py); None = the twin's default (flaws.DEFAULT_FORK_ERROR), so runs
    #: from before the sources existed resolve unchanged
    offline_fork_error: float | None = None
    #: the `dawdle` source's chance of an undone-and-redone step at each step it can take one;
    #: None = the twin's default (flaws.DEFAULT_DAWDLE)
    offline_dawdle: float | None = None
    #: the env's rewards (gt-reward's progress differences, sparse's success) get the learned
    #: rewards' shift too on data whose episodes end on success: minus their dataset maximum,
    #: so every step costs (benchmark/loops/offline.relabel); None or False = left alone (None,
    #: the default, so protocols and entries from before the field resolve unchanged)
    offline_shift_env_rewards: bool | None = None
    #: the reward-model track's logged-data recipe (benchmark/loops/logged_episodes.RECIPES);
    #: None = v1, so protocols and runs from before recipes had names resolve unchanged
    logged_recipe: str | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, **overrides: Any) -> Budget:
        unknown = sorted(set(overrides) - set(self.to_dict()))
        if unknown:
            raise ValueError(f"Unknown budget field(s) {unknown}; valid: {sorted(self.to_dict())}")
        # types and ranges too (eval_episodes=0 used to finish a run with NaN)
        check_options(Budget, overrides, "budget override")
        note = {k: f"overridden on the command line to {v!r}" for k, v in overrides.items()}
        return replace(self, **overrides, notes={**self.notes, **note})


PAPER = Budget(
    name="paper",
    total_steps=1_000_000,
    seed_steps=1000,
    unsup_steps=9000,
    feedback_every=5000,
    queries_per_session=50,
    max_queries=10000,
    reward_epochs=10,
    eval_every=10_000,
    eval_episodes=10,
    offline_episodes=2000,
    offline_updates=200_000,
    notes={"source": "ERL-VLM paper and reference scripts (PEBBLE schedule); needs a GPU box"},
)

SHORT = Budget(
    name="short",
    total_steps=50_000,
    seed_steps=1000,
    unsup_steps=4000,
    feedback_every=2500,
    queries_per_session=50,
    max_queries=1000,
    reward_epochs=10,
    eval_every=5000,
    eval_episodes=5,
    offline_episodes=400,
    offline_updates=10_000,
    notes={
        "total_steps": "1M -> 50k: a laptop-sized run (about 20-30 min per run on 2 CPU cores)",
        "offline_updates": "200k -> 10k IQL updates (ALFRED): erl-vlm, rbrl and sparse on "
        "pick-cool-then-place (seed 0) all reached their final success by 5k updates and "
        "held it to 20k; 10k halves the 36-run ALFRED comparison's CPU time on 2 cores",
        "unsup_steps": "9000 -> 4000: keeps the exploration share of the run near the paper's scale",
        "feedback_every": "5000 -> 2500: 18 sessions instead of ~200, so learning has labels early",
        "max_queries": "10000 -> 1000: at most 18 sessions x 50 queries are reachable",
        "eval_episodes": "10 -> 5: evaluation time on CPU",
    },
)

SMOKE = Budget(
    name="smoke",
    total_steps=3000,
    seed_steps=500,
    unsup_steps=500,
    feedback_every=500,
    queries_per_session=25,
    max_queries=100,
    reward_epochs=10,
    eval_every=1000,
    eval_episodes=3,
    max_episode_steps=200,
    offline_episodes=80,
    offline_updates=1500,
    notes={
        "purpose": "CI and `make bench` on 2 CPU cores in minutes; success rates at this budget "
        "are expected to be near zero on MetaWorld and say nothing about the methods",
        "max_episode_steps": "500 -> 200 so a 3000-step run sees several episodes",
    },
)

BUDGETS: dict[str, Budget] = {b.name: b for b in (SMOKE, SHORT, PAPER)}
#: RunConfig.loop's values
LOOPS = ("auto", "reward-model")


def get_budget(name: str) -> Budget:
    if name not in BUDGETS:
        raise ValueError(f"Unknown budget '{name}'; choose one of {', '.join(BUDGETS)}")
    return BUDGETS[name]


@dataclass
class RunConfig:
    """Everything that defines a run; saved, resolved, next to its results."""

    task: str
    method: str
    seed: int
    budget: str = "smoke"
    oracle: str = "scripted"
    cache_mode: str = "record"
    cache_dir: str = ".cache/oracle"
    #: replay straight from this bundle (read-only, no import); needs cache_mode "replay"
    bundle: str | None = None
    out_dir: str = "results"
    method_options: dict[str, Any] = field(default_factory=dict)
    oracle_options: dict[str, Any] = field(default_factory=dict)
    budget_overrides: dict[str, Any] = field(default_factory=dict)
    #: SACConfig fields (online loop)
    sac: dict[str, Any] = field(default_factory=dict)
    #: IQLConfig fields (offline loop)
    iql: dict[str, Any] = field(default_factory=dict)
    threads: int = 1
    backend: str | None = None
    #: metric mirrors besides metrics.csv: "tensorboard" (default), "wandb" (opt-in)
    log_sinks: list[str] = field(default_factory=lambda: ["tensorboard"])
    #: which loop runs it: "auto" (online SAC; offline IQL for discrete-action tasks) or
    #: "reward-model" (the reward-model track: train and score the reward on logged data, no RL)
    loop: str = "auto"


@dataclass(frozen=True)
class Resolved:
    """The objects a `RunConfig` names: what every loop builds its run from."""

    task: TaskSpec
    budget: Budget
    #: the episode cap actually used: the task's, or the budget's when that is shorter
    max_episode_steps: int
    sac: SACConfig
    iql: IQLConfig


def resolve_task(name: str, backend: str | None) -> TaskSpec:
    """The task on the requested backend (`--backend thor` turns alfred/x into alfred-thor/x)."""
    if backend and name.split("/", 1)[0] in ("alfred", "alfred-v2"):
        from envs.alfred import get_alfred_task

        return get_alfred_task(name, backend=backend)
    from envs import get_task

    return get_task(name)


def resolve(cfg: RunConfig) -> Resolved:
    """Task, budget (with overrides), episode cap and agent configs; bad options raise here."""
    from benchmark.rl.iql import IQLConfig
    from benchmark.rl.sac import SACConfig

    task = resolve_task(cfg.task, cfg.backend)
    budget = get_budget(cfg.budget).with_overrides(**cfg.budget_overrides)
    max_len = min(task.max_episode_steps, budget.max_episode_steps or task.max_episode_steps)
    return Resolved(task, budget, max_len, SACConfig(**cfg.sac), IQLConfig(**cfg.iql))

"""The runner's gate between a reward method and the oracle.

A method names buffer indices; this class re-renders those states at the oracle's resolution
from stored simulator snapshots, attaches the privileged context the scripted teacher needs,
enforces the query budget and counts what was asked. The method itself never touches
privileged data or the oracle's cache.

The context carries `view` (what the camera sees: gripper and object positions) when the loop
hands the gate a view column: teacher profiles that place errors by view (`systematic`,
`vlm-like`, oracle_cache.teachers) read it, and fall back to a field over progress without it.
The online loop records the env's `info["view"]` per buffer index (`ViewColumn`); the reward
track derives it from the logged observations (logged_episodes.views). The view is not part of
any cache key, and `ordinal` never reads it, so its answers and keys are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from benchmark.rl.buffer import ReplayBuffer
from envs.spec import TaskSpec
from oracle_cache.types import Preference, PreferQuery, RateQuery, Rating


class ViewColumn:
    """The env's privileged `info["view"]` at each buffer index (NaN where it gave none).

    Allocated on the first view seen (its width is the env's); an env that never reports one
    (ALFRED, a real robot) leaves it empty, and the teacher's context then has no view.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data: np.ndarray | None = None

    def record(self, index: int, info: Mapping[str, Any]) -> None:
        view = info.get("view")
        if view is None:
            return
        row = np.asarray(view, np.float64).ravel()
        if self.data is None:
            self.data = np.full((self.capacity, row.size), np.nan)
        self.data[index] = row

    def state_dict(self, size: int | None = None) -> dict[str, Any]:
        """The first `size` rows (the buffer's filled part; all when None)."""
        return {"data": None if self.data is None else self.data[:size].copy()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        data = state.get("data")
        if data is None:
            self.data = None
            return
        data = np.asarray(data, np.float64)
        self.data = np.full((self.capacity, data.shape[1]), np.nan)
        self.data[: len(data)] = data


class BudgetExhausted(RuntimeError):
    """A method asked for more queries than the run's budget allows."""


class RunnerFeedback:
    def __init__(
        self,
        buffer: ReplayBuffer,
        render_snapshot: Callable[[np.ndarray, int], np.ndarray],
        oracle: object,
        task_name: str,
        instruction: str,
        levels: int,
        oracle_frame_size: int,
        max_queries: int,
        max_frames_per_query: int = 8,
        views: np.ndarray | ViewColumn | None = None,
    ) -> None:
        self.buffer = buffer
        self.render_snapshot = render_snapshot
        self.oracle = oracle
        self.task_name = task_name
        self.instruction = instruction
        self.levels = levels
        self.oracle_frame_size = oracle_frame_size
        self.max_queries = max_queries
        self.max_frames_per_query = max_frames_per_query
        self.queries_used = 0
        #: per buffer index, the state's view ([N, d] array or a ViewColumn); None: no view
        self.views = views

    @classmethod
    def for_task(
        cls,
        buffer: ReplayBuffer,
        render_snapshot: Callable[[np.ndarray, int], np.ndarray],
        oracle: object,
        task: TaskSpec,
        levels: int,
        max_queries: int,
        views: np.ndarray | ViewColumn | None = None,
    ) -> RunnerFeedback:
        """The gate for a task: its name, instruction and oracle frame size."""
        return cls(
            buffer,
            render_snapshot,
            oracle,
            task.name,
            task.instruction,
            levels,
            task.oracle_frame_size,
            max_queries,
            views=views,
        )

    @property
    def budget_left(self) -> int:
        return max(0, self.max_queries - self.queries_used)

    def _spend(self, n: int) -> None:
        if n > self.budget_left:
            raise BudgetExhausted(
                f"asked for {n} queries with {self.budget_left} left of {self.max_queries}"
            )
        self.queries_used += n

    def _frames(self, seg: np.ndarray) -> list[np.ndarray]:
        """Oracle-resolution frames of a segment, evenly subsampled to the per-query maximum."""
        seg = np.asarray(seg)
        if len(seg) > self.max_frames_per_query:
            pick = np.linspace(0, len(seg) - 1, self.max_frames_per_query).round().astype(int)
            seg = seg[pick]
        return [self.render_snapshot(self.buffer.snapshots[i], self.oracle_frame_size) for i in seg]

    def _view(self, index: int) -> list[float] | None:
        views = self.views.data if isinstance(self.views, ViewColumn) else self.views
        if views is None:
            return None
        row = np.asarray(views[index], np.float64)
        return [float(v) for v in row] if np.all(np.isfinite(row)) else None

    def _context(self, seg: np.ndarray) -> dict[str, object]:
        last = int(np.asarray(seg)[-1])
        ctx: dict[str, object] = {
            "task": self.task_name,
            "progress": float(self.buffer.progress[last]),
            "success": bool(self.buffer.success[last]),
        }
        view = self._view(last)
        if view is not None:  # the state the context describes: the segment's last
            ctx["view"] = view
        return ctx

    def rate(self, segments: Sequence[np.ndarray]) -> list[Rating]:
        self._spend(len(segments))
        queries = [
            RateQuery(self._frames(s), self.instruction, self.levels, self._context(s))
            for s in segments
        ]
        return list(self.oracle.rate_many(queries))

    def prefer(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[Preference]:
        self._spend(len(pairs))
        queries = [
            PreferQuery(
                self._frames(a),
                self._frames(b),
                self.instruction,
                {"task": self.task_name, "a": self._context(a), "b": self._context(b)},
            )
            for a, b in pairs
        ]
        return list(self.oracle.prefer_many(queries))

"""The runner's gate between a reward method and the oracle.

A method names buffer indices; this class re-renders those states at the oracle's resolution
from stored simulator snapshots, attaches the privileged context the scripted teacher needs,
enforces the query budget and counts what was asked. The method itself never touches
privileged data or the oracle's cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from benchmark.rl.buffer import ReplayBuffer
from envs.spec import TaskSpec
from oracle_cache.types import Preference, PreferQuery, RateQuery, Rating


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

    @classmethod
    def for_task(
        cls,
        buffer: ReplayBuffer,
        render_snapshot: Callable[[np.ndarray, int], np.ndarray],
        oracle: object,
        task: TaskSpec,
        levels: int,
        max_queries: int,
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

    def _context(self, seg: np.ndarray) -> dict[str, object]:
        last = int(np.asarray(seg)[-1])
        return {
            "task": self.task_name,
            "progress": float(self.buffer.progress[last]),
            "success": bool(self.buffer.success[last]),
        }

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

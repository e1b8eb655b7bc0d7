"""Optional metric sinks next to metrics.csv: TensorBoard scalars and Weights & Biases.

metrics.csv is the record the reports are computed from; these sinks only mirror it for people
who watch runs live. TensorBoard is on when `tensorboard` is installed (the `dev` extra has it;
files go to <run>/tb). W&B is off unless asked for (`--log wandb` or VLMBENCH_WANDB=1), and is
never required: if the package is missing the run says so once and goes on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from benchmark.inputs import redact_secrets

log = logging.getLogger(__name__)


class MetricSinks:
    def __init__(
        self, run_dir: Path, sinks: list[str], config: dict[str, Any], run_name: str
    ) -> None:
        self.writers: list[Any] = []
        self._wandb = None
        if "tensorboard" in sinks:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writers.append(SummaryWriter(log_dir=str(run_dir / "tb")))
            except ImportError:
                log.info("tensorboard not installed: no TensorBoard scalars for this run")
        if "wandb" in sinks or os.environ.get("VLMBENCH_WANDB") == "1":
            try:
                import wandb

                self._wandb = wandb.init(
                    project=os.environ.get("WANDB_PROJECT", "vlm-feedback-bench"),
                    name=run_name,
                    config=redact_secrets(config),  # W&B uploads its config: no keys in it
                    dir=str(run_dir),
                    reinit=True,
                )
            except ImportError:
                log.warning("W&B logging was asked for but `wandb` is not installed; skipping it")

    def log(self, row: dict[str, Any]) -> None:
        step = int(row["step"])
        scalars = {
            k: float(v)
            for k, v in row.items()
            if k != "step" and isinstance(v, (int, float)) and v == v
        }  # drop NaN
        for w in self.writers:
            for k, v in scalars.items():
                w.add_scalar(k, v, step)
            w.flush()
        if self._wandb is not None:
            self._wandb.log(scalars, step=step)

    def close(self) -> None:
        for w in self.writers:
            w.close()
        if self._wandb is not None:
            self._wandb.finish()

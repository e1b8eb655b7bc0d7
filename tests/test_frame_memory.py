"""A replay buffer whose frames cannot fit in memory is refused before the run starts.

numpy's zeros are committed only as they are written, so such a run used to start fine and fail
or swap hours later (a 224-px `short` run needs 7.5 GB of frames), with checkpoints as large.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

import benchmark.rl.buffer as buffer_mod
from benchmark.inputs import InputError
from benchmark.loops.dispatch import run_any
from benchmark.rl.buffer import check_frame_memory
from tests.test_sweep import _base

GIB = 2**30


def test_frames_that_cannot_fit_are_refused_with_what_to_do():
    with pytest.raises(InputError) as err:
        check_frame_memory(50_000, (224, 224, 3), total=8 * GIB)
    text = str(err.value)
    assert "224-px frames need 7.0 GiB at capacity 50000" in text
    assert "8.0 GiB" in text and "@reward_frame_size=64" in text and "replay_capacity" in text


def test_frames_that_fit_pass_and_large_ones_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="benchmark.rl.buffer"):
        assert check_frame_memory(50_000, (64, 64, 3), total=8 * GIB) == 50_000 * 64 * 64 * 3
        assert not caplog.records  # 0.6 GB: no warning
        assert check_frame_memory(50_000, (224, 224, 3), total=24 * GIB) > GIB
    assert "will fill 7.0 GiB" in caplog.text
    assert check_frame_memory(10**9, None, total=GIB) == 0  # a method that stores no frames


def test_a_run_is_refused_before_any_env_is_made(tmp_path, monkeypatch):
    """The check runs first in build_online: on a machine too small for the frames, a run of a
    frame-reading method fails at once with the message, and no env is created."""
    monkeypatch.setattr(buffer_mod, "physical_memory", lambda: 10**6)
    made = []
    import envs.spec

    real_make = envs.spec.TaskSpec.make
    monkeypatch.setattr(
        envs.spec.TaskSpec, "make", lambda self, *a, **k: made.append(a) or real_make(self, *a, **k)
    )
    cfg = replace(_base(tmp_path), task="metaworld/drawer-open", method="erl-vlm", seed=0)
    with pytest.raises(InputError, match="frames need"):
        run_any(cfg)
    assert not made
    # with the machine's real memory the same run gets past the check and makes its envs
    monkeypatch.undo()
    monkeypatch.setattr(
        envs.spec.TaskSpec, "make", lambda self, *a, **k: made.append(a) or real_make(self, *a, **k)
    )
    run_any(replace(cfg, out_dir=str(tmp_path / "out2")))
    assert made

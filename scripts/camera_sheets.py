"""Side-by-side frames of each paper task: the suite's camera vs the reference code's camera.

Writes docs/cameras/<task>.png: three 224-px columns (the suite's free camera, the default;
`@camera=reference`, the fork's fixed camera with its top-bottom flip; the same with
`@effects=on`, MetaWorld's rendering effects) and two rows (the reset state, and the state after
MetaWorld's scripted expert has acted for a number of steps), all on the reference layout.

    MUJOCO_GL=egl PYTHONPATH=$PWD python scripts/camera_sheets.py [--out docs/cameras] [--steps 60]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs import get_task  # noqa: E402

TASKS = ("drawer-open", "sweep-into", "soccer")
COLUMNS = {
    "suite camera (default)": "",
    "@camera=reference": "@camera=reference",
    "@camera=reference@effects=on": "@camera=reference@effects=on",
}
SIZE, HEADER, GAP = 224, 18, 4


def frames(name: str, steps: int) -> list[np.ndarray]:
    """The frame at reset and after `steps` steps of MetaWorld's expert."""
    spec = get_task(name)
    env = spec.make_env(0)
    obs, _ = env.reset(seed=0)
    out = [env.render_frame(SIZE)]
    expert = spec.make_expert(env)
    for _ in range(steps):
        obs, *_ = env.step(expert(obs))
    out.append(env.render_frame(SIZE))
    env.close()
    return out


def sheet(task: str, steps: int) -> Image.Image:
    cols = [frames(f"metaworld/{task}{suffix}", steps) for suffix in COLUMNS.values()]
    w = len(cols) * SIZE + (len(cols) - 1) * GAP
    h = HEADER + 2 * SIZE + GAP
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    for c, (label, col) in enumerate(zip(COLUMNS, cols, strict=True)):
        x = c * (SIZE + GAP)
        draw.text((x + 4, 3), label, fill="black")
        for r, frame in enumerate(col):
            img.paste(Image.fromarray(frame), (x, HEADER + r * (SIZE + GAP)))
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/cameras")
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for task in TASKS:
        path = out / f"{task}.png"
        sheet(task, args.steps).save(path, optimize=True)
        print(path)


if __name__ == "__main__":
    main()

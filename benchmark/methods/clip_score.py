"""CLIP reward: cosine similarity between a frame and the task's goal sentence (no feedback).

With `baseline_text`, the VLM-RM variant (Rocamonde et al., 2024): embeddings are projected
onto the direction from the baseline prompt to the goal prompt with strength `alpha`, and the
reward is 1 - 1/2 ||(alpha P + (1 - alpha) I)(x - g)||^2 on unit embeddings.

Images are preprocessed with PIL/numpy (resize, centre crop, CLIP's mean/std) because there is
no CPU torchvision here. Weights come from `model_name_or_path` (a local directory or a hub id);
with HF_HUB_OFFLINE set nothing is downloaded and a missing model fails with how to provide it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from benchmark.methods.base import MethodConfig, RewardMethod
from envs.spec import TaskSpec

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


@dataclass
class ClipConfig(MethodConfig):
    model_name_or_path: str = "openai/clip-vit-base-patch32"
    #: VLM-RM baseline prompt, e.g. "a robot arm and a drawer"; empty = plain cosine similarity
    baseline_text: str = ""
    alpha: float = 0.5
    batch_size: int = 64
    reward_epochs: int = 0  # unused: CLIP is not trained


def preprocess(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [N,H,W,3] -> normalised float [N,3,size,size] (bicubic resize of the short side,
    centre crop), the same steps as CLIP's own processor."""
    out = np.empty((len(frames), size, size, 3), np.float32)
    for i, f in enumerate(frames):
        img = Image.fromarray(f)
        scale = size / min(img.size)
        img = img.resize(
            (max(size, round(img.width * scale)), max(size, round(img.height * scale))),
            Image.BICUBIC,
        )
        left, top = (img.width - size) // 2, (img.height - size) // 2
        out[i] = np.asarray(img.crop((left, top, left + size, top + size)), np.float32) / 255.0
    out = (out - CLIP_MEAN) / CLIP_STD
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def _hub_offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def load_clip(path: str) -> tuple[Any, Any]:
    """(model, tokenizer) from a local directory or a hub id.

    Under HF_HUB_OFFLINE (as on this machine and in the tests) only files already on disk are
    used; otherwise `transformers` may fetch the hub id into its cache.
    """
    try:
        from transformers import CLIPModel, CLIPTokenizerFast
    except ImportError as err:
        raise ImportError("clip-score needs transformers: `pip install -e '.[clip]'`") from err
    offline = _hub_offline()
    try:
        model = CLIPModel.from_pretrained(path, local_files_only=offline)
        tokenizer = CLIPTokenizerFast.from_pretrained(path, local_files_only=offline)
    except (OSError, ValueError) as err:  # missing files, or a path that is not a valid hub id
        where = "locally (HF_HUB_OFFLINE is set)" if offline else "locally or from the hub"
        raise FileNotFoundError(
            f"CLIP weights '{path}' could not be loaded {where}: {err}. To provide them, on a "
            "machine with internet run `huggingface-cli download openai/clip-vit-base-patch32 "
            "--local-dir /path/to/clip` (or `CLIPModel.from_pretrained(...).save_pretrained(dir)` "
            "plus the tokenizer), copy the directory here, and pass "
            "`--method-opt model_name_or_path=/path/to/clip`."
        ) from err
    return model.eval(), tokenizer


class ClipScore(RewardMethod):
    """CLIP score (with the optional VLM-RM baseline projection): zero-shot, no oracle queries."""

    name = "clip-score"
    Config = ClipConfig

    def __init__(
        self,
        task: TaskSpec,
        config: ClipConfig,
        seed: int,
        model: Any = None,
        tokenizer: Any = None,
    ) -> None:
        super().__init__(task, config, seed)
        if model is None:
            model, tokenizer = load_clip(config.model_name_or_path)
        self.model, self.tokenizer = model.eval(), tokenizer
        self.image_size = int(model.config.vision_config.image_size)
        goal = task.goal_text or task.instruction
        self.goal = self._text(goal)
        self.projection = None
        if config.baseline_text:
            base = self._text(config.baseline_text)
            d = self.goal - base
            if d.norm() < 1e-6:
                raise ValueError(
                    "baseline_text and the goal text have the same CLIP embedding; "
                    "choose a baseline prompt that differs from the goal"
                )
            d = d / d.norm()
            eye = torch.eye(len(d))
            self.projection = config.alpha * torch.outer(d, d) + (1 - config.alpha) * eye

    @torch.inference_mode()
    def _text(self, text: str) -> torch.Tensor:
        tokens = self.tokenizer([text], padding=True, return_tensors="pt")
        emb = self.model.get_text_features(**tokens)
        emb = emb if isinstance(emb, torch.Tensor) else emb.pooler_output
        return torch.nn.functional.normalize(emb[0], dim=-1)

    @torch.inference_mode()
    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(frames), self.config.batch_size):
            pixels = preprocess(frames[i : i + self.config.batch_size], self.image_size)
            emb = self.model.get_image_features(pixel_values=pixels)
            emb = emb if isinstance(emb, torch.Tensor) else emb.pooler_output
            x = torch.nn.functional.normalize(emb, dim=-1)
            if self.projection is None:
                out.append(x @ self.goal)
            else:
                diff = (x - self.goal) @ self.projection.T
                out.append(1 - 0.5 * diff.pow(2).sum(-1))
        return torch.cat(out).numpy().astype(np.float32) if out else np.zeros(0, np.float32)

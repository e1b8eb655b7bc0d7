"""The CLIP-score pipeline on a tiny CLIP built from a config (no weights can be downloaded)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from benchmark.methods.clip_score import ClipConfig, ClipScore, load_clip, preprocess  # noqa: E402
from envs import get_task  # noqa: E402


class CharTokenizer:
    """Stands in for CLIP's BPE tokenizer, whose vocabulary files cannot be downloaded here."""

    def __call__(self, texts, padding=True, return_tensors="pt"):
        # ids 3..98 for characters, then the end-of-text id (99), where CLIP pools the text
        ids = [[3 + ord(c) % 96 for c in t[:15]] + [99] for t in texts]
        n = max(map(len, ids))
        input_ids = torch.tensor([i + [0] * (n - len(i)) for i in ids])
        return {"input_ids": input_ids, "attention_mask": (input_ids > 0).long()}


@pytest.fixture(scope="module")
def tiny_clip():
    torch.manual_seed(0)
    cfg = transformers.CLIPConfig(
        text_config={
            "vocab_size": 100,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,
            "eos_token_id": 99,
            "bos_token_id": 1,
            "pad_token_id": 0,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    return transformers.CLIPModel(cfg), CharTokenizer()


def test_preprocess_matches_clip_normalisation():
    frames = np.full((2, 64, 48, 3), 255, np.uint8)
    x = preprocess(frames, 32)
    assert x.shape == (2, 3, 32, 32)
    expected = (1.0 - 0.48145466) / 0.26862954
    assert torch.allclose(x[:, 0], torch.full((2, 32, 32), expected), atol=1e-5)


def test_clip_reward_is_a_cosine_in_range_and_batched(tiny_clip):
    model, tok = tiny_clip
    method = ClipScore(get_task("metaworld/drawer-open"), ClipConfig(batch_size=3), 0, model, tok)
    frames = np.random.default_rng(0).integers(0, 255, (7, 64, 64, 3), dtype=np.uint8)
    r = method.reward(frames, np.zeros((7, 39)))
    assert r.shape == (7,) and r.dtype == np.float32
    assert np.all(np.abs(r) <= 1 + 1e-5)
    assert np.allclose(r[:3], method.reward(frames[:3], np.zeros((3, 39))), atol=1e-5)


def test_baseline_projection_with_alpha_zero_is_distance_to_goal(tiny_clip):
    model, tok = tiny_clip
    task = get_task("metaworld/drawer-open")
    plain = ClipScore(task, ClipConfig(), 0, model, tok)
    proj = ClipScore(task, ClipConfig(baseline_text="a robot arm", alpha=0.0), 0, model, tok)
    frames = np.random.default_rng(1).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    # alpha = 0: 1 - ||x - g||^2 / 2 = cos(x, g) for unit vectors
    assert np.allclose(proj.reward(frames, None), plain.reward(frames, None), atol=1e-5)


def test_missing_weights_say_how_to_provide_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="model_name_or_path"):
        load_clip(str(tmp_path / "no-such-clip"))

"""The procedural generator's ground truth and the resumable training loop."""

from __future__ import annotations

import json

import torch

from fpsboost.data.celgen import CelScene
from fpsboost.models.blocks import backward_warp
from fpsboost.models.presets import load_interpolator
from fpsboost.train import TrainSettings, train


def test_scenes_are_reproducible_from_their_seed() -> None:
    first, second = CelScene(7, 64, 64).render(1.5), CelScene(7, 64, 64).render(1.5)
    assert torch.equal(first, second)
    assert not torch.equal(first, CelScene(8, 64, 64).render(1.5))


def test_exact_flow_reconstructs_the_in_between() -> None:
    """Warping frame 0 by the generator's flow from t=0.5 lands on the true middle frame."""
    warped_error, still_error = [], []
    for seed in range(6):
        scene = CelScene(seed, 96, 96)
        frame0, middle = scene.render(0.0), scene.render(0.5)
        warped = backward_warp(frame0[None], scene.flow(0.5, 0.0)[None])[0]
        warped_error.append(float((warped - middle).abs().mean()))
        still_error.append(float((frame0 - middle).abs().mean()))
    assert sum(warped_error) < 0.6 * sum(still_error)


def test_training_resumes_from_its_checkpoint(tmp_path) -> None:
    settings = TrainSettings(out_dir=str(tmp_path), steps=2, batch_size=2, crop=64, loader_workers=0, threads=1,
                             log_every=1, validate_every=2, checkpoint_every=1, validation_samples=2, warmup_steps=1)
    best = train(settings)
    train(TrainSettings(**{**settings.__dict__, "steps": 3, "validate_every": 3}))
    records = [json.loads(line) for line in (tmp_path / "train.log").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3]
    assert any(r.get("event") == "resume" and r["step"] == 2 for r in records)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 3
    model = load_interpolator(best)
    assert sum(p.numel() for p in model.parameters()) > 0

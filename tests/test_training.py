"""The procedural generator's ground truth and the resumable training loop."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from fpsboost.cli import main
from fpsboost.data.celgen import CelScene
from fpsboost.models.blocks import backward_warp
from fpsboost.models.presets import load_interpolator
from fpsboost.training.interpolator import train
from fpsboost.training.settings import TrainSettings


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


def test_training_scenes_can_scroll_text_whose_exact_flow_is_its_speed() -> None:
    """``--moving-text-probability`` adds credits-like moving text on some training scenes (the
    held-out style never does); the generator's flow on the text is the text layer's own velocity."""
    from dataclasses import replace

    from fpsboost.data.celgen import TRAINING_STYLE

    style = replace(TRAINING_STYLE, moving_text_probability=0.25)
    with_text = []
    for seed in range(14):
        scene = CelScene(seed, 48, 64, style)
        top = scene.layers[-1]
        if top.parallax == 0.0 and top.texture.shape[1] == 2 * 48:  # the credits layer is twice the canvas high
            with_text.append((seed, scene, top))
    assert 2 <= len(with_text) <= 10  # seeds 2 and 9
    for seed, scene, text in with_text:
        assert not any(layer.texture.shape[1] == 2 * 48 and layer.parallax == 0.0 for layer in CelScene(seed, 48, 64).layers)
        flow = scene.flow(0.0, 1.0)
        opaque = scene._sample(text, scene._texture_coords(text, 0.0))[3] > 0.99
        if opaque.any():
            assert torch.allclose(flow[:, opaque].mean(dim=1), torch.tensor(text.velocity, dtype=torch.float32), atol=0.05)


def test_two_frame_gap_samples_span_two_frames_with_their_exact_flow() -> None:
    """``--two-frame-gap-probability``: such a pair is the scene two frames apart (two drawings either
    side of a hold), its in-betweens lie at ``start + 2t`` and its flow is the flow across both frames."""
    import numpy as np

    from fpsboost.data.datasets import SCENE_WINDOW, synthetic_sample

    scene = CelScene(3, 64, 64)
    sample = synthetic_sample(scene, np.random.default_rng(11), 2, gap=2)
    start = float(np.random.default_rng(11).uniform(0, SCENE_WINDOW))  # the sample's first draw
    assert torch.equal(sample.image0, scene.render(start))
    assert torch.equal(sample.image1, scene.render(start + 2))
    for target, t in zip(sample.targets, sample.timesteps.tolist()):
        assert torch.equal(target, scene.render(start + 2 * t))
    assert torch.equal(sample.flow_0to1, scene.flow(start, start + 2))
    assert not torch.equal(sample.image1, scene.render(start + 1))  # this scene moves: a real gap


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


def test_a_window_of_a_wide_canvas_is_that_crop_of_the_full_render() -> None:
    """Training crops of a wide canvas keep the canvas's pixel motion and its exact ground truth."""
    scene = CelScene(3, 96, 128)
    window = scene.window(40, 24, 48, 64)
    assert torch.equal(window.render(1.25), scene.render(1.25)[:, 24:72, 40:104])
    assert torch.equal(window.flow(1.0, 2.0), scene.flow(1.0, 2.0)[:, 24:72, 40:104])


def test_fine_tuning_starts_from_given_weights_on_wide_canvases(tmp_path) -> None:
    base = TrainSettings(out_dir=str(tmp_path / "base"), steps=1, batch_size=2, crop=64, loader_workers=0, threads=1,
                         log_every=1, validate_every=1, checkpoint_every=1, validation_samples=2, warmup_steps=1)
    base_weights = train(base)
    tuned = TrainSettings(**{**base.__dict__, "out_dir": str(tmp_path / "tuned"), "init_weights": str(base_weights),
                             "canvas_scale_max": 2.0})
    train(tuned)
    records = [json.loads(line) for line in (tmp_path / "tuned" / "train.log").read_text().splitlines()]
    validations = [r for r in records if "validation" in r]
    # Step 0 scores the starting weights: the same network and the same narrow set as the base run's end.
    base_records = [json.loads(line) for line in (tmp_path / "base" / "train.log").read_text().splitlines()]
    base_final = [r for r in base_records if "validation" in r][-1]["validation"]["psnr"]
    assert validations[0]["step"] == 0
    assert abs(validations[0]["validation"]["psnr"] - base_final) < 1e-3
    assert "wide_psnr" in validations[-1]["validation"]


def test_a_run_with_two_frame_gaps_also_validates_on_pairs_two_frames_apart(tmp_path) -> None:
    settings = TrainSettings(out_dir=str(tmp_path), steps=1, batch_size=2, crop=64, loader_workers=0, threads=1,
                             log_every=1, validate_every=1, checkpoint_every=1, validation_samples=2, warmup_steps=1,
                             two_frame_gap_probability=0.5)
    train(settings)
    records = [json.loads(line) for line in (tmp_path / "train.log").read_text().splitlines()]
    scores = [r for r in records if "validation" in r][-1]["validation"]
    # Pairs two frames apart move twice as far: harder than the same seeds one frame apart.
    assert scores["gap2_psnr"] < scores["psnr"]


def test_fine_tuning_the_synthesizer_alone_leaves_the_flow_estimator_as_it_was(tmp_path) -> None:
    base = TrainSettings(out_dir=str(tmp_path / "base"), steps=1, batch_size=2, crop=64, loader_workers=0, threads=1,
                         log_every=1, validate_every=1, checkpoint_every=1, validation_samples=2, warmup_steps=1)
    start = load_interpolator(train(base))
    tuned = TrainSettings(**{**base.__dict__, "out_dir": str(tmp_path / "tuned"), "init_weights": str(tmp_path / "base" / "best.safetensors"),
                             "train_parts": "synthesizer", "steps": 2, "learning_rate": 1e-2})
    train(tuned)
    state = torch.load(tmp_path / "tuned" / "checkpoint.pt", weights_only=True)["model"]
    for name, value in start.state_dict().items():
        if name.startswith("flow_estimator."):
            assert torch.equal(state[name], value), name
    assert any(not torch.equal(state[name], value) for name, value in start.state_dict().items() if name.startswith("synthesizer."))


@pytest.mark.parametrize("args, fragment", [
    (("--steps", "0"), "--steps must be at least 1"),
    (("--batch-size", "0"), "--batch-size must be at least 1"),
    (("--preset", "huge"), "unknown preset"),
    (("--train-parts", "flow"), "unknown --train-parts"),
    (("--train-parts", "new"), "needs --init-weights"),
    (("--visibility-window", "7"), "--visibility-window must be 0 or divide --crop"),
    (("--real-fraction", "1.5"), "--real-fraction"),
    (("--two-frame-gap-probability", "-0.1"), "--two-frame-gap-probability must be between 0 and 1"),
    (("--real-video", "missing.mp4"), "no such file"),
    (("--real-video", "{text}"), "not a video file"),
    (("--real-video", "{short}"), "smaller than --crop"),
])
def test_bad_training_options_are_one_line_errors_and_write_nothing(args, fragment, clip, tmp_path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    short = clip("short.mp4", frames=4)  # 64x48: smaller than the 192 px crop
    out_dir = tmp_path / "run"
    filled = [str(arg).format(text=text, short=short) for arg in args]
    result = CliRunner().invoke(main, ["train", "--out-dir", str(out_dir), *filled])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fpsboost: error: ") and fragment in lines[0], result.stderr
    assert not out_dir.exists()


def test_the_extrapolator_trains_from_the_command_line_and_resumes(tmp_path) -> None:
    """``fpsboost train-extrapolator`` (once an argparse script): a run writes its checkpoint and best
    weights, and the same command with more steps resumes from the checkpoint's step."""
    out_dir = tmp_path / "extrapolator"
    common = ["train-extrapolator", "--out-dir", str(out_dir), "--batch-size", "1", "--crop", "64",
              "--validation-samples", "1", "--validate-every", "2", "--log-every", "1"]
    first = CliRunner().invoke(main, [*common, "--steps", "2"])
    assert first.exit_code == 0, first.output
    assert (out_dir / "best.safetensors").is_file() and (out_dir / "checkpoint.pt").is_file()
    second = CliRunner().invoke(main, [*common, "--steps", "3"])
    assert second.exit_code == 0, second.output
    records = [json.loads(line) for line in (out_dir / "train.log").read_text().splitlines()]
    resume = next(record for record in records if record.get("event") == "resume")
    assert resume["step"] == 2 and records[-1]["step"] == 3

"""fpsboost bench and the evaluation package: metrics, baselines, experiments, and a --quick run whose
JSON has real fields.

No timing assertions: speed targets are recorded by benchmarks, never checked here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fpsboost.cli import main
from fpsboost.evaluation.baselines import BlendMethod, DisFlowMethod, DuplicateMethod, MinterpolateMethod
from fpsboost.evaluation.metrics import flip_error, ms_ssim, psnr_u8, ssim
from fpsboost.evaluation.test_sets import motion_split
from fpsboost.models.interpolator import CelFlow
from fpsboost.models.presets import save_weights

HAS_FFMPEG = Path("/usr/bin/ffmpeg").exists()


def textured(height: int, width: int, cell: int = 16, seed: int = 0) -> np.ndarray:
    """A smooth random texture with features about ``cell`` pixels wide, ``[H,W,3]`` uint8."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.random((height // cell + 1, width // cell + 1, 3)).astype(np.float32)
    return (cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)


def shifted_pair(shift: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames 0 and 1 of a texture moving ``shift`` pixels right per frame, and the truth at t=0.5."""
    wide = textured(96, 160 + 2 * shift)
    crop = lambda offset: np.ascontiguousarray(wide[:, shift - offset: shift - offset + 160])  # noqa: E731
    return crop(0), crop(shift), crop(shift // 2)


def test_metrics_are_perfect_for_identical_images_and_drop_with_noise():
    image = textured(192, 192, cell=8)
    noisy = np.clip(image.astype(int) + np.random.default_rng(1).integers(-30, 30, image.shape), 0, 255).astype(np.uint8)
    assert ssim(image, image) == pytest.approx(1.0)
    assert ms_ssim(image, image) == pytest.approx(1.0)
    assert psnr_u8(image, image) >= 90
    assert ssim(noisy, image) < 0.95
    assert ms_ssim(noisy, image) < 1.0
    assert 15 < psnr_u8(noisy, image) < 35


def test_flip_is_zero_for_identical_frames_and_grows_with_the_difference():
    """FLIP (lower is better): 0 for the truth itself, small for a light blur, larger for a 2 px shift;
    frames of different sizes are refused before the package sees them (it would exit the process)."""
    import cv2

    pytest.importorskip("flip_evaluator")
    image = textured(96, 128, cell=4)
    blurred = cv2.GaussianBlur(image, (0, 0), 1.5)
    shifted = np.roll(image, 2, axis=1)
    assert flip_error(image, image) == pytest.approx(0.0, abs=1e-6)
    assert 0 < flip_error(blurred, image) < flip_error(shifted, image)
    with pytest.raises(ValueError):
        flip_error(image[:, :64], image)


def test_ms_ssim_is_none_when_the_coarsest_scale_has_no_room():
    image = textured(96, 160)
    assert ms_ssim(image, image) is None


def test_motion_splits_follow_the_thresholds():
    assert [motion_split(m) for m in (0.0, 0.019, 0.02, 0.05, 0.051)] == ["small", "small", "medium", "medium", "large"]


def test_dis_baseline_beats_blend_on_a_translation():
    frame0, frame1, middle = shifted_pair(8)
    dis = DisFlowMethod()(frame0, frame1, (0.5,))[0]
    blend = BlendMethod()(frame0, frame1, (0.5,))[0]
    duplicate = DuplicateMethod()(frame0, frame1, (0.25, 0.75))
    assert psnr_u8(dis, middle) > psnr_u8(blend, middle) + 3
    assert duplicate[0] is frame0 and duplicate[1] is frame1


@pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg not installed")
def test_minterpolate_baseline_returns_the_middle_frame():
    frame0, frame1, middle = shifted_pair(8)
    (result,) = MinterpolateMethod()(frame0, frame1, (0.5,))
    assert result.shape == middle.shape and result.dtype == np.uint8
    assert psnr_u8(result, middle) > psnr_u8(frame0, middle)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    weights = folder / "untrained.safetensors"
    network = CelFlow()
    save_weights(network, weights, network.config.to_dict(), "untrained-test", {"step": 0})
    paths = {"json": folder / "results.json", "markdown": folder / "RESULTS.md", "plot": folder / "results.png"}
    result = CliRunner().invoke(
        main,
        ["bench", "--quick", "--quality", "--threads", "1", "--model", str(weights), "--real-dir", str(folder / "no-such-dir"),
         "--json", str(paths["json"]), "--markdown", str(paths["markdown"]), "--plot", str(paths["plot"])],
        env={"FPSBOOST_CACHE_DIR": str(folder / "cache")},
    )
    assert result.exit_code == 0, result.output
    return json.loads(paths["json"].read_text()), paths


def test_quick_bench_times_fpsboost_and_the_rife_shaped_anchor(quick_report):
    report, _ = quick_report
    rows = report["network"]["rows"]
    assert {row["backend"] for row in rows} == {"torch", "rife46-shaped"}
    for row in rows:
        assert row["ms_per_inbetween"] > 0 and len(row["samples_s"]) == report["settings"]["repeats"]
    factors = {row["factor"]: row for row in report["network"]["factors"]}
    assert sorted(factors) == [2, 4, 8]
    assert [factors[f]["timesteps_per_pair"] for f in (2, 4, 8)] == [1, 3, 7]


def test_quick_bench_end_to_end_doubles_the_frames_and_measures_memory(quick_report):
    report, _ = quick_report
    clip_frames = report["settings"]["clip_frames"]
    ours = [row for row in report["end_to_end"]["rows"] if row["backend"] == "torch"]
    assert len(ours) == 1
    job = ours[0]
    assert job["frames_in"] == clip_frames and job["frames_out"] == 2 * clip_frames
    assert 0 < job["inbetweens"] <= clip_frames and job["network_s"] > 0
    assert job["measure_s"] > 0  # the job measured its pairs ahead of the network, as a user's job does
    assert job["decode_s"] > 0 and job["encode_s"] > 0 and job["peak_rss_mb"] > 0
    ceiling = next(row for row in report["end_to_end"]["rows"] if row["backend"] == "no-network")
    assert ceiling["frames_out"] == 2 * clip_frames and ceiling["inbetweens"] == job["inbetweens"]
    if HAS_FFMPEG:
        anchor = next(row for row in report["end_to_end"]["rows"] if row["backend"] == "ffmpeg-minterpolate")
        assert anchor["frames_out"] > clip_frames  # minterpolate's own count: it stops short of the end
    memory = report["memory"]["rows"]
    assert [row["frames_in"] for row in memory] == [report["settings"]["rss_frames"], 5 * report["settings"]["rss_frames"]]
    assert all(row["peak_rss_mb"] > 0 for row in memory)
    names = " | ".join(target["target"] for target in report["targets"])
    for subject in ("minterpolate",) * HAS_FFMPEG + ("RIFE-v4.6-shaped", "network-only", "factor 8", "peak RSS"):
        assert subject in names
    assert all(isinstance(target["met"], bool) for target in report["targets"])


def test_quick_bench_quality_scores_every_method_and_skips_missing_real_footage(quick_report):
    report, paths = quick_report
    quality = report["quality"]
    rows = [row for row in quality["rows"] if row["set"] == "synthetic" and row["split"] == "all"]
    methods = {row["method"] for row in rows}
    assert {"fpsboost", "dis", "blend", "duplicate"} <= methods
    assert ("minterpolate" in methods) == HAS_FFMPEG
    pairs = len(quality["synthetic"]["seeds"])
    for row in rows:
        assert math.isfinite(row["psnr"]) and -1 <= row["ssim"] <= 1
        expected_t = ["0.5"] if row["method"] == "minterpolate" else ["0.25", "0.5", "0.75"]
        assert list(row["per_t"]) == expected_t
        assert all(cell["count"] == pairs for cell in row["per_t"].values())
    assert quality["real_sets"] == []
    assert any("not found" in note for note in quality["notes"])
    assert report["model"]["version"] == "untrained-test"
    markdown = paths["markdown"].read_text()
    assert "| synthetic | all |" in markdown and "rife46-shaped" in markdown
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_job_that_cannot_run_is_a_note_and_the_others_are_still_reported(tmp_path, monkeypatch):
    """On a GPU machine without onnxruntime-gpu the ONNX jobs fail; the report must survive them."""
    from fpsboost.evaluation import speed as bench

    def fake_job(spec: dict) -> dict:
        if spec["backend"] == "onnx":
            raise RuntimeError("benchmark job failed (onnx fp32): --device cuda needs onnxruntime-gpu")
        return {"wall_s": 1.0, "frames_in": 4, "frames_out": 8, "inbetweens": 3, "network_s": 0.5, "output_fps": 8.0}

    monkeypatch.setattr(bench, "_spawn_job", fake_job)
    monkeypatch.setattr(bench, "bench_clip", lambda width, height, frames: tmp_path / "clip.mp4")
    monkeypatch.setattr(bench, "FFMPEG", str(tmp_path / "no-ffmpeg"))
    settings = bench.BenchSettings(resolutions=("480p",), backends=("torch", "onnx"), precisions=("fp32",), e2e_repeats=2)
    section = bench.end_to_end_section(settings, "cpu", tmp_path, lambda message: None)
    assert [row["backend"] for row in section["rows"]] == ["torch", "no-network"]
    assert section["rows"][0]["wall_samples_s"] == [1.0, 1.0]
    assert any("onnxruntime-gpu" in note for note in section["notes"])


def test_quality_can_measure_another_network_side_by_side(tiny_weights):
    """``fpsboost bench quality --compare v1=PATH``: a second network gets its own rows, next to
    fpsboost's, and is never taken for a baseline in the targets."""
    from fpsboost.evaluation.baselines import FPSBOOST
    from fpsboost.evaluation.quality import QualitySettings, build_methods, quality_targets

    settings = QualitySettings(weights=str(tiny_weights), methods=(FPSBOOST, "dis"), compare=(("older", str(tiny_weights)),))
    methods, _ = build_methods(settings)
    assert [method.name for method in methods] == [FPSBOOST, "older", "dis"]
    rows = [{"set": "bikes", "split": "all", "method": name, "psnr": psnr}
            for name, psnr in ((FPSBOOST, 30.0), ("older", 40.0), ("dis", 29.0), ("minterpolate", 29.4))]
    (target,) = quality_targets(rows, [{"set": "bikes", "outside_check": False}])
    assert target["met"] and "minterpolate 29.40" in target["measured"]


def test_the_oracles_pick_the_candidate_closest_to_the_truth_per_pixel_or_per_window() -> None:
    """Per pixel the oracle takes whichever warp is closer; per window it takes the candidate whose
    squared error over the whole block is least, even where single pixels of another are closer."""
    import torch

    from fpsboost.evaluation.metrics import oracle_blend, window_oracle

    truth = torch.zeros(1, 3, 8, 8)
    near = torch.full_like(truth, 0.1)
    mostly = torch.zeros_like(truth)
    mostly[..., :4, :4] = 0.9  # exact on three quarters of the block, far off on the rest
    per_pixel = oracle_blend(near, mostly, truth)
    assert torch.equal(per_pixel[..., 4:, 4:], mostly[..., 4:, 4:]) and torch.equal(per_pixel[..., :4, :4], near[..., :4, :4])
    assert torch.equal(window_oracle([near, mostly], truth, 8), near)  # 0.01 per pixel against 0.2
    assert torch.equal(window_oracle([near, mostly], truth, 4), per_pixel)  # each 4x4 block is one kind

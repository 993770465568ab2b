"""The learnt choice between the two warps at full resolution (CelFlowConfig.full_choice_width), and
training only the part a trained network lacks (``--train-parts new``)."""

from __future__ import annotations

import torch

from fpsboost.data.celgen import CelScene
from fpsboost.models.config import CelFlowConfig
from fpsboost.models.interpolator import CelFlow
from fpsboost.models.presets import load_interpolator, save_weights
from fpsboost.training.interpolator import load_matching_weights, train
from fpsboost.training.settings import TrainSettings

from test_v2_synthesis import TINY_V2

TINY_SPLAT = CelFlowConfig(**{**TINY_V2.__dict__, "flow_source": "classical", "four_frame_motion": True,
                              "flow_correction": False, "motion_to_t": "splat"})


def _pair(seed: int) -> tuple[torch.Tensor, ...]:
    scene = CelScene(seed, 70, 100)
    return scene.render(0.0)[None], scene.render(1.0)[None], torch.zeros(2, dtype=torch.long), torch.tensor([0.25, 0.6])


def _with_random_learnt_parts(config: CelFlowConfig, seed: int) -> CelFlow:
    """A tiny network whose zero-initialised output layers drew something, as after training."""
    torch.manual_seed(seed)
    model = CelFlow(config).eval()
    layers = [model.synthesizer.head.out, model.synthesizer.sharpen.conv, model.synthesizer.coarse.decode[0]]
    if model.synthesizer.full_choice is not None:
        layers.append(model.synthesizer.full_choice.out)
    with torch.no_grad():
        for layer in layers:
            layer.weight.normal_(0, 0.05)
    return model


def test_an_untrained_full_choice_added_to_a_trained_network_draws_what_it_drew(tmp_path) -> None:
    """A network that gains the full-resolution choice starts from the trained file's weights and
    draws the same frames (its output layer starts at zero); trained, the choice changes them."""
    trained = _with_random_learnt_parts(TINY_SPLAT, 1)
    weights = tmp_path / "trained.safetensors"
    save_weights(trained, weights, trained.config.to_dict(), "tiny")
    grown = CelFlow(CelFlowConfig(**{**TINY_SPLAT.__dict__, "full_choice_width": 4})).eval()
    assert load_matching_weights(grown, str(weights)) == ["synthesizer"]  # the part left as it was
    image0, image1, index, times = _pair(4)
    with torch.no_grad():
        before, after = trained(image0, image1, index, times), grown(image0, image1, index, times)
        assert torch.equal(before, after)
        grown.synthesizer.full_choice.out.weight.normal_(0, 0.5)
        changed = grown(image0, image1, index, times)
    assert (changed - before).abs().max() > 1e-3


def test_the_cpu_form_of_the_full_choice_draws_what_its_convolutions_draw() -> None:
    """Eager CPU inference runs the choice's body channels-last and its one-channel output as tap sums;
    training runs the plain convolutions. The frames must not differ."""
    model = _with_random_learnt_parts(CelFlowConfig(**{**TINY_SPLAT.__dict__, "full_choice_width": 4}), 2)
    image0, image1, index, times = _pair(6)
    with torch.inference_mode():
        fast = model(image0, image1, index, times)
    with torch.no_grad(), torch.enable_grad():
        plain = model(image0, image1, index, times).detach()
    assert (fast - plain).abs().max().item() < 1e-5


def test_training_the_new_parts_only_leaves_the_trained_network_as_it_was(tmp_path) -> None:
    """``--train-parts new`` from a file without the full choice: the choice learns, every tensor the
    file had stays bit for bit, and a resumed run goes on training the same ones."""
    base = TrainSettings(out_dir=str(tmp_path / "base"), preset="celflow-v2-four-frame-splat", steps=1, batch_size=2,
                         crop=64, loader_workers=0, threads=1, log_every=1, validate_every=1, checkpoint_every=1,
                         validation_samples=2, warmup_steps=1)
    start = load_interpolator(train(base))
    tuned = TrainSettings(**{**base.__dict__, "out_dir": str(tmp_path / "tuned"), "preset": "celflow-v2-four-frame-splat-full",
                             "init_weights": str(tmp_path / "base" / "best.safetensors"), "train_parts": "new",
                             "learning_rate": 1e-2})
    train(tuned)
    train(TrainSettings(**{**tuned.__dict__, "steps": 2}))  # resumed
    state = torch.load(tmp_path / "tuned" / "checkpoint.pt", weights_only=True)["model"]
    for name, value in start.state_dict().items():
        assert torch.equal(state[name], value), name
    assert state["synthesizer.full_choice.out.weight"].abs().sum() > 0

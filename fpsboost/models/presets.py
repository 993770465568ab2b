"""Named network sizes and the shipped weights.

Weights are safetensors files whose metadata holds the architecture (``config``: JSON of
:class:`CelFlowConfig`) and the model version, so loading never unpickles anything.
"""

from __future__ import annotations

import json
import os
import sysconfig
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from safetensors import safe_open

from ..errors import ModelError
from .config import PRESETS, CelFlowConfig
from .interpolator import CelFlow

__all__ = ["PRESETS", "CelFlowConfig", "find_weights", "load_interpolator", "save_weights", "read_metadata", "weights_dir"]
DEFAULT_INTERPOLATOR_WEIGHTS = "celflow-v2.safetensors"  # v1 (celflow-s-v1) stays beside it for comparison
# The faster network a user can name instead (`--model celflow-v2-fast`): its synthesis at 1/4 of the
# frame instead of 1/2, 0.1 dB below the default on the synthetic set (weights/README.md).
FAST_INTERPOLATOR_WEIGHTS = "celflow-v2-fast.safetensors"
WEIGHTS_SUFFIX = ".safetensors"
WEIGHTS_ENV = "FPSBOOST_WEIGHTS_DIR"
INSTALLED_WEIGHTS = Path("share") / "fpsboost" / "weights"  # under the install prefix (setup.cfg's data_files)


def weights_dir() -> Path:
    """Where the shipped weights are: ``$FPSBOOST_WEIGHTS_DIR``; else, in a source checkout (editable
    install), its ``weights/`` folder; else the copy an installed wheel carries (``data_files`` in
    setup.cfg: ``<prefix>/share/fpsboost/weights``)."""
    override = os.environ.get(WEIGHTS_ENV)
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "setup.cfg").is_file() and (checkout / "weights").is_dir():
        return checkout / "weights"
    return Path(sysconfig.get_path("data")) / INSTALLED_WEIGHTS


def find_weights(name_or_path: str | os.PathLike) -> Path:
    """A weights file given as a path, or by the name of a shipped one (``celflow-v2-fast``, with or
    without ``.safetensors``), which is looked up in :func:`weights_dir` when no such path exists."""
    path = Path(name_or_path)
    if path.exists() or path.parent != Path("."):
        return path
    shipped = weights_dir() / (path.name if path.name.endswith(WEIGHTS_SUFFIX) else path.name + WEIGHTS_SUFFIX)
    return shipped if shipped.is_file() else path


def save_weights(model: torch.nn.Module, path: str | os.PathLike, config: dict, version: str, extra: dict | None = None) -> None:
    metadata = {"config": json.dumps(config), "version": version, **{k: str(v) for k, v in (extra or {}).items()}}
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(path), metadata=metadata)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"cannot read weights {path}: {error}") from None


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of an interpolator weights file, by name, without building its network (a network
    whose architecture has grown since can still start from them)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"weights file not found: {path}")
    if "config" not in read_metadata(path):
        raise ModelError(f"{path} is not a fpsboost interpolator (no valid 'config' metadata)")
    try:
        return load_file(str(path))
    except SafetensorError as error:
        raise ModelError(f"cannot read weights {path}: {error}") from None


def load_interpolator(path: str | os.PathLike | None = None) -> CelFlow:
    """Build a :class:`CelFlow` from a weights file (:func:`find_weights`; default: the shipped model), in eval mode."""
    path = find_weights(path) if path else weights_dir() / DEFAULT_INTERPOLATOR_WEIGHTS
    if not path.is_file():
        raise ModelError(f"weights file not found: {path}")
    metadata = read_metadata(path)
    try:
        config = CelFlowConfig.from_dict(json.loads(metadata["config"]))
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{path} is not a fpsboost interpolator (no valid 'config' metadata)") from None
    model = CelFlow(config)
    try:
        model.load_state_dict(load_file(str(path)))
    except (RuntimeError, SafetensorError) as error:
        raise ModelError(f"weights {path} do not fit the network: {str(error).splitlines()[0]}") from None
    return model.eval()

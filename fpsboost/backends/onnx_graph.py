"""The ONNX graph's contract: its inputs and output, the opsets it may use, the metadata it carries and
its version. No torch here: the command line and the onnxruntime backend read these without loading
the network (the export itself is :mod:`fpsboost.backends.export`)."""

from __future__ import annotations

from ..errors import OptionError

# grid_sample exists from opset 16; opset 20 renamed its modes, which broke DirectML and TensorRT 10.13.
SUPPORTED_OPSETS = (16, 17, 18)
DEFAULT_OPSET = 17
DEFAULT_ONNX_NAME = "celflow-v2.onnx"
INPUT_NAMES = ("image0", "image1", "pair_index", "timesteps", "global_shift")
PAIR_FLOWS_INPUT = "pair_flows"  # graphs of networks whose flow_source is "classical" (v2) only
PAIR_ACCELERATIONS_INPUT = "pair_accelerations"  # graphs of networks with motion from four frames only
FLOW_SOURCE_KEY = "flow_source"
NETWORK_STRIDE_KEY = "network_stride"
OUTPUT_NAME = "frames"
INPUT_LAYOUT = "NCHW RGB float32 [0,1]"
VALUE_RANGE = "[0,1]"
UNTRAINED_VERSION = "untrained"
WEIGHTS_HASH_KEY = "weights_sha256"
PRECISION_KEY = "precision"
FLOW_DOWNSCALE_KEY = "flow_downscale"  # baked into the graph: one export per --flow-scale
GRAPH_VERSION_KEY = "graph_version"
# The network's computation apart from its weights. Raise it whenever forward() changes, so that
# cached and shipped exports of unchanged weights are made again. 2: dark pairs are stretched
# before the flow (models/interpolator.py, stretch_dark_contrast); 3: fades and flashes are
# brought to one brightness first (brightness_change); 4: a fifth input, each pair's dominant
# translation, is a second flow candidate (models/global_motion.py); 5: where it carries the pair
# both ways, the in-between is a plain blend of the linear-motion warps; 6: CelFlow v2, whose pair
# flows come from DIS outside the graph as a sixth input, pair_flows (v1 graphs keep five inputs);
# 7: v2 checks its DIS flows' round trip before choosing the translation candidate; 8: a network
# with motion from four frames takes each pair's accelerations as a seventh input (others keep six);
# 9: a pair the translation explains as a whole keeps it wherever it is not clearly worse (rolling
# credits), and a brightness map needs mostly the same lit pixels in both frames; 10: a network
# with motion_to_t "splat" pushes the pair flows forward to t (ScatterElements, opset 16 and later);
# 11: the splat's round-trip weight is exp(-4 d) (was exp(-0.5 d)).
GRAPH_VERSION = 11


def input_names(classical_flow: bool, four_frame_motion: bool = False) -> tuple[str, ...]:
    """The graph's inputs, in order: v2 (``classical_flow``) adds ``pair_flows``, motion from four
    frames ``pair_accelerations``."""
    return (INPUT_NAMES + ((PAIR_FLOWS_INPUT,) if classical_flow else ())
            + ((PAIR_ACCELERATIONS_INPUT,) if classical_flow and four_frame_motion else ()))


def check_opset(opset: int) -> None:
    if opset not in SUPPORTED_OPSETS:
        raise OptionError(
            f"--opset {opset} is not supported: use {SUPPORTED_OPSETS[0]}-{SUPPORTED_OPSETS[-1]} "
            "(grid_sample needs >= 16; opset 20 breaks DirectML and TensorRT)"
        )

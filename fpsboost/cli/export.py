"""``fpsboost export``: the interpolation network as an ONNX graph."""

from __future__ import annotations

import click

from ..backends.base import FLOW_SCALES
from ..backends.onnx_graph import DEFAULT_ONNX_NAME, DEFAULT_OPSET, SUPPORTED_OPSETS


@click.command("export")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=DEFAULT_ONNX_NAME, show_default=True,
              help="Where to write the ONNX model.")
@click.option("--opset", type=int, default=DEFAULT_OPSET, show_default=True,
              help=f"ONNX opset, {SUPPORTED_OPSETS[0]}-{SUPPORTED_OPSETS[-1]}.")
@click.option("--fp16", is_flag=True, help="Store the network in half precision (inputs and outputs stay float32).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None,
              help="Safetensors weights to export (default: the shipped model).")
@click.option("--flow-scale", type=click.Choice(list(FLOW_SCALES)), default="1", show_default=True,
              help="Estimate motion at this fraction of the frame's resolution (fixed in the graph).")
def export_command(out: str, opset: int, fp16: bool, weights: str | None, flow_scale: str) -> None:
    """Export the interpolation network to ONNX (dynamic batch, height and width)."""
    from ..backends.export import ExportSettings, export_onnx

    settings = ExportSettings(out=out, opset=opset, fp16=fp16, weights=weights, flow_scale=flow_scale)
    path = export_onnx(settings.out, weights=settings.weights, opset=settings.opset, fp16=settings.fp16,
                       flow_downscale=FLOW_SCALES[settings.flow_scale])
    size_mb = path.stat().st_size / 1e6
    click.echo(f"wrote {path} ({size_mb:.1f} MB, opset {settings.opset}, {'fp16' if settings.fp16 else 'fp32'})")

"""The command line: ``fpsboost IN OUT ...`` and the commands beside it.

Commands only parse options, call the library and report; nothing in the library imports this
package. Importing it loads no torch, so ``fpsboost --help`` answers at once: each command imports
the library it runs when it runs.
"""

from __future__ import annotations

from .app import main
from .batch import batch_command
from .bench import bench_command
from .export import export_command
from .extrapolate import extrapolate_command
from .train import train_command, train_extrapolator_command
from .upscale import upscale_command

for _command in (upscale_command, extrapolate_command, export_command, train_command, train_extrapolator_command, bench_command,
                 batch_command):
    main.add_command(_command)

__all__ = ["main"]

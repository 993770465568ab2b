"""The ``fpsboost`` command group: the default command, one-line errors, exit codes, signals.

Any :class:`~fpsboost.errors.FpsboostError` from any command becomes one line on stderr
(``fpsboost: error: ...``) and a non-zero exit code; Ctrl-C and SIGTERM stop the job, remove
unfinished output and exit with 130 / 143.
"""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Any, Iterator

import click

from .. import __version__
from ..errors import FpsboostError
from .display import one_line

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_USAGE = 2
DEFAULT_COMMAND = "upscale"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that cleanup runs exactly as for Ctrl-C."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


# glibc malloc's settings (mallopt) for the CLI's process: keep the memory that frames and tensors free
# for the next batch instead of handing it back to the kernel and faulting it in again, zeroed. By
# default a block over the mmap threshold (128 KB, rising as such blocks are freed) is mapped and
# unmapped each time, and the heap is trimmed. Measured on 2 cores, x2 jobs against the defaults
# (benchmarks/speed/RESULTS.md): 4-12 % faster from 854x480 to 3840x2160 (system time at 854x480 1.9 ->
# 1.4 s, at 3840x2160 86 -> 68 s), for 1-11 % more peak memory (854x480 1.38 -> 1.54 GB, 1280x720
# 2.31 -> 2.37 GB, 3840x2160 7.6 -> 8.4 GB). The mmap threshold must be set first: setting any of these turns its
# adaptation off, and with the trim threshold alone every tensor over 128 KB was mapped anew (the
# 854x480 job took 17-20 s instead of 11).
MALLOC_TRIM_THRESHOLD, MALLOC_TOP_PAD, MALLOC_MMAP_THRESHOLD = -1, -2, -3  # mallopt's parameter numbers
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest: a 1920x1080 RGB float frame (25 MB) still fits under it
KEPT_FREE_BYTES = 256 << 20
TOP_PAD_BYTES = 64 << 20


def _keep_freed_memory() -> None:
    """Tune glibc's malloc for this process as above; nothing elsewhere (another libc, another OS)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    if mallopt(MALLOC_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) != 1:
        return
    mallopt(MALLOC_TRIM_THRESHOLD, KEPT_FREE_BYTES)
    mallopt(MALLOC_TOP_PAD, TOP_PAD_BYTES)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class DefaultCommandGroup(click.Group):
    """A click group that sends ``fpsboost IN OUT ...`` to a default command.

    When the first argument is neither a subcommand name nor one of the group's own options, the
    default command's name is put in front of the arguments. The group also turns user errors
    from any subcommand into one line on stderr.
    """

    def __init__(self, *args: Any, default_command: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_command = default_command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        group_options = {name for param in self.get_params(ctx) for name in param.opts + param.secondary_opts}
        if args and args[0] not in self.commands and args[0] not in group_options:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["IN OUT [OPTIONS] | COMMAND [ARGS]..."]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            summary = command.get_short_help_str(limit=formatter.width - 24)
            rows.append((name, f"(default) {summary}" if name == self.default_command else summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        _keep_freed_memory()
        try:
            with _sigterm_raises():
                return super().invoke(ctx)
        except FpsboostError as error:
            click.echo(f"fpsboost: error: {one_line(error)}", err=True)
            ctx.exit(error.exit_code)
        except click.UsageError as error:
            hint = f" (see 'fpsboost {error.ctx.info_name} --help')" if error.ctx and error.ctx.parent else ""
            click.echo(f"fpsboost: error: {one_line(error.format_message())}{hint}", err=True)
            ctx.exit(EXIT_USAGE)
        except Terminated:
            click.echo("fpsboost: terminated; unfinished output removed", err=True)
            ctx.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            click.echo("fpsboost: interrupted; unfinished output removed", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(
    cls=DefaultCommandGroup,
    default_command=DEFAULT_COMMAND,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="fpsboost")
def main() -> None:
    """Frame-rate upscaling for animation with fpsboost's own flow network.

    \b
    fpsboost IN OUT --factor 2        twice the frames, same duration, audio and subtitles kept
    fpsboost IN OUT --fps 60          any target rate (59.94 means 60000/1001)
    fpsboost COMMAND --help           help for a command
    """

"""The one exception type users see: the CLI prints its message on one line and exits non-zero."""


class FpsboostError(Exception):
    """A problem with the user's input, options or environment (not a bug in fpsboost)."""

    exit_code: int = 2


class InputError(FpsboostError):
    """The input file is missing, unreadable, not a video, or has too few frames."""


class OutputError(FpsboostError):
    """The output path cannot be written (exists, same as input, directory not writable)."""


class OptionError(FpsboostError):
    """A command-line option has an invalid value."""


class ModelError(FpsboostError):
    """A model or weights file is missing, corrupt, or has the wrong inputs."""

"""``python -m fpsboost.cli``: the same as the ``fpsboost`` command."""

import sys

from . import main

sys.exit(main())

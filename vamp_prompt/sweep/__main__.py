"""``python -m vamp_prompt.sweep``: see :mod:`vamp_prompt.sweep.cli`."""

import sys

from .cli import main

sys.exit(main())

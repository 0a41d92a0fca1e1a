"""``python -m vamp_prompt.results OUTPUT_ROOT ...`` (see the package docstring)."""

import sys

from .cli import main

sys.exit(main())

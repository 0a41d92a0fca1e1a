"""The README's config table lists every TRAINER.VAMP key with its real default."""

from __future__ import annotations

import os
import re

from vamp_prompt.engine.config import VAMP_KEYS

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def test_readme_config_table_matches_the_declared_keys():
    text = open(README).read()
    rows = dict(re.findall(r"^\| `TRAINER\.VAMP\.([A-Z_]+)` \| `([^`]*)` \|", text, flags=re.M))
    assert set(rows) == set(VAMP_KEYS), set(rows) ^ set(VAMP_KEYS)
    for key, (default, _) in VAMP_KEYS.items():
        assert rows[key] == repr(default), key

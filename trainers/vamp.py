"""Checkout-only shim: ``import trainers.vamp`` registers the VaMP trainer, as in the forks."""

from vamp_prompt.engine import add_vamp_config  # noqa: F401
from vamp_prompt.engine.trainer import VaMP  # noqa: F401

"""Checkout shim: ``EuroSAT`` from :mod:`vamp_prompt.data.readers` (registered by ``datasets``)."""

from vamp_prompt.data.readers import EuroSAT

__all__ = ["EuroSAT"]

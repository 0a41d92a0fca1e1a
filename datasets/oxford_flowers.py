"""Checkout shim: ``OxfordFlowers`` from :mod:`vamp_prompt.data.readers` (registered by ``datasets``)."""

from vamp_prompt.data.readers import OxfordFlowers

__all__ = ["OxfordFlowers"]

"""Checkout shim: ``SUN397`` from :mod:`vamp_prompt.data.readers` (registered by ``datasets``)."""

from vamp_prompt.data.readers import SUN397

__all__ = ["SUN397"]

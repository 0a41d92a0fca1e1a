"""Checkout shim: ``FGVCAircraft`` from :mod:`vamp_prompt.data.readers` (registered by ``datasets``)."""

from vamp_prompt.data.readers import FGVCAircraft

__all__ = ["FGVCAircraft"]

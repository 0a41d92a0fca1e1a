"""Checkout shim: ``Food101`` from :mod:`vamp_prompt.data.readers` (registered by ``datasets``)."""

from vamp_prompt.data.readers import Food101

__all__ = ["Food101"]

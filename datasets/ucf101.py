"""Checkout shim: ``UCF101`` from :mod:`vamp_prompt.data.readers` (registered by ``datasets``)."""

from vamp_prompt.data.readers import UCF101

__all__ = ["UCF101"]

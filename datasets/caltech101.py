"""Checkout shim: ``Caltech101`` from :mod:`vamp_prompt.data.readers` (registered by ``datasets``)."""

from vamp_prompt.data.readers import Caltech101

__all__ = ["Caltech101"]

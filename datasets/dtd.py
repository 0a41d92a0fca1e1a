"""Checkout shim: ``DescribableTextures`` from :mod:`vamp_prompt.data.readers` (registered by ``datasets``)."""

from vamp_prompt.data.readers import DescribableTextures

__all__ = ["DescribableTextures"]

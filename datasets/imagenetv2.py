"""Checkout shim: ``ImageNetV2`` from :mod:`vamp_prompt.data.imagenet` (registered by ``datasets``)."""

from vamp_prompt.data.imagenet import ImageNetV2

__all__ = ["ImageNetV2"]

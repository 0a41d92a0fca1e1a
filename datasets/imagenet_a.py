"""Checkout shim: ``ImageNetA`` from :mod:`vamp_prompt.data.imagenet` (registered by ``datasets``)."""

from vamp_prompt.data.imagenet import ImageNetA

__all__ = ["ImageNetA"]

"""Checkout shim: ``ImageNetR`` from :mod:`vamp_prompt.data.imagenet` (registered by ``datasets``)."""

from vamp_prompt.data.imagenet import ImageNetR

__all__ = ["ImageNetR"]

"""Checkout shim: ``ImageNetSketch`` from :mod:`vamp_prompt.data.imagenet` (registered by ``datasets``)."""

from vamp_prompt.data.imagenet import ImageNetSketch

__all__ = ["ImageNetSketch"]

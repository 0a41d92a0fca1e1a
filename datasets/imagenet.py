"""Checkout shim: ``ImageNet`` from :mod:`vamp_prompt.data.imagenet` (registered by ``datasets``)."""

from vamp_prompt.data.imagenet import ImageNet

__all__ = ["ImageNet"]

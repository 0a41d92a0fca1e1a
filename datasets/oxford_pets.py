"""Checkout shim: ``OxfordPets`` from :mod:`vamp_prompt.data.readers` (registered by ``datasets``)."""

from vamp_prompt.data.readers import OxfordPets

__all__ = ["OxfordPets"]

"""Checkout shim: ``StanfordCars`` from :mod:`vamp_prompt.data.readers` (registered by ``datasets``)."""

from vamp_prompt.data.readers import StanfordCars

__all__ = ["StanfordCars"]

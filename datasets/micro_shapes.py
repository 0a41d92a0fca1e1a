"""Checkout shim: ``MicroShapes`` (the project's micro benchmark) from :mod:`vamp_prompt.data.readers`."""

from vamp_prompt.data.readers import MicroShapes

__all__ = ["MicroShapes"]

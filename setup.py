"""Shim for the Dassl/CoOp family's habits (``python setup.py develop``, ``pip install -e .`` with
old pips): the metadata, dependencies and extras all live in pyproject.toml."""

from setuptools import setup

setup()

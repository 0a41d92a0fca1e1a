"""Checkout shim: ``import datasets.<name>`` as in the CoOp/MaPLe/MMRL forks.

Importing this package registers vamp_prompt's CoOp-format readers in Dassl's
``DATASET_REGISTRY`` (names already registered, e.g. by a fork, are kept).
The real code lives in :mod:`vamp_prompt.data`; this folder is not installed.
"""

from vamp_prompt.data import register_datasets

REGISTERED = register_datasets()

"""Dassl integration. Importing :mod:`vamp_prompt.engine.trainer` registers ``VaMP`` in Dassl's
``TRAINER_REGISTRY``; :func:`add_vamp_config` declares its config keys (both need Dassl/yacs).
"""

from .config import VAMP_KEYS, add_vamp_config, resolved_dataset_settings, vamp_config_from_cfg

__all__ = ["VAMP_KEYS", "add_vamp_config", "resolved_dataset_settings", "vamp_config_from_cfg", "register"]


def register() -> type:
    """Import the trainer module (registering ``VaMP`` once) and return the class."""
    from .trainer import VaMP

    return VaMP

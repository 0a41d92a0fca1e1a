"""Opt-in run-time fixes that let a host fork's own Dassl trainers run on current PyTorch.

VaMP does not need this module: its trainer brings its own schedule and checkpoints. A MaPLe,
MMRL or CoOp fork's own trainers use Dassl 0.6.3's warm-up schedulers and checkpoints, which
current torch breaks. Call :func:`patch_dassl_for_modern_torch` once in the fork's ``train.py``
to repair them in memory; Dassl's files are never edited::

    from vamp_prompt.compat import patch_dassl_for_modern_torch
    patch_dassl_for_modern_torch()

What it replaces, each only where it is needed (see :data:`PATCHES`):

``warmup_init``
    ``dassl.optim.lr_scheduler._BaseWarmupScheduler.__init__``, when torch's ``LRScheduler``
    no longer takes ``verbose`` (torch >= 2.7). Dassl passes it, so ``build_lr_scheduler``
    raises ``TypeError`` for every config with ``OPTIM.WARMUP_EPOCH > 0``. The replacement sets
    the same attributes and calls ``LRScheduler.__init__`` without ``verbose``.
``warmup_state``
    ``_BaseWarmupScheduler.state_dict`` / ``load_state_dict``, when ``torch.load`` defaults to
    ``weights_only=True`` (torch >= 2.6). Dassl's state holds the wrapped cosine/step scheduler
    as a pickled object, which such a ``torch.load`` refuses (resume, ``--eval-only``). The
    replacement stores that scheduler's own ``state_dict()`` (plain numbers) and loads either
    form. Checkpoints written without this patch still need a trusted-file load, e.g.
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``.
``load_model_none``
    ``dassl.engine.trainer.TrainerBase.load_model``, which formats ``val_result`` with ``:.1f``
    and so crashes on checkpoints saved without one (``None``: every last-epoch checkpoint).
    The replacement loads the same file the same way and prints ``val_result=None``. This is
    a Dassl bug on every torch; trainers that override ``load_model`` (MaPLe's, MMRL's) are
    not affected by it.

On torch < 2.6 only ``load_model_none`` applies: Dassl's schedulers and checkpoints are left
exactly as they are.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Callable, Dict, List, Tuple

import torch

__all__ = ["PATCHES", "load_defaults_to_weights_only", "patch_dassl_for_modern_torch", "scheduler_takes_verbose"]

#: Name -> what it replaces (documented above).
PATCHES: Tuple[str, ...] = ("warmup_init", "warmup_state", "load_model_none")

_MARK = "_vamp_compat"


def _marked(fn: Callable[..., Any]) -> Callable[..., Any]:
    setattr(fn, _MARK, True)
    return fn


def _is_patched(cls: type, attr: str) -> bool:
    return bool(getattr(cls.__dict__.get(attr), _MARK, False))


def scheduler_takes_verbose() -> bool:
    """Whether torch's ``LRScheduler.__init__`` still accepts ``verbose`` (torch < 2.7)."""
    from torch.optim.lr_scheduler import LRScheduler

    return "verbose" in inspect.signature(LRScheduler.__init__).parameters


def load_defaults_to_weights_only() -> bool:
    """Whether ``torch.load`` reads with ``weights_only=True`` unless told otherwise (>= 2.6)."""
    return torch.__version__ >= (2, 6)  # TorchVersion compares with tuples


def _patch_warmup_init(cls: type) -> None:
    base = cls.__mro__[1]  # torch's _LRScheduler / LRScheduler

    @_marked
    def __init__(
        self: Any, optimizer: Any, successor: Any, warmup_epoch: int, last_epoch: int = -1, verbose: bool = False
    ) -> None:
        self.successor = successor
        self.warmup_epoch = warmup_epoch
        base.__init__(self, optimizer, last_epoch)  # `verbose` is gone from torch: dropped

    cls.__init__ = __init__


def _patch_warmup_state(cls: type) -> None:
    base = cls.__mro__[1]

    @_marked
    def state_dict(self: Any) -> Dict[str, Any]:
        state = base.state_dict(self)
        state["successor"] = self.successor.state_dict()
        return state

    @_marked
    def load_state_dict(self: Any, state_dict: Dict[str, Any]) -> None:
        state = dict(state_dict)
        successor = state.pop("successor", None)
        if successor is not None:  # a dict from the patched state_dict, or Dassl's pickled object
            self.successor.load_state_dict(successor if isinstance(successor, dict) else successor.state_dict())
        base.load_state_dict(self, state)

    cls.state_dict = state_dict
    cls.load_state_dict = load_state_dict


def _patch_load_model(cls: type) -> None:
    @_marked
    def load_model(self: Any, directory: str, epoch: Any = None) -> None:
        from dassl.utils import load_checkpoint

        if not directory:
            print("load_model(): no model directory given, so no weights are loaded")
            return
        filename = "model-best.pth.tar" if epoch is None else f"model.pth.tar-{epoch}"
        for name in self.get_model_names():
            path = os.path.join(directory, name, filename)
            if not os.path.exists(path):
                raise FileNotFoundError(f"No model at {path}")
            checkpoint = load_checkpoint(path)
            val = checkpoint.get("val_result")
            shown = "None" if val is None else f"{val:.1f}"
            print(f"Load {path} to {name} (epoch={checkpoint['epoch']}, val_result={shown})")
            self._models[name].load_state_dict(checkpoint["state_dict"])

    cls.load_model = load_model


def patch_dassl_for_modern_torch() -> List[str]:
    """Repair Dassl 0.6.3 in memory for the running torch (module docstring); idempotent.

    Returns the names (from :data:`PATCHES`) applied by this call: those the running torch
    needs and that were not applied before. Raises ``ImportError`` without Dassl.
    """
    try:
        from dassl.engine.trainer import TrainerBase
        from dassl.optim.lr_scheduler import _BaseWarmupScheduler
    except ImportError as err:
        raise ImportError(
            f"patch_dassl_for_modern_torch() needs Dassl ({err}); install it as the README says."
        ) from err
    wanted = [
        ("warmup_init", not scheduler_takes_verbose(), _BaseWarmupScheduler, "__init__", _patch_warmup_init),
        ("warmup_state", load_defaults_to_weights_only(), _BaseWarmupScheduler, "state_dict", _patch_warmup_state),
        ("load_model_none", True, TrainerBase, "load_model", _patch_load_model),
    ]
    done: List[str] = []
    for name, needed, cls, attr, patch in wanted:
        if needed and not _is_patched(cls, attr):
            patch(cls)
            done.append(name)
    return done

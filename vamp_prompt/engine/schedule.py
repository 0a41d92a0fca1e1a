"""Epoch-level learning-rate schedule with warm-up, independent of torch's scheduler classes.

Dassl 0.6.3's warm-up schedulers pass ``verbose`` to ``LRScheduler`` (removed in torch 2.7) and
pickle whole scheduler objects into checkpoints (refused by ``torch.load(weights_only=True)``).
This schedule has a plain-number state and follows Dassl's cosine + warm-up (with
WARMUP_RECOUNT, the default of the family's configs):

    lr(e) = warmup_lr                                      for e < W  (constant warm-up)
          = warmup_lr if e == 0 else base * e / W          for e < W  (linear warm-up)
          = 0.5 * base * (1 + cos(pi * (e - W') / E))      otherwise, W' = W if recount else 0
"""

from __future__ import annotations

import math
from typing import Dict, List

import torch


class WarmupCosineSchedule:
    """Epoch-level cosine schedule with an optional constant or linear warm-up (see above)."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        max_epoch: int,
        warmup_epoch: int = 0,
        warmup_type: str = "constant",
        warmup_lr: float = 1e-5,
        recount: bool = True,
    ):
        if warmup_type not in ("constant", "linear"):
            raise ValueError(f"OPTIM.WARMUP_TYPE must be constant or linear, got {warmup_type!r}")
        self.optimizer = optimizer
        self.max_epoch = max(1, int(max_epoch))
        self.warmup_epoch = max(0, int(warmup_epoch))
        self.warmup_type = warmup_type
        self.warmup_lr = float(warmup_lr)
        self.recount = bool(recount)
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.epoch = 0
        self._apply()

    def lr_at(self, epoch: int) -> List[float]:
        if epoch < self.warmup_epoch:
            if self.warmup_type == "constant":
                return [self.warmup_lr for _ in self.base_lrs]
            return [self.warmup_lr if epoch == 0 else b * epoch / self.warmup_epoch for b in self.base_lrs]
        t = epoch - self.warmup_epoch if self.recount else epoch
        return [0.5 * b * (1.0 + math.cos(math.pi * t / self.max_epoch)) for b in self.base_lrs]

    def _apply(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self.lr_at(self.epoch)):
            group["lr"] = lr

    def step(self) -> None:
        self.epoch += 1
        self._apply()

    def get_last_lr(self) -> List[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> Dict[str, object]:
        return {"epoch": self.epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        self.epoch = int(state["epoch"])
        self.base_lrs = [float(x) for x in state["base_lrs"]]
        self._apply()


def validate_optim(optim_cfg) -> None:
    """Refuse OPTIM settings VaMP does not implement, before any data is loaded."""
    if optim_cfg.NAME.lower() not in ("adamw", "adam", "sgd"):
        raise ValueError(f"OPTIM.NAME {optim_cfg.NAME!r} is not supported by VaMP: use adamw, adam or sgd")
    if optim_cfg.LR_SCHEDULER != "cosine":
        raise ValueError(f"OPTIM.LR_SCHEDULER {optim_cfg.LR_SCHEDULER!r} is not supported by VaMP: use cosine")
    if optim_cfg.WARMUP_EPOCH > 0 and optim_cfg.WARMUP_TYPE not in ("constant", "linear"):
        raise ValueError(f"OPTIM.WARMUP_TYPE must be constant or linear, got {optim_cfg.WARMUP_TYPE!r}")


def build_optimizer(params, optim_cfg) -> torch.optim.Optimizer:
    """AdamW (the VaMP/MMRL choice), Adam or SGD from Dassl's OPTIM keys."""
    name = optim_cfg.NAME.lower()
    lr, wd = float(optim_cfg.LR), float(optim_cfg.WEIGHT_DECAY)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, betas=(optim_cfg.ADAM_BETA1, optim_cfg.ADAM_BETA2))
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd, betas=(optim_cfg.ADAM_BETA1, optim_cfg.ADAM_BETA2))
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd, momentum=optim_cfg.MOMENTUM)
    raise ValueError(f"OPTIM.NAME {optim_cfg.NAME!r} is not supported by VaMP: use adamw, adam or sgd")


def build_schedule(optimizer: torch.optim.Optimizer, optim_cfg) -> WarmupCosineSchedule:
    if optim_cfg.LR_SCHEDULER != "cosine":
        raise ValueError(f"OPTIM.LR_SCHEDULER {optim_cfg.LR_SCHEDULER!r} is not supported by VaMP: use cosine")
    return WarmupCosineSchedule(
        optimizer,
        optim_cfg.MAX_EPOCH,
        max(0, optim_cfg.WARMUP_EPOCH),
        optim_cfg.WARMUP_TYPE,
        optim_cfg.WARMUP_CONS_LR if optim_cfg.WARMUP_TYPE == "constant" else optim_cfg.WARMUP_MIN_LR,
        optim_cfg.WARMUP_RECOUNT,
    )

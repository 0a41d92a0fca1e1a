"""Class prototypes for the class-aware prior, from features computed once, offline.

The paper: "per-class prototypes o_y are computed as the mean of posterior means for samples in
each class, then mapped to prior distribution parameters via layer-specific prior networks
psi_i", and "class prototypes are computed offline with the frozen encoder prior to training".
Both hold with: the frozen CLIP features f_j of the training images are computed once before
training (:func:`frozen_image_features`); the prototype of class y at prompt slot i is

    o_{y,i} = mean_{j : y_j = y} mu_i(f_j)            (``prior_code = posterior_mean``)

recomputed with the current posterior network at every step (16 shots x the batch's classes
through a small MLP). Gradients flow through o_{y,i} only with ``prototype_grad``; by default the
prototype is a target (stop-gradient), so the KL moves the posterior towards the class's prior
rather than moving the class's prototype. Other codes: ``prototype`` = normalise(mean_j f_j),
``prototype_instance`` = normalise(mean_j f_j + f_x).
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F


class PrototypeBank(nn.Module):
    """The normalised frozen features of the training images and their labels (buffers)."""

    def __init__(self, feature_dim: int):
        super().__init__()
        self.register_buffer("features", torch.zeros(0, feature_dim), persistent=False)
        self.register_buffer("labels", torch.zeros(0, dtype=torch.long), persistent=False)
        self.num_classes = 0

    @property
    def empty(self) -> bool:
        return self.features.shape[0] == 0

    def set(self, features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
        """``features`` (N, E) frozen image features of the training images, ``labels`` (N,)."""
        labels = labels.long().cpu()
        missing = sorted(set(range(num_classes)) - set(labels.tolist()))
        if missing:
            raise ValueError(
                f"no training images for classes {missing}: cannot build the class-aware prior's prototypes"
            )
        device = self.features.device
        self.features = F.normalize(features.detach().float(), dim=-1).to(device)
        self.labels = labels.to(device)
        self.num_classes = num_classes

    def mean_features(self, classes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mean normalised frozen feature per class, (C, E) (or of ``classes`` only)."""
        self._check()
        sums = torch.zeros(self.num_classes, self.features.shape[1], device=self.features.device)
        sums.index_add_(0, self.labels, self.features)
        counts = torch.bincount(self.labels, minlength=self.num_classes).clamp_min(1)
        means = sums / counts[:, None]
        return means if classes is None else means[classes]

    def members(self, classes: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Features of the training images of ``classes`` (unique, (U,)), and for each of them
        the position of its class in ``classes``."""
        self._check()
        hit = self.labels[:, None] == classes[None, :]  # (N, U)
        rows, which = torch.nonzero(hit, as_tuple=True)
        return self.features[rows], which

    def _check(self) -> None:
        if self.empty:
            raise RuntimeError(
                "the class-aware prior needs the training images' frozen features: "
                "call set_prototype_features() (see frozen_image_features) first"
            )


def class_means(values: torch.Tensor, group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Mean of ``values`` (N, ...) over each group id in ``group`` (N,) -> (n_groups, ...)."""
    flat = values.reshape(values.shape[0], -1)
    sums = torch.zeros(n_groups, flat.shape[1], device=values.device, dtype=values.dtype)
    sums = sums.index_add(0, group, flat)
    counts = torch.bincount(group, minlength=n_groups).clamp_min(1).to(values.dtype)
    return (sums / counts[:, None]).reshape(n_groups, *values.shape[1:])


@torch.no_grad()
def frozen_image_features(
    encode: "callable", batches: Iterable[Tuple[torch.Tensor, torch.Tensor]]
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The offline pass: normalised frozen features (N, E) and labels (N,) of the training images.

    ``encode(images) -> (B, E)`` is the frozen zero-shot image encoder; ``batches`` yields
    (images, labels) with the test-time transform (no augmentation).
    """
    feats: List[torch.Tensor] = []
    labels: List[torch.Tensor] = []
    for images, y in batches:
        feats.append(F.normalize(encode(images).float(), dim=-1).cpu())
        labels.append(y.cpu().long())
    if not feats:
        raise ValueError("no training images: cannot build the class-aware prior's prototypes")
    return torch.cat(feats), torch.cat(labels)


def class_codes(
    mode: str,
    bank: PrototypeBank,
    labels: torch.Tensor,
    image_code: torch.Tensor,
    posterior_means: "callable",
    prototype_grad: bool = False,
) -> torch.Tensor:
    """The prior's input c_y for each image of the batch.

    Returns (B, E) for ``prototype`` / ``prototype_instance`` (the same code for every slot), or
    (P, B, T, D) for ``posterior_mean`` (slot i's prototype mean_j mu_i(f_j) over class y_b).
    ``posterior_means(features (N, E)) -> (P, N, T, D)`` is the current posterior mean network.
    """
    if mode in ("prototype", "prototype_instance"):
        code = bank.mean_features(labels)
        if mode == "prototype_instance":
            code = code + image_code.float()
        return F.normalize(code, dim=-1)
    if mode != "posterior_mean":
        raise ValueError(f"unknown prior code {mode!r}")
    classes, inverse = torch.unique(labels, return_inverse=True)
    features, which = bank.members(classes)
    with torch.set_grad_enabled(prototype_grad and torch.is_grad_enabled()):
        means = posterior_means(features)  # (P, N, T, D)
        protos = class_means(means.transpose(0, 1), which, classes.numel()).transpose(0, 1)
    return protos[:, inverse] if prototype_grad else protos[:, inverse].detach()

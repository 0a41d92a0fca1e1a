"""The text tower over many (prompt set, class) pairs, in flattened chunks of bounded memory.

Evaluation runs the text tower on B x S x C sequences (one prompt set per image and sample). The
class prompts come bucketed by length with their prompt-free prefix states cached
(:class:`~vamp_prompt.towers.ClassBuckets`); the remaining blocks run on flattened chunks of
pairs sized from a memory budget, and an optional ``reduce`` turns each chunk's features into a
few numbers per pair at once, so memory does not grow with the class count. In training, chunks
are recomputed in the backward pass (checkpointing).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch.utils.checkpoint import checkpoint

from . import text_rows
from .towers import ClassBuckets, PromptedTextTower

SPLIT, JOINED = "split", "joined"
Reduce = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def compute_dtype(states: torch.Tensor) -> torch.dtype:
    device = states.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else states.dtype


def sequences_per_chunk(
    tower: PromptedTextTower, seq_len: int, dtype: torch.dtype, grad: bool, budget_mb: float
) -> int:
    """How many text sequences fit the activation budget ``budget_mb``.

    Per sequence and block: about 16 width-sized vectors per token (norms, q/k/v, attention
    output, 4x MLP hidden, residual) plus the heads x L x L attention scores; in training the
    recomputed chunk keeps every prompted block's activations alive for the backward pass.
    """
    width = tower.width
    heads = tower.transformer.resblocks[0].attn.num_heads
    elem = torch.finfo(dtype).bits // 8 if dtype.is_floating_point else 4
    per_block = (16 * seq_len * width + 2 * heads * seq_len * seq_len) * elem
    prompted_blocks = tower.depth - tower.layout.first if tower.layout.has_prompts else 1
    blocks = max(1, prompted_blocks) if grad else 2
    return max(1, int(budget_mb * 2**20 // (per_block * blocks)))


def encode_text_sets(
    tower: PromptedTextTower,
    buckets: ClassBuckets,
    prompt_sets: Optional[torch.Tensor],
    budget_mb: float,
    reduce: Optional[Reduce] = None,
    method: str = SPLIT,
) -> torch.Tensor:
    """Text of every (prompt set, class) pair: prompt_sets (P, M, K, D) -> (M, C, E or k).

    ``prompt_sets=None`` encodes the classes without prompts (M = 1). Within each length bucket
    the M x C_b sequences are processed as flattened chunks (pair i = set i // C_b, class
    i % C_b). ``reduce(features (n, E), set_index (n,), class_index (n,)) -> (n, k)`` is applied
    inside each chunk, so only k numbers per pair outlive it.

    ``method``: ``split`` (default) runs the rows every class shares once and only the class rows
    per pair (:mod:`vamp_prompt.text_rows`); ``joined`` runs whole sequences per pair (the
    previous fast path, kept for the benchmark's before/after comparison). Both are exact.
    """
    if method not in (SPLIT, JOINED):
        raise ValueError(f"text pass method must be {SPLIT!r} or {JOINED!r}, got {method!r}")
    split = method == SPLIT and prompt_sets is not None and tower.layout.has_prompts
    n_sets = 1 if prompt_sets is None else prompt_sets.shape[1]
    n_prompt = tower.shift(prompt_sets)
    grad = torch.is_grad_enabled() and prompt_sets is not None and prompt_sets.requires_grad
    pieces = [
        (
            index,
            prefix,
            sequences_per_chunk(
                tower, prefix.states.shape[0] + n_prompt, compute_dtype(prefix.states), grad, budget_mb
            ),
        )
        for index, prefix in buckets.buckets
    ]
    use_checkpoint = grad and sum(-(-n_sets * index.numel() // chunk) for index, _, chunk in pieces) > 1

    shared = None
    if split:  # rows every class shares: once per forward, outside the (recomputed) chunks
        sos, _ = tower.split_inputs(buckets.buckets[0][1], n_prompt)
        shared = text_rows.shared_rows(tower, sos, prompt_sets)

    values, slots = [], []
    for class_index, prefix, chunk in pieces:
        n_local = class_index.numel()
        rows = text_rows.class_rows(tower, prefix, n_prompt) if split else None

        def run(
            pair: torch.Tensor,
            sets: Optional[torch.Tensor],
            prefix=prefix,
            class_index=class_index,
            n_local=n_local,
            rows=rows,
        ) -> torch.Tensor:
            set_index = pair // n_local
            if rows is not None:
                feats = text_rows.class_features(tower, rows, shared, pair % n_local, set_index)
            else:
                feats = tower.from_prefix(prefix, pair % n_local, sets, None if sets is None else set_index)
            if reduce is None:
                return feats
            return reduce(feats, set_index, class_index[pair % n_local])

        for start in range(0, n_sets * n_local, chunk):
            pair = torch.arange(start, min(start + chunk, n_sets * n_local), device=class_index.device)
            if use_checkpoint:
                values.append(checkpoint(run, pair, prompt_sets, use_reentrant=False))
            else:
                values.append(run(pair, prompt_sets))
            slots.append((pair // n_local) * buckets.num_classes + class_index[pair % n_local])
    order = torch.argsort(torch.cat(slots))
    return torch.cat(values)[order].reshape(n_sets, buckets.num_classes, -1)

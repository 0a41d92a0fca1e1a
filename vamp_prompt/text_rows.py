"""The prompted text blocks in split view: shared rows once, class rows per (prompt set, class).

From the first prompted block on, a text sequence is [SOS, K prompt rows, T class rows] (T =
the class prompt's EOT position; later tokens are never read). The tower is causal, so

* the SOS row sees only itself: its state at every block is one (1, D) row for all sequences;
* the prompt rows see SOS and themselves: their keys and values depend on the prompt set only,
  so ``ln_1`` and the k/v projections run once per prompt set and block (M sets), not once per
  (set, class) pair; their outputs are computed only where the next block reads them (no slot
  replaces them there); after the last block only EOT is read;
* per pair, only the T class rows run: queries over [SOS, prompt rows, own rows <= itself];
  at the first prompted block their input does not depend on the prompt set, so their ``ln_1``
  and q/k/v projections are computed once per class; at the last block only the EOT row's
  query, attention output and MLP are computed.

All of it is exact (same weights, same operations per row); :func:`shared_rows` runs once per
forward, :func:`class_features` once per chunk of pairs (see :mod:`vamp_prompt.text_pass`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import torch

from .block_parts import context_mask, feed_forward, projections, rows_block
from .towers import PromptedTextTower, TextPrefix


@dataclass
class SharedRows:
    """Keys and values [k | v] of the rows every class shares, per prompted block: (M, 1 + K, 2D)
    for M prompt sets (SOS first, then the K prompt rows)."""

    kv: List[torch.Tensor]


@dataclass
class ClassRows:
    """One length bucket's class rows at the input of the first prompted block (C_b, T, D), and
    their q/k/v there (C_b, T, 3D), which no prompt set changes."""

    rows: torch.Tensor
    first_qkv: torch.Tensor


def shared_rows(tower: PromptedTextTower, sos: torch.Tensor, prompts: torch.Tensor) -> SharedRows:
    """Keys/values of SOS and of each prompt set's rows at every prompted block.

    ``sos`` (1, D) at the input of the first prompted block; ``prompts`` (P, M, K, D).
    The SOS row attends to itself alone, so its attention output is its own value projected.
    """
    layout, blocks = tower.layout, tower.transformer.resblocks
    depth, width = tower.depth, tower.width
    n_sets, k = prompts.shape[1], prompts.shape[2]
    mask = context_mask(k, 1, prompts.device)
    rows: Optional[torch.Tensor] = None
    kv = []
    for index in range(layout.first, depth):
        block = blocks[index]
        injected = tower.prompt_rows(index, prompts)
        rows = injected.to(sos.dtype) if injected is not None else rows
        is_read = index + 1 < depth and layout.slot(index + 1) is None
        sos_qkv = projections(block, block.ln_1(sos))  # (1, 3D)
        prompt_proj = projections(block, block.ln_1(rows), "qkv" if is_read else "kv")
        prompt_kv = prompt_proj[..., width:] if is_read else prompt_proj
        kv.append(torch.cat([sos_qkv[None, :, width:].expand(n_sets, -1, -1).to(prompt_kv.dtype), prompt_kv], dim=1))
        if is_read:  # the next block carries these rows forward and attends to them
            rows = rows_block(block, rows, prompt_proj[..., :width], kv[-1], mask)
        if index + 1 < depth:
            attn = block.attn
            value = sos_qkv[:, 2 * width :]
            sos = feed_forward(block, sos + torch.nn.functional.linear(value, attn.out_proj.weight, attn.out_proj.bias))
    return SharedRows(kv=kv)


def class_rows(tower: PromptedTextTower, prefix: TextPrefix, n_prompt: int) -> ClassRows:
    """A bucket's class rows and their first-block q/k/v (once per forward and bucket)."""
    _, rows = tower.split_inputs(prefix, n_prompt)
    block = tower.transformer.resblocks[tower.layout.first]
    return ClassRows(rows=rows, first_qkv=projections(block, block.ln_1(rows)))


def class_features(
    tower: PromptedTextTower, bucket: ClassRows, shared: SharedRows, class_index: torch.Tensor, set_index: torch.Tensor
) -> torch.Tensor:
    """Text features (N, E) of the pairs (class_index[i] of the bucket, prompt set set_index[i]).

    The bucket's classes share one length, so EOT is the last class row.
    """
    blocks, width = tower.transformer.resblocks, tower.width
    first, depth = tower.layout.first, tower.depth
    x = bucket.rows[class_index]  # (N, T, D)
    mask = context_mask(x.shape[1], shared.kv[0].shape[1], x.device)
    for index in range(first, depth):
        block = blocks[index]
        context = shared.kv[index - first][set_index]
        last = index == depth - 1
        if index == first:
            qkv = bucket.first_qkv[class_index]
            q, own_kv = qkv[..., :width], qkv[..., width:]
        else:
            h = block.ln_1(x)
            if last:
                own_kv, q = projections(block, h, "kv"), None
            else:
                qkv = projections(block, h)
                q, own_kv = qkv[..., :width], qkv[..., width:]
        kv = torch.cat([context, own_kv.to(context.dtype)], dim=1)
        if not last:
            x = rows_block(block, x, q, kv, mask)
            continue
        # Only the EOT row (the last one) is read after the last block: it sees every row.
        eot = x[:, -1:]
        q = q[:, -1:] if q is not None else projections(block, block.ln_1(eot), "q")
        y = rows_block(block, eot, q, kv)[:, 0]
        return tower.ln_final(y) @ tower.text_projection
    raise AssertionError("unreachable: the last block returns")

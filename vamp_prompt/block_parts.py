"""CLIP's pre-norm residual block taken apart, for passes that evaluate only some of its rows.

A CLIP ``ResidualAttentionBlock`` computes, for rows x and the keys/values of the rows they may
attend to,

    y = x + W_o softmax(q k^T / sqrt(d_h) + mask) v + b_o,     q, k, v = ln_1(.) W_{q,k,v}^T + b
    out = y + c_proj(QuickGELU(c_fc(ln_2(y))))

Nothing here requires the queries, keys and values to come from the same rows: the split-view
text pass (:mod:`vamp_prompt.text_rows`) feeds keys and values computed once per prompt set next
to those of each (prompt set, class) pair. The block's own weights are used, so results equal
the block's ``forward`` up to floating-point rounding. Layout is batch-first: (N, rows, D).
"""

from __future__ import annotations

import weakref
from typing import Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F


def projections(block: nn.Module, h: torch.Tensor, what: str = "qkv") -> torch.Tensor:
    """``h`` (already ``ln_1``-normed) through the packed in-projection: ``qkv`` -> (..., 3D),
    ``kv`` -> (..., 2D) [k | v], ``q`` -> (..., D). One matrix product each."""
    attn = block.attn
    d = attn.embed_dim
    rows = {"qkv": slice(0, 3 * d), "kv": slice(d, 3 * d), "q": slice(0, d)}[what]
    return F.linear(h, attn.in_proj_weight[rows], attn.in_proj_bias[rows])


def attend(block: nn.Module, q: torch.Tensor, kv: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Multi-head attention of queries q (N, Lq, D) over kv (N, Lk, 2D) = [keys | values],
    then the output projection: (N, Lq, D). ``mask`` (Lq, Lk) bool, True = may attend."""
    attn = block.attn
    n, lq, d = q.shape
    heads = attn.num_heads
    q = q.view(n, lq, heads, d // heads).transpose(1, 2)
    k = kv[..., :d].view(n, -1, heads, d // heads).transpose(1, 2)
    v = kv[..., d:].view(n, -1, heads, d // heads).transpose(1, 2)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    out = out.transpose(1, 2).reshape(n, lq, d)
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


#: CLIP's QuickGELU(h) = h sigmoid(a h) with a = 1.702, i.e. SiLU(a h) / a.
QUICK_GELU_A = 1.702
_SILU_WEIGHTS: "weakref.WeakKeyDictionary[nn.Module, tuple]" = weakref.WeakKeyDictionary()


def silu_weights(mlp: nn.Module) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(a W_fc, a b_fc, W_proj / a) of a frozen MLP, kept until the weights change, so that

        c_proj(QuickGELU(c_fc(x))) = (W_proj / a) SiLU(x (a W_fc)^T + a b_fc) + b_proj,

    one fused in-place SiLU instead of a multiply, a sigmoid and a product."""
    fc, proj = mlp.c_fc, mlp.c_proj
    key = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in (fc.weight, fc.bias, proj.weight))
    cached = _SILU_WEIGHTS.get(mlp)
    if cached is None or cached[0] != key:
        with torch.no_grad():
            cached = (key, (fc.weight * QUICK_GELU_A, fc.bias * QUICK_GELU_A, proj.weight / QUICK_GELU_A))
        _SILU_WEIGHTS[mlp] = cached
    return cached[1]


def feed_forward(block: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """The block's second half: y + c_proj(QuickGELU(c_fc(ln_2(y)))).

    With frozen weights the activation is one in-place SiLU on rescaled weights
    (:func:`silu_weights`); it is done out of place where autograd needs the input.
    """
    mlp = block.mlp
    h = block.ln_2(y)
    if any(p.requires_grad for p in mlp.parameters()):
        hidden = F.linear(h, mlp.c_fc.weight, mlp.c_fc.bias)
        hidden = hidden * torch.sigmoid(QUICK_GELU_A * hidden)
        return y + F.linear(hidden, mlp.c_proj.weight, mlp.c_proj.bias)
    fc_weight, fc_bias, proj_weight = silu_weights(mlp)
    hidden = F.linear(h, fc_weight, fc_bias)
    hidden = F.silu(hidden, inplace=not hidden.requires_grad)
    return y + F.linear(hidden, proj_weight, mlp.c_proj.bias)


def rows_block(
    block: nn.Module, x: torch.Tensor, q: torch.Tensor, kv: torch.Tensor, mask: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Output of the block at rows x (N, Lq, D) whose queries are q, attending over kv."""
    return feed_forward(block, x + attend(block, q, kv, mask))


def context_mask(n_rows: int, n_context: int, device: torch.device) -> torch.Tensor:
    """(n_rows, n_context + n_rows) bool: every row sees all context keys and, causally, the rows
    up to itself."""
    own = torch.ones(n_rows, n_rows, dtype=torch.bool, device=device).tril_()
    return torch.cat([torch.ones(n_rows, n_context, dtype=torch.bool, device=device), own], 1)

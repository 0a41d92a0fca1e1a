"""Prompted forward passes over CLIP's frozen towers: the one place where prompts are injected.

Both towers reuse CLIP's own modules (embeddings, residual blocks, norms, projections); only the
order of operations is ours. Sequences are kept in CLIP's (length, batch, width) layout.

Injection rule (MMRL/VaMP): at the first prompt layer the K prompt tokens are *inserted* right
after the first token (CLS for vision, SOS for text); at every later prompt layer they *replace*
the tokens at positions 1..K. Positional embeddings are added only at the input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from torch import nn


def inject_prompts(x: torch.Tensor, prompts: torch.Tensor, insert: bool) -> torch.Tensor:
    """Put K prompt tokens after position 0 of every sequence.

    Args:
        x: hidden states (L, N, D).
        prompts: (N, K, D) or (K, D) (shared by all N sequences).
        insert: True at the first prompt layer (length grows to L + K), False to replace x[1:1+K].
    """
    n = x.shape[1]
    if prompts.dim() == 2:
        prompts = prompts.unsqueeze(0).expand(n, -1, -1)
    tokens = prompts.transpose(0, 1).to(x.dtype)  # (K, N, D)
    tail = x[1:] if insert else x[1 + tokens.shape[0]:]
    return torch.cat([x[:1], tokens, tail], dim=0)


def residual_block(block: nn.Module, x: torch.Tensor,
                   attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """One CLIP ``ResidualAttentionBlock`` with an explicit attention mask (pre-norm transformer)."""
    h = block.ln_1(x)
    mask = None if attn_mask is None else attn_mask.to(h.dtype)
    x = x + block.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
    return x + block.mlp(block.ln_2(x))


def causal_mask(length: int, device: torch.device) -> torch.Tensor:
    """Additive causal mask: position i attends to positions <= i."""
    return torch.full((length, length), float("-inf"), device=device).triu_(1)


@dataclass(frozen=True)
class PromptSchedule:
    """Which residual blocks (0-indexed) receive prompts: ``first .. depth-1``."""

    first: int
    depth: int

    def __post_init__(self) -> None:
        if not 0 <= self.first <= self.depth:
            raise ValueError(f"first prompt layer {self.first} outside a {self.depth}-layer tower")

    @property
    def num_layers(self) -> int:
        return self.depth - self.first

    def slot(self, layer: int) -> int:
        return layer - self.first


class PromptedVisionTower(nn.Module):
    """CLIP's ViT with K shared prompt tokens; also yields the unprompted (zero-shot) CLS feature.

    The blocks before the first prompt layer see no prompts, so the prompted and the zero-shot
    passes share them: one image pass gives both outputs.
    """

    def __init__(self, visual: nn.Module, schedule: PromptSchedule):
        super().__init__()
        self.visual = visual
        self.schedule = schedule

    @property
    def width(self) -> int:
        return self.visual.conv1.out_channels

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        v = self.visual
        x = v.conv1(images.to(v.conv1.weight.dtype))
        x = x.flatten(2).transpose(1, 2)  # (N, grid*grid, D)
        cls = v.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + v.positional_embedding.to(x.dtype)
        return v.ln_pre(x).transpose(0, 1)  # (L, N, D)

    def run(self, x: torch.Tensor, start: int, end: int,
            prompts: Optional[torch.Tensor]) -> torch.Tensor:
        """Blocks ``start..end-1``; ``prompts`` (P, K, D) indexed by schedule slot, or None."""
        blocks = self.visual.transformer.resblocks
        for layer in range(start, end):
            if prompts is not None and layer >= self.schedule.first:
                x = inject_prompts(x, prompts[self.schedule.slot(layer)],
                                   insert=layer == self.schedule.first)
            x = residual_block(blocks[layer], x)
        return x

    def project_cls(self, x: torch.Tensor) -> torch.Tensor:
        v = self.visual
        return v.ln_post(x[0]) @ v.proj

    def forward(self, images: torch.Tensor, prompts: Optional[torch.Tensor]
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
        """Returns (prompted final states (L+K, N, D) or None, zero-shot CLS feature (N, E),
        prompted CLS feature (N, E)); with ``prompts=None`` the last equals the zero-shot one."""
        depth = self.schedule.depth
        shared = self.run(self.embed(images), 0, self.schedule.first, None)
        zero_shot = self.project_cls(self.run(shared, self.schedule.first, depth, None))
        if prompts is None:
            return None, zero_shot, zero_shot
        prompted = self.run(shared, self.schedule.first, depth, prompts)
        return prompted, zero_shot, self.project_cls(prompted)


@dataclass
class TextPrefix:
    """Text states at the input of the first prompt layer, computed once per class set.

    ``states`` is (n, C, D) with n = longest EOT position + 1: the tower is causal and is read at
    EOT, so later positions never influence the result and are dropped (exact).
    """

    states: torch.Tensor
    eot: torch.Tensor  # (C,) EOT position of each class prompt, before insertion


@dataclass
class ClassBuckets:
    """A class set as buckets of equal prompt length: [(class indices, their TextPrefix)]."""

    buckets: List[Tuple[torch.Tensor, TextPrefix]]
    num_classes: int

    @property
    def lengths(self) -> List[int]:
        """Context length (EOT + 1) of every class, in class order."""
        out = [0] * self.num_classes
        for index, prefix in self.buckets:
            for c in index.tolist():
                out[c] = prefix.states.shape[0]
        return out


class PromptedTextTower(nn.Module):
    """CLIP's causal text transformer with per-sequence prompt tokens at the prompt layers."""

    def __init__(self, clip_model: nn.Module, schedule: PromptSchedule):
        super().__init__()
        self.token_embedding = clip_model.token_embedding
        self.positional_embedding = clip_model.positional_embedding
        self.transformer = clip_model.transformer
        self.ln_final = clip_model.ln_final
        self.text_projection = clip_model.text_projection
        self.schedule = schedule

    @property
    def width(self) -> int:
        return self.ln_final.weight.shape[0]

    def run(self, x: torch.Tensor, start: int, end: int, prompts: Optional[torch.Tensor],
            prompt_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Blocks ``start..end-1`` of the text tower.

        ``prompts`` is (P, M, K, D) per schedule slot, and ``prompt_index`` (N,) says which of the
        M prompt sets each of the N sequences uses (None: prompts already has one set per sequence).
        """
        blocks = self.transformer.resblocks
        mask = None
        for layer in range(start, end):
            x = self._with_prompts(x, layer, prompts, prompt_index)
            if mask is None or mask.shape[0] != x.shape[0]:
                mask = causal_mask(x.shape[0], x.device)
            x = residual_block(blocks[layer], x, mask)
        return x

    def _with_prompts(self, x: torch.Tensor, layer: int, prompts: Optional[torch.Tensor],
                      prompt_index: Optional[torch.Tensor]) -> torch.Tensor:
        if prompts is None or layer < self.schedule.first:
            return x
        tokens = prompts[self.schedule.slot(layer)]
        if prompt_index is not None:
            tokens = tokens[prompt_index]
        return inject_prompts(x, tokens, insert=layer == self.schedule.first)

    def last_block_readout(self, x: torch.Tensor, eot: torch.Tensor) -> torch.Tensor:
        """The last block evaluated at the EOT rows only, then the read-out (exact).

        Only the EOT output of the last block is read, so its query, attention output and MLP are
        needed for that row alone; keys and values still come from every position <= EOT.
        """
        block = self.transformer.resblocks[-1]
        columns = torch.arange(x.shape[1], device=x.device)
        h = block.ln_1(x)
        query = h[eot, columns][None]
        ignore = torch.arange(x.shape[0], device=x.device)[None, :] > eot[:, None]  # (N, L)
        attn = block.attn(query, h, h, need_weights=False,
                          key_padding_mask=ignore if bool(ignore.any()) else None)[0]
        y = x[eot, columns] + attn[0]
        y = y + block.mlp(block.ln_2(y))
        return self.ln_final(y) @ self.text_projection

    def readout(self, x: torch.Tensor, eot: torch.Tensor) -> torch.Tensor:
        """Feature at each sequence's EOT position (already shifted by inserted tokens)."""
        picked = x[eot, torch.arange(x.shape[1], device=x.device)]
        return self.ln_final(picked) @ self.text_projection

    def embed(self, token_ids: torch.Tensor, length: Optional[int] = None) -> torch.Tensor:
        length = token_ids.shape[1] if length is None else length
        x = self.token_embedding(token_ids[:, :length])
        x = x + self.positional_embedding[:length].to(x.dtype)
        return x.transpose(0, 1)

    def prefix(self, token_ids: torch.Tensor) -> TextPrefix:
        """Run the prompt-free blocks once, on the context truncated after the longest EOT."""
        eot = token_ids.argmax(dim=-1)
        length = int(eot.max()) + 1
        x = self.run(self.embed(token_ids, length), 0, self.schedule.first, None)
        return TextPrefix(states=x, eot=eot)

    def prefix_buckets(self, token_ids: torch.Tensor) -> "ClassBuckets":
        """Class prompts grouped by length, each group run through the prompt-free blocks once.

        Every class in a bucket has the same EOT position, so no sequence carries padding: the
        text work per class is proportional to its own prompt length, not the longest one.
        """
        eot = token_ids.argmax(dim=-1)
        buckets = []
        for length in torch.unique(eot).tolist():
            index = torch.nonzero(eot == length).flatten()
            buckets.append((index, self.prefix(token_ids[index])))
        return ClassBuckets(buckets=buckets, num_classes=token_ids.shape[0])

    def from_prefix(self, prefix: TextPrefix, class_index: torch.Tensor,
                    prompts: Optional[torch.Tensor],
                    prompt_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Finish the tower for sequences (class_index[i], prompt set prompt_index[i]) -> (N, E)."""
        first, depth = self.schedule.first, self.schedule.depth
        x = prefix.states[:, class_index]
        shift = 0 if prompts is None or self.schedule.num_layers == 0 else prompts.shape[-2]
        eot = prefix.eot[class_index] + shift
        if first == depth:  # no prompt layers: the prefix already ran every block
            return self.readout(x, eot)
        x = self.run(x, first, depth - 1, prompts, prompt_index)
        x = self._with_prompts(x, depth - 1, prompts, prompt_index)
        return self.last_block_readout(x, eot)

    def forward(self, token_ids: torch.Tensor, prompts: Optional[torch.Tensor] = None,
                truncate: bool = True) -> torch.Tensor:
        """Plain full pass (all blocks); ``prompts`` (P, N, K, D) or None -> features (N, E)."""
        eot = token_ids.argmax(dim=-1)
        length = int(eot.max()) + 1 if truncate else token_ids.shape[1]
        x = self.run(self.embed(token_ids, length), 0, self.schedule.depth, prompts)
        shift = 0 if prompts is None or self.schedule.num_layers == 0 else prompts.shape[-2]
        return self.readout(x, eot + shift)

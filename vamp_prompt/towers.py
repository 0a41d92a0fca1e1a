"""Prompted forward passes over CLIP's frozen towers: the one place where prompts are injected.

Both towers reuse CLIP's own modules (embeddings, residual blocks, norms, projections); only the
order of operations is ours. Sequences are kept in CLIP's (length, batch, width) layout.

Where a tower receives prompt tokens is described by a :class:`PromptLayout`; the two bases use:

* MMRL: K tokens *inserted* right after the first token (CLS / SOS) before block 5 (1-indexed
  layer 6), *replacing* those K positions before blocks 6..11. Positional embeddings are added
  only at the input, so the prompt tokens carry none.
* MaPLe: the shallow prompt enters at the input -- text: inserted after SOS among the token
  embeddings, before the positional embeddings are added (so it takes positions 1..K, exactly as
  MaPLe's learned context replacing "a photo"); vision: appended after the patches, through
  ``ln_pre``, without positional embedding -- and deep prompts replace those positions before
  blocks 1..8; blocks 9..11 carry them forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from torch import nn

from .block_parts import projections, rows_block

FRONT, END = "front", "end"


@dataclass(frozen=True)
class PromptLayout:
    """Which blocks of one tower receive prompt tokens, and where in the sequence.

    Slot ``s`` (0 .. n_slots-1) enters before block ``first + s``; the first slot inserts its K
    tokens (the sequence grows by K), later slots replace them, blocks after the last slot carry
    them forward. ``position``: ``front`` (right after token 0) or ``end`` (after the last token).
    ``at_input``: slot 0 enters at the embedding stage instead (see the module docstring).
    """

    first: int
    n_slots: int
    depth: int
    position: str = FRONT
    at_input: bool = False

    def __post_init__(self) -> None:
        if self.position not in (FRONT, END):
            raise ValueError(f"prompt position must be {FRONT!r} or {END!r}, got {self.position!r}")
        if self.n_slots < 0 or not 0 <= self.first or self.first + self.n_slots > self.depth:
            raise ValueError(
                f"prompt slots {self.first}..{self.first + self.n_slots - 1} do not fit a {self.depth}-layer tower"
            )
        if self.at_input and self.first != 0:
            raise ValueError("an input-level prompt slot must be slot 0 of block 0")

    @property
    def has_prompts(self) -> bool:
        return self.n_slots > 0

    @property
    def last(self) -> int:
        """Exclusive end of the blocks that receive new tokens."""
        return self.first + self.n_slots

    def slot(self, block: int) -> Optional[int]:
        """The slot entering before ``block``, or None."""
        return block - self.first if self.first <= block < self.last else None


def inject_prompts(x: torch.Tensor, prompts: torch.Tensor, insert: bool, position: str = FRONT) -> torch.Tensor:
    """Put K prompt tokens into every sequence of ``x`` (L, N, D).

    ``prompts`` is (N, K, D), or (K, D) shared by all N sequences. ``insert``: the sequence grows
    by K; otherwise the K tokens at the prompt positions are replaced.
    """
    n = x.shape[1]
    if prompts.dim() == 2:
        prompts = prompts.unsqueeze(0).expand(n, -1, -1)
    tokens = prompts.transpose(0, 1).to(x.dtype)  # (K, N, D)
    k = tokens.shape[0]
    if position == END:
        return torch.cat([x if insert else x[:-k], tokens], dim=0)
    tail = x[1:] if insert else x[1 + k :]
    return torch.cat([x[:1], tokens, tail], dim=0)


def residual_block(block: nn.Module, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """One CLIP ``ResidualAttentionBlock`` with an explicit attention mask (pre-norm transformer)."""
    h = block.ln_1(x)
    mask = None if attn_mask is None else attn_mask.to(h.dtype)
    x = x + block.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
    return x + block.mlp(block.ln_2(x))


def rows_block_output(block: nn.Module, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """A residual block's output at ``rows`` only (no mask): queries, attention output and MLP
    for those rows, keys and values from every row of ``x`` (L, N, D) -> (len(rows), N, D).
    The sequence-first face of :func:`~vamp_prompt.block_parts.rows_block`."""
    h = block.ln_1(x).transpose(0, 1)  # (N, L, D)
    q, kv = projections(block, h[:, rows], "q"), projections(block, h, "kv")
    return rows_block(block, x[rows].transpose(0, 1), q, kv).transpose(0, 1)


def causal_mask(length: int, device: torch.device) -> torch.Tensor:
    """Additive causal mask: position i attends to positions <= i."""
    return torch.full((length, length), float("-inf"), device=device).triu_(1)


@dataclass
class VisionOutput:
    states: Optional[torch.Tensor]  # prompted final states (L', N, D) -- [CLS, prompt rows] only
    #                                 when the last block ran at the read rows; None without prompts
    zero_shot: Optional[torch.Tensor]  # frozen CLIP image feature (N, E), if asked for
    cls: torch.Tensor  # prompted CLS feature (N, E)


class PromptedVisionTower(nn.Module):
    """CLIP's ViT with shared prompt tokens; optionally also the unprompted (zero-shot) feature.

    Blocks before the first prompt slot see no prompts, so the prompted and the zero-shot passes
    share them (and ``ln_pre``, which is per token): one image pass gives both outputs.
    """

    def __init__(self, visual: nn.Module, layout: PromptLayout):
        super().__init__()
        self.visual = visual
        self.layout = layout

    @property
    def width(self) -> int:
        return self.visual.conv1.out_channels

    @property
    def grid_tokens(self) -> int:
        return self.visual.positional_embedding.shape[0]

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Patches + CLS + positional embeddings, then ``ln_pre``: (1 + grid^2, N, D)."""
        v = self.visual
        expected = v.conv1.kernel_size[0] * round((self.grid_tokens - 1) ** 0.5)
        if images.shape[-1] != expected or images.shape[-2] != expected:
            raise ValueError(
                f"images are {tuple(images.shape[-2:])} pixels but this CLIP takes "
                f"{expected}x{expected}: set INPUT.SIZE ({expected}, {expected})"
            )
        x = v.conv1(images.to(v.conv1.weight.dtype))
        x = x.flatten(2).transpose(1, 2)  # (N, grid*grid, D)
        cls = v.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + v.positional_embedding.to(x.dtype)
        return v.ln_pre(x).transpose(0, 1)

    def run(
        self, x: torch.Tensor, start: int, end: int, prompts: Optional[torch.Tensor], read_only: bool = False
    ) -> torch.Tensor:
        """Blocks ``start..end-1``; ``prompts`` (P, K, D) indexed by slot, or None.

        ``read_only``: the tower's last block is evaluated only at the rows anything reads
        (:meth:`read_rows`), which are all the output then holds: [CLS, K prompt rows].
        """
        layout = self.layout
        blocks = self.visual.transformer.resblocks
        for block in range(start, end):
            slot = layout.slot(block)
            if prompts is not None and slot is not None:
                tokens = prompts[slot]
                if slot == 0 and layout.at_input:  # input-level prompts go through ln_pre
                    tokens = self.visual.ln_pre(tokens)
                x = inject_prompts(x, tokens, insert=slot == 0, position=layout.position)
            if read_only and block == len(blocks) - 1:
                n_prompt = 0 if prompts is None or not layout.has_prompts else prompts.shape[-2]
                return rows_block_output(blocks[block], x, self.read_rows(x, n_prompt))
            x = residual_block(blocks[block], x)
        return x

    def read_rows(self, x: torch.Tensor, n_prompt: int) -> torch.Tensor:
        """Indices of the rows read after the last block: CLS, then the K prompt rows."""
        length = x.shape[0]
        prompt_start = length - n_prompt if self.layout.position == END else 1
        rows = [0] + list(range(prompt_start, prompt_start + n_prompt))
        return torch.tensor(rows, device=x.device)

    def project_cls(self, x: torch.Tensor) -> torch.Tensor:
        v = self.visual
        return v.ln_post(x[0]) @ v.proj

    def prompt_states(self, states: torch.Tensor, n_tokens: int) -> torch.Tensor:
        """The K prompt-token outputs of the final states, (K, N, D)."""
        if self.layout.position == END:
            return states[-n_tokens:]
        return states[1 : 1 + n_tokens]

    def forward(
        self, images: torch.Tensor, prompts: Optional[torch.Tensor], zero_shot: bool = True, read_only: bool = True
    ) -> VisionOutput:
        """One pass for the prompted features and, if ``zero_shot``, the frozen CLIP feature.

        ``read_only``: the last block runs only at the rows read afterwards (exact; ``states``
        then holds [CLS, prompt rows]); False runs every row (the naive reference).
        """
        layout = self.layout
        depth = len(self.visual.transformer.resblocks)
        x = self.embed(images)
        if prompts is None or not layout.has_prompts:
            feature = self.project_cls(self.run(x, 0, depth, None, read_only))
            return VisionOutput(None, feature if zero_shot else None, feature)
        shared = self.run(x, 0, layout.first, None)
        frozen = self.project_cls(self.run(shared, layout.first, depth, None, read_only)) if zero_shot else None
        states = self.run(shared, layout.first, depth, prompts, read_only)
        return VisionOutput(states, frozen, self.project_cls(states))


@dataclass
class TextPrefix:
    """Text states at the input of the first prompt slot, computed once per class set.

    ``states`` is (n, C, D) with n = EOT position + 1 of these classes: the tower is causal and
    read at EOT, so later positions never influence the result and are dropped (exact). For an
    input-level layout the states are the raw token embeddings (positions are added after the
    prompts are inserted).
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
    """CLIP's causal text transformer with per-sequence prompt tokens at the prompt slots."""

    def __init__(self, clip_model: nn.Module, layout: PromptLayout):
        super().__init__()
        if layout.position != FRONT:
            raise ValueError("text prompts go right after SOS (position 'front')")
        self.token_embedding = clip_model.token_embedding
        self.positional_embedding = clip_model.positional_embedding
        self.transformer = clip_model.transformer
        self.ln_final = clip_model.ln_final
        self.text_projection = clip_model.text_projection
        self.layout = layout

    @property
    def width(self) -> int:
        return self.ln_final.weight.shape[0]

    @property
    def depth(self) -> int:
        return len(self.transformer.resblocks)

    def shift(self, prompts: Optional[torch.Tensor]) -> int:
        """How far the prompts move the EOT token (K, or 0 without prompts)."""
        return 0 if prompts is None or not self.layout.has_prompts else prompts.shape[-2]

    def run(
        self,
        x: torch.Tensor,
        start: int,
        end: int,
        prompts: Optional[torch.Tensor],
        prompt_index: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Blocks ``start..end-1`` of the text tower.

        ``prompts`` is (P, M, K, D) per slot, and ``prompt_index`` (N,) says which of the M prompt
        sets each of the N sequences uses (None: prompts already has one set per sequence).
        """
        blocks = self.transformer.resblocks
        mask = None
        for block in range(start, end):
            x = self._with_prompts(x, block, prompts, prompt_index)
            if mask is None or mask.shape[0] != x.shape[0]:
                mask = causal_mask(x.shape[0], x.device)
            x = residual_block(blocks[block], x, mask)
        return x

    def _with_prompts(
        self, x: torch.Tensor, block: int, prompts: Optional[torch.Tensor], prompt_index: Optional[torch.Tensor]
    ) -> torch.Tensor:
        slot = self.layout.slot(block)
        if prompts is None or slot is None:
            return x
        tokens = prompts[slot]
        if prompt_index is not None:
            tokens = tokens[prompt_index]
        x = inject_prompts(x, tokens, insert=slot == 0)
        if slot == 0 and self.layout.at_input:  # MaPLe: positions are added after insertion
            x = x + self.positional_embedding[: x.shape[0], None].to(x.dtype)
        return x

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
        attn = block.attn(query, h, h, need_weights=False, key_padding_mask=ignore if bool(ignore.any()) else None)[0]
        y = x[eot, columns] + attn[0]
        y = y + block.mlp(block.ln_2(y))
        return self.ln_final(y) @ self.text_projection

    def readout(self, x: torch.Tensor, eot: torch.Tensor) -> torch.Tensor:
        """Feature at each sequence's EOT position (already shifted by inserted tokens)."""
        picked = x[eot, torch.arange(x.shape[1], device=x.device)]
        return self.ln_final(picked) @ self.text_projection

    def embed(self, token_ids: torch.Tensor, length: Optional[int] = None, positions: bool = True) -> torch.Tensor:
        length = token_ids.shape[1] if length is None else length
        x = self.token_embedding(token_ids[:, :length])
        if positions:
            x = x + self.positional_embedding[:length].to(x.dtype)
        return x.transpose(0, 1)

    def prefix(self, token_ids: torch.Tensor) -> TextPrefix:
        """Run the prompt-free blocks once, on the context truncated after the longest EOT."""
        eot = token_ids.argmax(dim=-1)
        length = int(eot.max()) + 1
        if self.layout.at_input and self.layout.has_prompts:
            return TextPrefix(states=self.embed(token_ids, length, positions=False), eot=eot)
        x = self.run(self.embed(token_ids, length), 0, self.layout.first, None)
        return TextPrefix(states=x, eot=eot)

    def prefix_buckets(self, token_ids: torch.Tensor) -> ClassBuckets:
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

    def from_prefix(
        self,
        prefix: TextPrefix,
        class_index: torch.Tensor,
        prompts: Optional[torch.Tensor],
        prompt_index: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Finish the tower for sequences (class_index[i], prompt set prompt_index[i]) -> (N, E)."""
        layout = self.layout
        x = prefix.states[:, class_index]
        eot = prefix.eot[class_index] + self.shift(prompts)
        if prompts is None and layout.at_input and layout.has_prompts:
            x = x + self.positional_embedding[: x.shape[0], None].to(x.dtype)
        start = layout.first if layout.has_prompts else self.depth
        if start == self.depth:  # no prompt slots: the prefix already ran every block
            return self.readout(x, eot)
        x = self.run(x, start, self.depth - 1, prompts, prompt_index)
        x = self._with_prompts(x, self.depth - 1, prompts, prompt_index)
        return self.last_block_readout(x, eot)

    # ------------------------------------------------- split view (see vamp_prompt.text_rows)
    def split_inputs(self, prefix: TextPrefix, n_prompt: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """The prefix split at the input of the first prompted block into the SOS row (1, D) and
        the class rows after it, batch-first (C, T, D) with T = EOT position.

        The SOS row sees only itself (causal), so it is the same for every class. For an
        input-level layout the positions are added here, after the K inserted tokens: SOS takes
        position 0 and the class rows K+1 .. K+T.
        """
        states = prefix.states
        sos, rows = states[0, :1], states[1:].transpose(0, 1)
        if self.layout.at_input:
            positions = self.positional_embedding.to(states.dtype)
            sos = sos + positions[:1]
            rows = rows + positions[1 + n_prompt : n_prompt + states.shape[0]]
        return sos, rows.contiguous()

    def prompt_rows(self, block: int, prompts: torch.Tensor) -> Optional[torch.Tensor]:
        """Input of the prompt rows at ``block``: the slot's tokens (M, K, D) of each of the M
        prompt sets in ``prompts`` (P, M, K, D) -- with positions 1..K for an input-level slot --
        or None where no slot enters (the rows carry their previous output)."""
        slot = self.layout.slot(block)
        if slot is None:
            return None
        tokens = prompts[slot]
        if slot == 0 and self.layout.at_input:
            tokens = tokens + self.positional_embedding[1 : 1 + tokens.shape[1]].to(tokens.dtype)
        return tokens

    def forward(
        self, token_ids: torch.Tensor, prompts: Optional[torch.Tensor] = None, truncate: bool = True
    ) -> torch.Tensor:
        """Plain full pass (all blocks); ``prompts`` (P, N, K, D) or None -> features (N, E)."""
        eot = token_ids.argmax(dim=-1)
        length = int(eot.max()) + 1 if truncate else token_ids.shape[1]
        at_input = self.layout.at_input and prompts is not None and self.layout.has_prompts
        x = self.embed(token_ids, length, positions=not at_input)
        if at_input and not truncate:  # room for the inserted tokens within the 77 positions
            x = x[: length - prompts.shape[-2]]
        x = self.run(x, 0, self.depth, prompts)
        return self.readout(x, eot + self.shift(prompts))

"""The split-view text pass (shared rows once, class rows per pair) equals whole sequences."""

from __future__ import annotations

import pytest
import torch

from conftest import CLASSNAMES
from test_core import PROTO_FEATURES, PROTO_LABELS
from vamp_prompt import VaMPConfig, VaMPModel
from vamp_prompt.reference import naive_sample_logits
from vamp_prompt.text_pass import JOINED, SPLIT, encode_text_sets

#: (base, overrides): both bases at prompt depth 1, a middle depth, and 12 (every block).
LAYOUTS = [
    ("mmrl", {"first_prompt_layer": 12}),
    ("mmrl", {"first_prompt_layer": 6}),
    ("mmrl", {"first_prompt_layer": 1}),
    ("maple", {"prompt_depth": 1}),
    ("maple", {"prompt_depth": 9}),
    ("maple", {"prompt_depth": 12}),
]


def make(clip_model, base: str, variant: str = "vamp", **overrides) -> VaMPModel:
    torch.manual_seed(0)
    model = VaMPModel(clip_model, VaMPConfig(base=base, variant=variant, **overrides))
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.prompt_learner.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    model.set_classes(CLASSNAMES, "a photo of a {}.")  # class prompts of 4 different lengths
    model.set_prototype_features(PROTO_FEATURES, PROTO_LABELS, len(CLASSNAMES))
    return model


def prompt_sets(model: VaMPModel, n_sets: int) -> torch.Tensor:
    shared = model.base.text_tokens().detach()
    g = torch.Generator().manual_seed(7)
    return shared[:, None] + 0.1 * torch.randn(shared.shape[0], n_sets, *shared.shape[1:], generator=g)


@pytest.mark.parametrize("base,overrides", LAYOUTS)
def test_split_equals_whole_sequences_for_every_pair(tiny_clip, base, overrides):
    """Every (prompt set, class) feature of the split pass equals the plain full-length pass."""
    model = make(tiny_clip, base, text_chunk_mb=0.01, **overrides)
    tower = model.text_tower
    buckets, _ = model.class_states(torch.device("cpu"))
    assert len(buckets.buckets) > 1  # mixed prompt lengths
    sets = prompt_sets(model, 3)
    with torch.no_grad():
        split = encode_text_sets(tower, buckets, sets, 0.01, method=SPLIT)
        joined = encode_text_sets(tower, buckets, sets, 0.01, method=JOINED)
        ids = model.base.class_token_ids(model.classnames, model.template)
        full = torch.stack(
            [tower(ids, sets[:, m, None].expand(-1, len(ids), -1, -1), truncate=False) for m in range(sets.shape[1])]
        )
    torch.testing.assert_close(split, full, atol=1e-5, rtol=0)
    torch.testing.assert_close(joined, full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("base,overrides", LAYOUTS)
def test_split_gradients_equal_joined(tiny_clip, images, base, overrides):
    """Training through the split pass (chunked, recomputed) gives the joined pass's gradients."""
    labels = torch.tensor([0, 1, 2])
    grads = []
    for method in (SPLIT, JOINED):
        model = make(tiny_clip, base, text_chunk_mb=0.01, **overrides).train()
        model.text_pass_method = method
        n_slots = model.base.text_layout.n_slots
        noise = torch.randn(n_slots, 3, 2, model.base.n_tokens, 64, generator=torch.Generator().manual_seed(5))
        model.loss(model(images, n_samples=2, noise=noise), labels).total.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.trainable_parameters()]))
    # fp32 rounding differs with the order of the sums; logits carry a scale of 100, and the
    # largest gradient entries are ~20, so the tolerance is taken relative to the largest entry.
    scale = float(grads[1].abs().max())
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5 * max(1.0, scale), rtol=1e-4)


@pytest.mark.parametrize("prompt_depth", [1, 12])
def test_maple_fast_path_equals_naive_at_extreme_depths(tiny_clip, images, prompt_depth):
    model = make(tiny_clip, "maple", text_chunk_mb=0.02, prompt_depth=prompt_depth).eval()
    noise = torch.randn(prompt_depth, 3, 2, 2, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fast = model(images, n_samples=2, noise=noise).logits("fusion", 0.7)
    naive = naive_sample_logits(model, images, "fusion", 2, noise=noise)
    scale = float(model.logit_scale)
    torch.testing.assert_close(fast / scale, naive / scale, atol=1e-5, rtol=0)


def test_unknown_text_pass_method_is_rejected(tiny_clip):
    model = make(tiny_clip, "mmrl")
    buckets, _ = model.class_states(torch.device("cpu"))
    with pytest.raises(ValueError, match="split"):
        encode_text_sets(model.text_tower, buckets, prompt_sets(model, 1), 1.0, method="fused")


@pytest.mark.parametrize("base", ["mmrl", "maple"])
def test_vision_last_block_at_read_rows_equals_every_row(tiny_clip, images, base):
    """The vision tower's last block run at [CLS, prompt rows] only gives the same read-outs."""
    model = make(tiny_clip, base)
    tower, k = model.vision_tower, model.base.n_tokens
    with torch.no_grad():
        full = tower(images, model.base.vision_tokens(), read_only=False)
        read = tower(images, model.base.vision_tokens(), read_only=True)
    assert read.states.shape[0] == 1 + k
    torch.testing.assert_close(read.cls, full.cls, atol=1e-5, rtol=0)
    torch.testing.assert_close(read.zero_shot, full.zero_shot, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        tower.prompt_states(read.states, k), tower.prompt_states(full.states, k), atol=1e-5, rtol=0
    )


def test_shared_text_features_are_kept_until_the_prompts_change(tiny_clip, images):
    """Evaluation of a row without latents reuses its text features; a step refreshes them."""
    model = make(tiny_clip, "mmrl", variant="mmrl").eval()
    with torch.no_grad():
        first = model.predict(images)
        cached = model._text_cache[1]
        again = model.predict(images)
        assert model._text_cache[1] is cached
        torch.testing.assert_close(again, first)
        model.base.tokens.add_(0.1)  # an optimizer step changes the parameters in place
        changed = model.predict(images)
    assert model._text_cache[1] is not cached
    fresh = make(tiny_clip, "mmrl", variant="mmrl").eval()
    with torch.no_grad():
        fresh.base.tokens.add_(0.1)
        torch.testing.assert_close(changed, fresh.predict(images), atol=1e-5, rtol=0)

"""The MaPLe base: its prompt placement, exactness of the fast path, gradients, and VaMP on top."""

from __future__ import annotations

import pytest
import torch

from conftest import CLASSNAMES
from vamp_prompt import VaMPConfig, VaMPModel, tokenize
from vamp_prompt.reference import naive_sample_logits
from test_core import PROTO_FEATURES, PROTO_LABELS

ROWS = ("maple", "sample_specific", "variational", "vamp")
K, DEPTH = 2, 9


def make_maple(clip_model, variant="maple", perturb=True, **overrides) -> VaMPModel:
    torch.manual_seed(0)
    model = VaMPModel(clip_model, VaMPConfig(base="maple", variant=variant, **overrides))
    if perturb:
        g = torch.Generator().manual_seed(3)
        with torch.no_grad():
            for p in model.prompt_learner.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    model.set_classes(CLASSNAMES, "{} texture.")
    model.set_prototype_features(PROTO_FEATURES, PROTO_LABELS, len(CLASSNAMES))
    return model


def block_inputs(tower_blocks):
    seen = {}
    for i, block in enumerate(tower_blocks):
        block.ln_1.register_forward_hook(lambda m, a, o, i=i: seen.__setitem__(i, a[0].clone()))
    return seen


def test_context_starts_from_the_words_it_replaces(tiny_clip):
    model = make_maple(tiny_clip, perturb=False)
    ids = tokenize("a photo of a")[0]
    torch.testing.assert_close(model.base.ctx, tiny_clip.token_embedding.weight[ids[1:3]])
    # the class sequence is "<SOS> of a <name> . <EOT>": "a photo" makes room for the context
    full = tokenize(["a photo of a dog."])[0]
    seq = model.base.class_token_ids(["dog"], "ignored {}")[0]
    assert seq[0] == full[0] and torch.equal(seq[1 : full.argmax() - 1], full[3 : full.argmax() + 1])
    for p in model.base.deep_proj[1:]:  # deep copies of one initialised layer
        assert torch.equal(p.weight, model.base.deep_proj[0].weight)
    assert float(model.logit_scale) == pytest.approx(float(tiny_clip.logit_scale.exp()))


def test_vision_prompts_sit_at_the_end(tiny_clip, images):
    """Input: proj(ctx) appended after the patches, through ln_pre; blocks 1..8: the last K
    tokens replaced by the deep vision prompts; blocks 9..11 carry them forward."""
    model = make_maple(tiny_clip).eval()
    tower = model.vision_tower
    seen = block_inputs(tower.visual.transformer.resblocks)
    with torch.no_grad():
        prompts = model.base.vision_tokens()
        tower(images, prompts, zero_shot=False)
        n_patches = tower.grid_tokens
        assert seen[0].shape[0] == n_patches + K
        torch.testing.assert_close(seen[0][-K:], tower.visual.ln_pre(prompts[0])[:, None].expand(-1, 3, -1))
        torch.testing.assert_close(seen[0][:n_patches], tower.embed(images))
        for block in range(1, DEPTH):
            torch.testing.assert_close(seen[block][-K:], prompts[block][:, None].expand(-1, 3, -1))
        assert not torch.allclose(seen[DEPTH][-K:], prompts[DEPTH - 1][:, None].expand(-1, 3, -1))


def test_text_context_takes_positions_one_to_k_with_positional_embeddings(tiny_clip):
    model = make_maple(tiny_clip).eval()
    tower = model.text_tower
    seen = block_inputs(tower.transformer.resblocks)
    ids = model.base.class_token_ids(["dog", "cat"], "")
    prompts = model.base.text_tokens()  # (P, K, D)
    with torch.no_grad():
        tower(ids, prompts[:, None].expand(-1, 2, -1, -1))
    pos = tiny_clip.positional_embedding
    torch.testing.assert_close(seen[0][1 : 1 + K], (prompts[0] + pos[1 : 1 + K])[:, None].expand(-1, 2, -1))
    sos = tiny_clip.token_embedding.weight[ids[:, 0]] + pos[0]
    torch.testing.assert_close(seen[0][0], sos)
    for block in range(1, DEPTH):
        torch.testing.assert_close(seen[block][1 : 1 + K], prompts[block][:, None].expand(-1, 2, -1))


@pytest.mark.parametrize("variant", ROWS)
def test_fast_path_equals_naive_reference(tiny_clip, images, variant):
    model = make_maple(tiny_clip, variant, text_chunk_mb=0.02).eval()
    noise = torch.randn(DEPTH, 3, 2, K, 64, generator=torch.Generator().manual_seed(0))
    for head, mean_only in (("fusion", False), ("rep", True)):  # every head is MaPLe's one head
        with torch.no_grad():
            fast = model(images, n_samples=2, noise=noise, mean_only=mean_only).logits(head, 0.7)
        naive = naive_sample_logits(model, images, head, 2, mean_only, noise=noise)
        assert fast.shape == naive.shape
        scale = float(model.logit_scale)
        torch.testing.assert_close(fast / scale, naive / scale, atol=1e-5, rtol=0)


def test_maple_row_is_maple(tiny_clip, images):
    """One head, cross-entropy only, no zero-shot pass, no latents."""
    model = make_maple(tiny_clip, "maple").train()
    out = model(images)
    assert out.logits_rep is None and out.zero_shot_image is None
    assert out.text_zero_shot_cos is None and model.latents is None
    labels = torch.tensor([0, 1, 4])
    parts = model.loss(out, labels)
    expected = torch.nn.functional.cross_entropy(out.logits_cls[:, 0], labels)
    torch.testing.assert_close(parts.total, expected)
    assert torch.equal(out.logits("fusion", 0.7), out.logits_cls)


@pytest.mark.parametrize("variant", ROWS)
def test_gradients_reach_only_trainable_modules(tiny_clip, images, variant):
    model = make_maple(tiny_clip, variant).train()
    model.loss(model(images), torch.tensor([0, 1, 4])).total.backward()
    for name, p in model.named_parameters():
        if not name.startswith("prompt_learner."):
            assert p.grad is None, name
    trainable = dict(model.prompt_learner.named_parameters())
    with_grad = {n for n, p in trainable.items() if p.grad is not None and p.grad.abs().sum() > 0}
    assert with_grad == set(trainable), set(trainable) - with_grad


def test_vamp_on_maple_samples_text_keeps_vision_shared(tiny_clip, images):
    model = make_maple(tiny_clip, "vamp").eval()
    with torch.no_grad():
        a = model(images, n_samples=2, generator=torch.Generator().manual_seed(0))
        b = model(images, n_samples=2, generator=torch.Generator().manual_seed(1))
        vision_a = model.base.vision_tokens()
    assert a.posterior_mean.shape == (DEPTH, 3, 1, 64)
    assert not torch.allclose(a.logits_cls, b.logits_cls)  # the text side is sampled
    torch.testing.assert_close(a.image_feature, b.image_feature)  # the vision side is not
    torch.testing.assert_close(vision_a, model.base.vision_tokens())


def test_training_chunks_give_same_gradients_as_one_chunk(tiny_clip, images):
    labels = torch.tensor([0, 1, 2])
    grads = []
    for budget in (1000.0, 0.01):
        model = make_maple(tiny_clip, "vamp", text_chunk_mb=budget).train()
        noise = torch.randn(DEPTH, 3, 1, K, 64, generator=torch.Generator().manual_seed(5))
        model.loss(model(images, noise=noise), labels).total.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.trainable_parameters()]))
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def test_bad_maple_settings_are_rejected(tiny_clip):
    with pytest.raises(ValueError, match="prompt_depth=13"):
        VaMPModel(tiny_clip, VaMPConfig(base="maple", variant="maple", prompt_depth=13))
    with pytest.raises(ValueError, match="only 2 tokens"):
        VaMPModel(tiny_clip, VaMPConfig(base="maple", variant="maple", n_ctx=3, ctx_init="a dog"))
    with pytest.raises(ValueError, match="use variant 'maple'"):
        VaMPConfig(base="maple", variant="mmrl")
    random_ctx = VaMPModel(tiny_clip, VaMPConfig(base="maple", variant="maple", ctx_init=""))
    assert random_ctx.base.prefix_text == "X X"

"""The model core on a tiny random CLIP: exactness, injection, KL, gradients, sampling, ablations."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from conftest import CLASSNAMES
from vamp_prompt import VARIANTS, VaMPConfig, VaMPModel, average_probabilities, gaussian_kl, load_clip, tokenize
from vamp_prompt.losses import layer_kl
from vamp_prompt.reference import naive_sample_logits
from vamp_prompt.towers import PromptedTextTower, PromptedVisionTower, PromptLayout

K = 5
#: Offline "training-image" features for the class prior: 2 per class of CLASSNAMES.
PROTO_FEATURES = torch.randn(10, 32, generator=torch.Generator().manual_seed(4))
PROTO_LABELS = torch.arange(5).repeat(2)


def layout(first: int, depth: int = 12) -> PromptLayout:
    return PromptLayout(first, depth - first, depth)


def make_model(clip_model, variant="vamp", perturb=True, **overrides) -> VaMPModel:
    torch.manual_seed(0)
    model = VaMPModel(clip_model, VaMPConfig(variant=variant, **overrides))
    if perturb:  # move the zero-initialised heads so every path carries signal
        g = torch.Generator().manual_seed(3)
        with torch.no_grad():
            for p in model.prompt_learner.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    model.set_classes(CLASSNAMES, "a photo of a {}.")
    model.set_prototype_features(PROTO_FEATURES, PROTO_LABELS, len(CLASSNAMES))
    return model


def test_load_clip_from_state_dict_file(tiny_clip_path, tiny_clip, images):
    loaded = load_clip(tiny_clip_path)
    assert not any(p.requires_grad for p in loaded.parameters())
    torch.testing.assert_close(loaded.encode_image(images), tiny_clip.encode_image(images))


def test_load_clip_bad_file_gives_clear_error(tmp_path):
    bad = tmp_path / "clip.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=str(bad)):
        load_clip(str(bad))
    with pytest.raises(FileNotFoundError, match="MODEL.BACKBONE.NAME"):
        load_clip(str(tmp_path / "missing.pt"))


def test_towers_without_prompt_layers_reproduce_clip(tiny_clip, images):
    tokens = tokenize(["a photo of a dog.", "x", "a much longer prompt with many many words in it"])
    out = PromptedVisionTower(tiny_clip.visual, layout(12))(images, None)
    torch.testing.assert_close(out.zero_shot, tiny_clip.encode_image(images), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.cls, out.zero_shot)
    text = PromptedTextTower(tiny_clip, layout(12))
    for truncate in (False, True):
        torch.testing.assert_close(text(tokens, truncate=truncate), tiny_clip.encode_text(tokens), atol=1e-5, rtol=0)


def test_injection_rule_lengths_and_positions(tiny_clip):
    from vamp_prompt.towers import inject_prompts

    x = torch.randn(10, 2, 64)
    p1, p2 = torch.randn(2, K, 64), torch.randn(2, K, 64)
    inserted = inject_prompts(x, p1, insert=True)
    assert inserted.shape[0] == 10 + K
    torch.testing.assert_close(inserted[1 : 1 + K].transpose(0, 1), p1)
    torch.testing.assert_close(inserted[1 + K :], x[1:])
    replaced = inject_prompts(inserted, p2, insert=False)
    assert replaced.shape[0] == 10 + K
    torch.testing.assert_close(replaced[1 : 1 + K].transpose(0, 1), p2)
    torch.testing.assert_close(replaced[0], x[0])
    torch.testing.assert_close(replaced[1 + K :], x[1:])


def test_prompt_tokens_enter_each_prompt_layer(tiny_clip):
    """The input of every prompt block holds exactly that layer's tokens at positions 1..K."""
    tower = PromptedTextTower(tiny_clip, layout(5))
    tokens = tokenize(["a photo of a dog.", "x"])
    prompts = torch.randn(7, 2, K, 64)
    inputs = {}
    for i, block in enumerate(tower.transformer.resblocks):
        block.ln_1.register_forward_hook(lambda m, args, out, i=i: inputs.__setitem__(i, args[0].clone()))
    tower.run(tower.embed(tokens, 77), 0, 12, prompts)
    for i in range(12):
        assert inputs[i].shape[0] == (77 if i < 5 else 77 + K)
        if i >= 5:
            torch.testing.assert_close(inputs[i][1 : 1 + K].transpose(0, 1), prompts[i - 5])


def test_eot_readout_for_prompts_of_different_lengths(tiny_clip):
    """Text read at EOT + K equals reading each prompt alone: lengths don't leak."""
    tower = PromptedTextTower(tiny_clip, layout(5))
    texts = ["x.", "a photo of a dog.", "a photo of a very very very long class name indeed."]
    tokens = tokenize(texts)
    prompts = torch.randn(7, 1, K, 64).expand(7, 3, K, 64)
    together = tower(tokens, prompts, truncate=True)
    for i in range(3):
        alone = tower(tokens[i : i + 1], prompts[:, i : i + 1], truncate=False)
        torch.testing.assert_close(together[i : i + 1], alone, atol=1e-5, rtol=0)
    # Reading one position off changes the feature: the index matters.
    x = tower.run(tower.embed(tokens, 77), 0, 12, prompts)
    eot = tokens.argmax(-1) + K
    assert not torch.allclose(tower.readout(x, eot), tower.readout(x, eot - 1))


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mq, mp = torch.randn(3, 4, 1, 6, generator=g), torch.randn(3, 4, 1, 6, generator=g)
    lq, lp = torch.randn(3, 4, 1, 6, generator=g), torch.randn(3, 4, 1, 6, generator=g)
    q = torch.distributions.Normal(mq, (0.5 * lq).exp())
    p = torch.distributions.Normal(mp, (0.5 * lp).exp())
    expected = torch.distributions.kl_divergence(q, p)
    torch.testing.assert_close(gaussian_kl(mq, lq, mp, lp), expected, atol=1e-5, rtol=1e-5)
    # layer_kl: sum over layers of the K*D-dim KL (K tokens share parameters), batch mean.
    torch.testing.assert_close(layer_kl(mq, lq, mp, lp, K, "sum"), expected.sum((-1, -2)).mul(K).sum(0).mean())
    torch.testing.assert_close(layer_kl(mq, lq, mp, lp, K, "mean"), expected.mean((-1, -2)).sum(0).mean())
    # token-wise latents (T = K): the K x D KL is the plain sum
    tq, tp = torch.randn(3, 4, K, 6, generator=g), torch.randn(3, 4, K, 6, generator=g)
    zeros = torch.zeros_like(tq)
    by_hand = torch.distributions.kl_divergence(
        torch.distributions.Normal(tq, 1.0), torch.distributions.Normal(tp, 1.0)
    )
    torch.testing.assert_close(layer_kl(tq, zeros, tp, zeros, K, "sum"), by_hand.sum((-1, -2)).sum(0).mean())
    assert float(layer_kl(mq, lq, mq, lq, K, "sum")) == 0.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_reach_only_trainable_modules_and_clip_stays_bit_identical(tiny_clip, images, variant):
    model = make_model(tiny_clip, variant)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not n.startswith("prompt_learner.")}
    assert all(not p.requires_grad for n, p in model.named_parameters() if n in frozen)
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2, weight_decay=5e-4)
    model.train()
    parts = model.loss(model(images), torch.tensor([0, 1, 4]))
    parts.total.backward()
    for name, p in model.named_parameters():
        if name in frozen:
            assert p.grad is None, name
    trainable = dict(model.prompt_learner.named_parameters())
    with_grad = {n for n, p in trainable.items() if p.grad is not None and p.grad.abs().sum() > 0}
    assert with_grad == set(trainable), set(trainable) - with_grad
    opt.step()
    for name, p in model.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name]), name
    assert not model.text_tower.training and not model.vision_tower.training


def test_offline_features_and_feature_prototypes(tiny_clip, images):
    from vamp_prompt import frozen_image_features

    model = make_model(tiny_clip, perturb=False)
    labels = torch.tensor([1, 0, 1])
    feats, seen = frozen_image_features(
        model.zero_shot_image_features, [(images[:2], labels[:2]), (images[2:], labels[2:])]
    )
    expected = F.normalize(tiny_clip.encode_image(images), dim=-1)
    torch.testing.assert_close(feats, expected, atol=1e-6, rtol=0)
    assert seen.tolist() == [1, 0, 1]
    model.set_prototype_features(feats, seen, 2)
    protos = model.prototype_bank.mean_features()
    torch.testing.assert_close(protos[0], expected[1], atol=1e-6, rtol=0)
    torch.testing.assert_close(protos[1], (expected[0] + expected[2]) / 2, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="classes \\[2\\]"):
        model.set_prototype_features(feats, seen, 3)


def test_monte_carlo_is_deterministic_with_a_seed(tiny_clip, images):
    model = make_model(tiny_clip).eval()
    a = model.predict(images, generator=torch.Generator().manual_seed(7))
    b = model.predict(images, generator=torch.Generator().manual_seed(7))
    c = model.predict(images, generator=torch.Generator().manual_seed(8))
    assert a.shape == (3, 10, len(CLASSNAMES))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_mean_approximation_is_one_sample_with_zero_noise(tiny_clip, images):
    model = make_model(tiny_clip).eval()
    mean = model.predict(images, mean_only=True)
    assert mean.shape[1] == 1
    zero_noise = torch.zeros(7, 3, 1, K, 64)
    with torch.no_grad():
        sampled = model(images, n_samples=1, noise=zero_noise).logits("fusion", 0.7)
    torch.testing.assert_close(mean, sampled)


def test_averaging_identical_samples_equals_one_sample(tiny_clip, images):
    model = make_model(tiny_clip).eval()
    noise = torch.randn(7, 3, 1, K, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        one = model(images, n_samples=1, noise=noise).logits("fusion", 0.7)
        many = model(images, n_samples=4, noise=noise.expand(-1, -1, 4, -1, -1)).logits("fusion", 0.7)
    torch.testing.assert_close(average_probabilities(many), average_probabilities(one), atol=1e-6, rtol=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_fast_path_equals_naive_reference(tiny_clip, images, variant):
    model = make_model(tiny_clip, variant, text_chunk_mb=0.02).eval()
    noise = torch.randn(7, 3, 4, K, 64, generator=torch.Generator().manual_seed(0))
    for head, mean_only in (("fusion", False), ("cls", False), ("fusion", True)):
        with torch.no_grad():
            fast = model(images, n_samples=4, noise=noise, mean_only=mean_only).logits(head, 0.7)
        naive = naive_sample_logits(model, images, head, 4, mean_only, noise=noise)
        assert fast.shape == naive.shape
        scale = float(model.logit_scale)
        torch.testing.assert_close(fast / scale, naive / scale, atol=1e-5, rtol=0)


def test_ablation_switches(tiny_clip, images):
    counts = {}
    for variant in VARIANTS:
        model = make_model(tiny_clip, variant).eval()
        counts[variant] = model.parameter_counts()
        g = torch.Generator().manual_seed(0)
        state = g.get_state()
        with torch.no_grad():
            out = model(images, n_samples=3, generator=g)
        drew_noise = not torch.equal(g.get_state(), state)
        assert drew_noise == (variant in ("variational", "vamp")), variant
        assert out.logits_cls.shape[1] == (3 if drew_noise else 1)
        assert (out.posterior_logvar is not None) == drew_noise
        if variant == "mmrl":
            assert out.text_zero_shot_cos.shape[0] == 1  # one shared prompt set: MMRL
        else:
            assert out.text_zero_shot_cos.shape[0] == 3 * out.logits_cls.shape[1]
    assert counts["mmrl"]["posterior_networks"] == 0 and counts["mmrl"]["prior_networks"] == 0
    assert counts["sample_specific"]["posterior_networks"] > 0
    assert counts["variational"]["posterior_networks"] > counts["sample_specific"]["posterior_networks"]
    assert counts["variational"]["prior_networks"] == 0
    assert counts["vamp"]["prior_networks"] > 0


def test_kl_is_zero_for_deterministic_rows_and_positive_otherwise(tiny_clip, images):
    labels = torch.tensor([0, 1, 2])
    for variant in VARIANTS:
        model = make_model(tiny_clip, variant).train()
        parts = model.loss(model(images), labels)
        if variant in ("mmrl", "sample_specific"):
            assert float(parts.kl) == 0.0
        else:
            assert float(parts.kl.detach()) > 0.0
        torch.testing.assert_close(parts.total, parts.likelihood + model.cfg.kl_weight * parts.kl)


def test_class_prior_depends_on_the_label(tiny_clip, images):
    model = make_model(tiny_clip, "vamp").train()
    out = model(images)
    a = model.kl_divergence(out, torch.tensor([0, 0, 0]))
    b = model.kl_divergence(out, torch.tensor([1, 2, 3]))
    assert not torch.allclose(a, b)


def test_mmrl_variant_is_mmrl(tiny_clip, images):
    """MMRL row: shared text prompts F_t(R), identical for every image, fusion of two heads."""
    model = make_model(tiny_clip, "mmrl").eval()
    with torch.no_grad():
        out = model(images)
        one = model(images[:1])
    torch.testing.assert_close(out.logits_cls[:1], one.logits_cls)  # no cross-image effect
    torch.testing.assert_close(out.text_zero_shot_cos, one.text_zero_shot_cos)
    fused = out.logits("fusion", 0.7)
    torch.testing.assert_close(fused, 0.7 * out.logits_cls + 0.3 * out.logits_rep)


def test_class_cache_refreshes_with_class_set(tiny_clip, images):
    model = make_model(tiny_clip).eval()
    prefix_a, _ = model.class_states(images.device)
    assert model.class_states(images.device)[0] is prefix_a  # reused
    model.set_classes(["zebra", "yak"], "a photo of a {}.")
    prefix_b, zs = model.class_states(images.device)
    assert prefix_b.num_classes == 2 and zs.shape == (2, 32)
    with torch.no_grad():  # a weight change invalidates the cache too
        model.text_tower.token_embedding.weight.mul_(1.0)
    assert model.class_states(images.device)[0] is not prefix_b


def test_bad_config_values_are_rejected(tiny_clip):
    with pytest.raises(ValueError, match="variant"):
        VaMPConfig(variant="bayes")
    with pytest.raises(ValueError, match="test_samples"):
        VaMPConfig(test_samples=0)
    with pytest.raises(KeyError, match="n_tokens"):
        VaMPConfig.from_dict({"n_tokens": 3})
    with pytest.raises(ValueError, match="first_prompt_layer=13"):
        VaMPModel(tiny_clip, VaMPConfig(first_prompt_layer=13))


def test_checkpoint_state_holds_only_trainable_modules(tiny_clip):
    model = make_model(tiny_clip)
    state = model.trainable_state_dict()
    n_state = sum(v.numel() for v in state.values())
    assert n_state == model.parameter_counts()["total"]
    fresh = make_model(tiny_clip, perturb=False)
    fresh.load_trainable_state_dict(state)
    for (n, a), (_, b) in zip(model.prompt_learner.state_dict().items(), fresh.prompt_learner.state_dict().items()):
        assert torch.equal(a, b), n


def test_training_chunks_give_same_gradients_as_one_chunk(tiny_clip, images):
    """Chunked recomputation (checkpointing) changes memory, not the maths."""
    labels = torch.tensor([0, 1, 2])
    grads = []
    for budget in (1000.0, 0.01):
        model = make_model(tiny_clip, "vamp", text_chunk_mb=budget).train()
        noise = torch.randn(7, 3, 1, K, 64, generator=torch.Generator().manual_seed(5))
        model.loss(model(images, noise=noise), labels).total.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.trainable_parameters()]))
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)  # logits scale 100


def test_bf16_autocast_keeps_posterior_kl_and_logits_in_fp32(tiny_clip, images):
    model = make_model(tiny_clip).train()
    labels = torch.tensor([0, 1, 2])
    noise = torch.randn(7, 3, 1, K, 64, generator=torch.Generator().manual_seed(2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(images, noise=noise)
        parts = model.loss(out, labels)
    assert out.posterior_mean.dtype == torch.float32
    assert out.posterior_logvar.dtype == torch.float32
    assert out.logits_cls.dtype == torch.float32 and parts.kl.dtype == torch.float32
    assert torch.isfinite(parts.total)
    parts.total.backward()
    reference = model(images, noise=noise)  # fp32
    cos = out.logits_cls / model.logit_scale
    torch.testing.assert_close(cos, reference.logits_cls.detach() / model.logit_scale, atol=0.05, rtol=0)
    # The class cache is kept per precision: fp32 after bf16 does not reuse the bf16 prefix.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        prefix_bf16 = model.class_states(images.device)[0]
    assert model.class_states(images.device)[0] is not prefix_bf16


@pytest.mark.parametrize("first_layer", [1, 12])
def test_fast_path_equals_naive_for_extreme_prompt_depths(tiny_clip, images, first_layer):
    model = make_model(tiny_clip, "vamp", text_chunk_mb=0.02, first_prompt_layer=first_layer).eval()
    n_layers = 13 - first_layer
    noise = torch.randn(n_layers, 3, 2, K, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fast = model(images, n_samples=2, noise=noise).logits("fusion", 0.7)
    naive = naive_sample_logits(model, images, "fusion", 2, noise=noise)
    scale = float(model.logit_scale)
    torch.testing.assert_close(fast / scale, naive / scale, atol=1e-5, rtol=0)

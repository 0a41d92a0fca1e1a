"""What the official MMRL code computes, pinned by hand computations; the class-aware prior as the
paper states it; token-wise posteriors; the numerics that make runs reproducible."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from conftest import CLASSNAMES
from vamp_prompt import VIT_B16_ARCH, VaMPConfig, VaMPModel, gaussian_kl
from vamp_prompt.clip_backbone import import_clip
from vamp_prompt.latents import image_seed, per_image_noise, soft_clamp
from vamp_prompt.reference import naive_sample_logits
from test_core import PROTO_FEATURES, PROTO_LABELS, make_model

K = 5


def test_representation_feature_normalises_each_token_then_averages(tiny_clip, images):
    """f_rep = (1/K) sum_k ln_post(h_k) @ proj_rep  (not ln_post of the mean)."""
    model = make_model(tiny_clip, "mmrl").eval()
    base, tower = model.base, model.vision_tower
    with torch.no_grad():
        vision = tower(images, base.vision_tokens())
        states = vision.states[1 : 1 + K]  # (K, B, D)
        ln = tower.visual.ln_post
        by_hand = torch.stack([ln(states[k]) for k in range(K)]).mean(0) @ base.proj_rep
        rep = base.image_features(vision, tower)["rep"]
        old_order = ln(states.mean(0)) @ base.proj_rep
    torch.testing.assert_close(rep, by_hand, atol=1e-6, rtol=0)
    assert (rep - old_order).abs().max() > 1e-4  # the two orders really differ


def test_initial_values_follow_the_official_code(tiny_clip):
    torch.manual_seed(0)
    model = VaMPModel(tiny_clip, VaMPConfig(variant="mmrl"))
    base = model.base
    for projections in (base.to_text, base.to_vision):
        first = projections[0]
        for layer in projections[1:]:  # one Linear, deep-copied: all start identical
            assert torch.equal(layer.weight, first.weight) and torch.equal(layer.bias, first.bias)
        assert projections[1].weight.data_ptr() != first.weight.data_ptr()  # but not shared
    width = tiny_clip.visual.conv1.out_channels
    std = float(base.proj_rep.detach().std())
    assert abs(std - width**-0.5) < 0.15 * width**-0.5  # width^-0.5 * N(0, 1)
    assert not torch.equal(base.proj_rep, tiny_clip.visual.proj)
    copied = VaMPModel(tiny_clip, VaMPConfig(variant="mmrl", proj_rep_init="clip")).base.proj_rep
    assert torch.equal(copied, tiny_clip.visual.proj)
    assert float(base.tokens.detach().std()) == pytest.approx(0.02, rel=0.3)


def test_logit_scale_is_mmrls_100_unless_overridden(tiny_clip):
    clip_scale = float(tiny_clip.logit_scale.exp())
    assert abs(clip_scale - 100.0) > 1.0  # a random CLIP's temperature is not 100
    assert float(VaMPModel(tiny_clip, VaMPConfig(variant="mmrl")).logit_scale) == 100.0
    own = VaMPModel(tiny_clip, VaMPConfig(variant="mmrl", logit_scale=-1.0)).logit_scale
    assert float(own) == pytest.approx(clip_scale)
    assert float(VaMPModel(tiny_clip, VaMPConfig(logit_scale=30.0)).logit_scale) == 30.0


@pytest.mark.parametrize(
    "base,counts",
    [
        ("mmrl", {"mmrl": 4_992_256, "sample_specific": 5_038_890, "variational": 5_063_978, "vamp": 5_135_700}),
        ("maple", {"maple": 3_555_072, "sample_specific": 3_615_030, "variational": 3_647_286, "vamp": 3_739_500}),
    ],
)
def test_trainable_parameter_counts_at_vit_b16_shape(base, counts):
    clip = import_clip()
    with torch.device("meta"):
        clip_model = clip.model.CLIP(**VIT_B16_ARCH)
        for variant, expected in counts.items():
            model = VaMPModel(clip_model, VaMPConfig(variant=variant, base=base))
            assert model.parameter_counts()["total"] == expected, variant


def test_soft_clamp_bounds_smoothly_and_keeps_gradients():
    x = torch.tensor([-12.0, -8.0, -2.0, 0.0, 1.0, 4.0, 9.0], requires_grad=True)
    y = soft_clamp(x, -8.0, 4.0)
    assert bool((y > -8.0).all()) and bool((y < 4.0).all())
    torch.testing.assert_close(y[2:5], x[2:5].detach(), atol=2e-3, rtol=0)  # identity inside
    y.sum().backward()
    assert bool((x.grad > 0).all())  # a log-variance past a bound can still move back


def test_kl_is_never_negative_in_fp32_and_zero_when_equal():
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(10000, generator=g)
    logvar = torch.randn(10000, generator=g) * 3
    tiny = 1e-7 * torch.randn(10000, generator=g)
    kl = gaussian_kl(mean, logvar + tiny, mean, logvar)
    assert bool((kl >= 0).all())
    assert float(gaussian_kl(mean, logvar, mean, logvar).abs().max()) == 0.0
    textbook = 0.5 * (torch.exp(tiny) - tiny - 1)  # what rounds below zero
    assert bool((textbook < 0).any())


def test_posterior_mean_prototypes_by_hand(tiny_clip, images):
    """o_{y,i} = mean over class-y training images of mu_i(f_j), with the current network."""
    model = make_model(tiny_clip, "vamp")
    labels = torch.tensor([3, 1, 3])
    codes = model.prior_codes(labels, None)
    feats = F.normalize(PROTO_FEATURES, dim=-1)
    mus = model.latents.posterior_means(feats)  # (P, N, 1, D)
    for b, y in enumerate(labels.tolist()):
        members = (PROTO_LABELS == y).nonzero().flatten()
        expected = mus[:, members].mean(1)
        torch.testing.assert_close(torch.stack(codes)[:, b], expected, atol=1e-6, rtol=0)
    assert not any(c.requires_grad for c in codes)  # a target by default
    grad_model = make_model(tiny_clip, "vamp", prototype_grad=True)
    assert all(c.requires_grad for c in grad_model.prior_codes(labels, None))


def test_prototype_grad_decides_whether_the_prior_path_trains_the_posterior(tiny_clip, images):
    labels = torch.tensor([0, 1, 2])
    grads = {}
    for flag in (False, True):
        model = make_model(tiny_clip, "vamp", prototype_grad=flag).train()
        out = model(images, noise=torch.zeros(7, 3, 1, K, 64))
        kl = model.kl_divergence(out, labels)
        trunk = model.latents.posterior[0].trunk[0].weight
        grads[flag] = torch.autograd.grad(kl, trunk)[0]
    assert not torch.allclose(grads[False], grads[True])


def test_feature_prototype_codes_are_options(tiny_clip, images):
    for code in ("prototype", "prototype_instance"):
        model = make_model(tiny_clip, "vamp", prior_code=code).train()
        parts = model.loss(model(images), torch.tensor([0, 1, 2]))
        assert torch.isfinite(parts.total) and float(parts.kl.detach()) > 0


def test_tokenwise_posterior_gives_each_token_its_own_mean(tiny_clip, images):
    model = make_model(tiny_clip, "vamp", posterior_tokens="tokenwise", text_chunk_mb=0.02).eval()
    with torch.no_grad():
        out = model(images, n_samples=2)
    assert out.posterior_mean.shape == (7, 3, K, 64)
    assert not torch.allclose(out.posterior_mean[:, :, 0], out.posterior_mean[:, :, 1])
    noise = torch.randn(7, 3, 2, K, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fast = model(images, n_samples=2, noise=noise).logits("fusion", 0.7)
    naive = naive_sample_logits(model, images, "fusion", 2, noise=noise)
    torch.testing.assert_close(fast / 100, naive / 100, atol=1e-5, rtol=0)
    labels = torch.tensor([0, 1, 2])
    model.train()
    parts = model.loss(model(images, noise=noise[:, :, :1]), labels)
    assert float(parts.kl.detach()) > 0


def test_per_image_noise_does_not_depend_on_the_batch(tiny_clip, images):
    """Each image's draws come from (seed, index): results do not change with the batching."""
    model = make_model(tiny_clip, "vamp").eval()
    shape = model.noise_shape(4)
    seeds = [image_seed(1, i) for i in range(3)]
    with torch.no_grad():
        together = model.predict(images, n_samples=4, noise=per_image_noise(seeds, shape, "cpu"))
        alone = model.predict(images[2:], n_samples=4, noise=per_image_noise(seeds[2:], shape, "cpu"))
        more = per_image_noise(seeds[2:], model.noise_shape(6), "cpu")
    torch.testing.assert_close(together[2:] / 100, alone / 100, atol=1e-6, rtol=0)
    # the first S of a larger S are the same draws (the sample sweep reuses them)
    torch.testing.assert_close(more[:, :, :4], per_image_noise(seeds[2:], shape, "cpu"))
    assert image_seed(1, 0) != image_seed(2, 0) and image_seed(1, 0) != image_seed(1, 1)


def test_wrong_image_size_names_the_config_key(tiny_clip):
    model = make_model(tiny_clip, "mmrl").eval()
    with pytest.raises(ValueError, match=r"INPUT.SIZE \(64, 64\)"):
        model(torch.randn(1, 3, 96, 96))


def test_prior_uses_the_class_members_only(tiny_clip, images):
    """Changing another class's training features leaves this class's prior untouched."""
    model = make_model(tiny_clip, "vamp")
    before = model.prior_codes(torch.tensor([0]), None)
    feats = PROTO_FEATURES.clone()
    feats[PROTO_LABELS == 3] += 5.0
    model.set_prototype_features(feats, PROTO_LABELS, len(CLASSNAMES))
    after = model.prior_codes(torch.tensor([0]), None)
    torch.testing.assert_close(torch.stack(before), torch.stack(after))


def test_relative_offsets_are_measured_in_token_units(tiny_clip, images):
    from vamp_prompt.latents import LatentStatistics, latent_offsets

    model = make_model(
        tiny_clip, "vamp", offset_scale="relative", latent_scale=0.5, code_scale="sqrt_dim", text_chunk_mb=0.02
    ).eval()
    shared = model.base.text_tokens()
    z = torch.ones(7, 2, 1, K, 64)
    offsets = latent_offsets(z, model.cfg, shared)
    rms = shared.detach().pow(2).mean((-1, -2)).sqrt()
    torch.testing.assert_close(offsets[:, 0, 0, 0, 0], 0.5 * rms)
    noise = torch.randn(7, 3, 2, K, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(images, n_samples=2, noise=noise)
    naive = naive_sample_logits(model, images, "fusion", 2, noise=noise)
    torch.testing.assert_close(out.logits("fusion", 0.7) / 100, naive / 100, atol=1e-5, rtol=0)
    stats = LatentStatistics()
    stats.update(out.posterior_mean, out.posterior_logvar, model.cfg, shared)
    values = stats.compute()
    mu = out.posterior_mean * 0.5  # relative units: c_i / rms = 0.5
    by_hand = mu.flatten(2).std(1, unbiased=False).pow(2).mean(-1).sqrt().mean()
    assert values["offset_spread"] == pytest.approx(float(by_hand), rel=1e-4)
    sigma = torch.exp(0.5 * out.posterior_logvar).mean((1, 2, 3))
    assert values["sigma"] == pytest.approx(float(sigma.mean()), rel=1e-5)
    assert values["noise_size"] == pytest.approx(0.5 * float(sigma.mean()), rel=1e-5)

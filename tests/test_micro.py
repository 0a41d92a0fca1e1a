"""The micro world, the micro CLIP's pretraining and the benchmark, in about two minutes.

A reduced micro CLIP (6 layers per tower, small batches, 200 steps) is pretrained once per
session; its zero-shot accuracy on combinations never shown in pretraining must be well above
chance, and one short prompt-learning run through the real train.py must raise base accuracy
above zero-shot on the MicroShapes layout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from vamp_prompt.micro.captions import caption, positives
from vamp_prompt.micro.dataset import DatasetSpec, choose_classes, write_dataset
from vamp_prompt.micro.model import MicroArch, build_micro_clip, encode_text_to_eot
from vamp_prompt.micro.pretrain import PretrainSpec, multi_positive_infonce, pretrain, pretraining_combos, sample_batch
from vamp_prompt.micro.store import save_weights
from vamp_prompt.micro.world import DOWNSTREAM_STYLE, PRETRAIN_STYLE, all_combos, held_out_in_pretraining, render
from vamp_prompt.micro.zeroshot import accuracy_on

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDUCED_ARCH = MicroArch(vision_layers=6, transformer_layers=6)
# No shape warm-up: in 200 steps the reduced model learns no shape either way (15% with 50 warm-up
# steps, chance 12.5%), and the warm-up halves its held-out accuracy (9.7% against 19.7%).
REDUCED_SPEC = PretrainSpec(seed=0, steps=200, groups=8, warmup=20, shape_warmup=0, arch=REDUCED_ARCH)


def test_world_is_deterministic_and_holds_out_a_quarter():
    combos = all_combos()
    assert len(combos) == 256 and sum(map(held_out_in_pretraining, combos)) == 64
    a = render(combos[:8], DOWNSTREAM_STYLE, np.random.default_rng(3))
    b = render(combos[:8], DOWNSTREAM_STYLE, np.random.default_rng(3))
    assert a.shape == (8, 32, 32, 3) and np.array_equal(a, b) and 0 <= a.min() and a.max() <= 1


def test_captions_are_positive_for_every_image_with_their_attributes():
    rng = np.random.default_rng(0)
    combos = [(0, 1, 2), (0, 3, 2), (4, 1, 0)]
    queries = [caption(c, rng)[1] for c in combos]
    pos = positives(combos, queries)
    assert pos.diagonal().all()
    pos = positives(combos, [(0, None, None), (None, 1, None)])
    assert pos.tolist() == [[True, True], [True, False], [False, True]]
    logits = torch.randn(3, 2, requires_grad=True)
    multi_positive_infonce(logits, torch.from_numpy(pos)).backward()
    assert torch.isfinite(logits.grad).all()


def test_caption_mix_names_the_attributes_it_says():
    rng = np.random.default_rng(1)
    combo = (2, 5, 3)
    for attr in range(3):
        single = tuple(1.0 if a == attr else 0.0 for a in range(3))
        text, query = caption(combo, rng, single=single, pair=0.0)
        assert query == tuple(v if a == attr else None for a, v in enumerate(combo)), text
    for _ in range(20):
        _, query = caption(combo, rng, single=(0.0, 0.0, 0.0), pair=1.0)
        assert sum(q is not None for q in query) == 2
    _, query = caption(combo, rng, single=(0.0, 0.0, 0.0), pair=0.0)
    assert query == combo
    named = [sum(q is not None for q in caption(combo, rng)[1]) for _ in range(2000)]
    assert abs(np.mean(np.equal(named, 1)) - 0.45) < 0.04  # default: 45% one attribute
    assert abs(np.mean(np.equal(named, 3)) - 0.45) < 0.04  # 45% all three


def test_shape_warmup_batches_name_only_the_shape():
    spec = PretrainSpec(groups=4)
    combos, texts, queries = sample_batch(spec, np.random.default_rng(0), pretraining_combos(), shape_only=True)
    assert len(combos) == 32 and len(texts) == 16
    assert all(q[1] is None and q[2] is None and q[0] is not None for q in queries)
    assert all(t.startswith("a photo of a ") for t in texts)


def test_text_pass_cut_at_eot_is_exact():
    from vamp_prompt.clip_backbone import tokenize

    model = build_micro_clip(REDUCED_ARCH, seed=1).eval()
    tokens = tokenize(["a photo of a red striped star.", "a ring."])
    with torch.no_grad():
        torch.testing.assert_close(encode_text_to_eot(model, tokens), model.encode_text(tokens), rtol=1e-5, atol=1e-5)


def test_classes_base_and_new_disjoint_with_unseen_new():
    base, new = choose_classes(DatasetSpec(classes_per_half=8))
    assert not {c[0] for c in base} & {c[0] for c in new}  # disjoint shapes
    assert not any(map(held_out_in_pretraining, base))
    assert sum(map(held_out_in_pretraining, new)) == 4


@pytest.fixture(scope="module")
def reduced_clip(tmp_path_factory):
    torch.set_num_threads(1)
    model, summary = pretrain(REDUCED_SPEC, log=None)
    path = str(tmp_path_factory.mktemp("micro") / "micro_clip.pt")
    save_weights(model, path)
    return model, path


def test_reduced_pretraining_transfers_zero_shot_to_held_out_combinations(reduced_clip):
    model, _ = reduced_clip
    held = [c for c in all_combos() if held_out_in_pretraining(c)]
    acc = accuracy_on(model, held, PRETRAIN_STYLE, per_class=5, seed=7)
    assert acc >= 3 / len(held), f"zero-shot {acc:.3f} on 64 held-out combinations (chance 0.016)"


def test_short_prompt_learning_beats_zero_shot_on_base(reduced_clip, tmp_path):
    pytest.importorskip(
        "dassl", exc_type=ImportError, reason="Dassl is not installed: the prompt-learning run is skipped"
    )
    from vamp_prompt.clip_backbone import load_clip
    from vamp_prompt.micro.benchmark import zero_shot_split

    _, clip_path = reduced_clip
    data = str(tmp_path / "data")
    write_dataset(data, DatasetSpec(classes_per_half=8, train_per_class=16, val_per_class=4, test_per_class=24))
    zero_shot = zero_shot_split(load_clip(clip_path), data, "base")["accuracy"]
    out = str(tmp_path / "run")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--root",
            data,
            "--seed",
            "1",
            "--trainer",
            "VaMP",
            "--dataset-config-file",
            "configs/datasets/micro_shapes.yaml",
            "--config-file",
            "configs/trainers/VaMP/micro_mmrl.yaml",
            "--output-dir",
            out,
            "MODEL.BACKBONE.NAME",
            clip_path,
            "DATASET.NUM_SHOTS",
            "16",
            "DATASET.SUBSAMPLE_CLASSES",
            "base",
            "OPTIM.MAX_EPOCH",
            "5",
            "TRAINER.VAMP.FIRST_PROMPT_LAYER",
            "3",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    trained = json.load(open(os.path.join(out, "metrics.json")))["accuracy"]
    assert trained > zero_shot, f"prompt learning {trained:.1f}% vs zero-shot {zero_shot:.1f}%"


def test_pretraining_is_deterministic_from_the_seed():
    torch.set_num_threads(1)
    spec = PretrainSpec(seed=3, steps=3, groups=2, warmup=1, arch=MicroArch(vision_layers=2, transformer_layers=2))
    first, _ = pretrain(spec, log=None)
    second, _ = pretrain(spec, log=None)
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key

"""Uncertainty plots from the three input files the trainer writes."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from vamp_prompt.metrics import (
    SampleSweepAccumulator,
    UncertaintyAccumulator,
    per_image_records,
    write_per_image_csv,
)
from vamp_prompt.plots import compactness, main, write_latents, write_reliability, write_s_sweep


def _assert_png(path):
    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as img:
        assert img.format == "PNG"
        img.verify()


@pytest.fixture()
def run_dir(tmp_path):
    g = torch.Generator().manual_seed(0)
    n, s, c = 60, 20, 5
    logits = torch.randn(n, s, c, generator=g) * 2
    labels = torch.randint(0, c, (n,), generator=g)
    unc = tmp_path / "run" / "uncertainty"

    acc = UncertaintyAccumulator()
    acc.update(logits[:, :10], labels)
    write_reliability(unc / "reliability.json", acc)

    sweep = SampleSweepAccumulator([1, 2, 5, 10, 20])
    sweep.update(logits, labels)
    write_s_sweep(unc / "s_sweep.json", sweep.samples, sweep.compute())

    layers, d = [6, 7, 8], 16
    post = torch.randn(len(layers), n, d, generator=g)
    post += 3 * torch.nn.functional.one_hot(labels, d).float()  # some class structure
    prior = torch.randn(len(layers), c, d, generator=g)
    write_latents(unc / "latents.npz", labels, layers, post, prior)  # prior_labels: 0..C-1
    return tmp_path / "run"


def test_all_three_plots(run_dir):
    unc = run_dir / "uncertainty"
    sweep = json.loads((unc / "s_sweep.json").read_text())
    assert sweep["samples"] == [1, 2, 5, 10, 20]
    assert {"accuracy", "ece", "nll"} <= set(sweep) and len(sweep["ece"]) == 5
    rel = json.loads((unc / "reliability.json").read_text())
    assert rel["n_bins"] == 15 and sum(rel["count"]) == 60 and len(rel["accuracy"]) == 15
    with np.load(unc / "latents.npz") as npz:
        assert npz["posterior_means"].shape == (3, 60, 16) and npz["prior_labels"].tolist() == [
            0,
            1,
            2,
            3,
            4,
        ]

    assert main([str(run_dir)]) == 0
    for name in ("reliability.png", "s_sweep.png", "latents.png"):
        _assert_png(unc / name)


def test_partial_inputs_and_out_dir(run_dir, tmp_path):
    unc = run_dir / "uncertainty"
    (unc / "s_sweep.json").unlink()
    (unc / "latents.npz").unlink()
    (unc / "reliability.json").unlink()
    # reliability falls back to the per-image CSV
    probs = torch.softmax(torch.randn(30, 4), -1)
    write_per_image_csv(
        unc / "per_image.csv",
        [f"{i}.jpg" for i in range(30)],
        torch.randint(0, 4, (30,)),
        per_image_records(probs),
    )
    out = tmp_path / "figs"
    assert main([str(unc), "--out", str(out)]) == 0  # RUN_DIR may be the uncertainty folder itself
    _assert_png(out / "reliability.png")
    assert not (out / "s_sweep.png").exists() and not (out / "latents.png").exists()


def test_no_inputs_exit_code(tmp_path, capsys):
    (tmp_path / "run" / "uncertainty").mkdir(parents=True)
    assert main([str(tmp_path / "run")]) == 2
    assert "no plot written" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2


def test_compactness_and_writer_validation(tmp_path):
    labels = np.array([0, 0, 1, 1])
    tight = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    # within: 1 (both pairs); between: mean of 10, sqrt(101), sqrt(101), 10
    assert compactness(tight, labels) == pytest.approx(1.0 / ((20 + 2 * np.sqrt(101)) / 4))
    assert np.isnan(compactness(tight, np.array([0, 1, 2, 3])))  # no same-class pair
    with pytest.raises(ValueError):
        write_latents(tmp_path / "l.npz", [0, 1], [6], np.zeros((2, 2, 3)))  # L mismatch
    with pytest.raises(ValueError):
        write_s_sweep(tmp_path / "s.json", [1, 2], [{"accuracy": 1.0}])
    with pytest.raises(ValueError):
        write_reliability(tmp_path / "r.json", {"ece": 1.0})

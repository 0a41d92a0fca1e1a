"""Uncertainty metrics on hand-made tables with known answers."""

import csv
import json
import math

import pytest
import torch

from vamp_prompt.metrics import (
    NLL_EPS,
    SampleSweepAccumulator,
    UncertaintyAccumulator,
    format_metrics_lines,
    per_image_records,
    probs_from_logits,
    reliability_bins,
    summarize_predictions,
    write_metrics_json,
    write_per_image_csv,
)


def test_perfectly_calibrated_has_zero_ece():
    # 10 images at confidence 0.8 of which 8 are right, 4 at 0.5 of which 2 are right.
    probs = torch.tensor([[0.8, 0.2]] * 10 + [[0.5, 0.5]] * 4, dtype=torch.float64)
    labels = torch.tensor([0] * 8 + [1] * 2 + [0, 0, 1, 1])
    m = summarize_predictions(probs, labels)
    assert m["ece"] == pytest.approx(0.0, abs=1e-9)
    assert m["accuracy"] == pytest.approx(100 * 10 / 14)  # argmax of a tie is class 0
    assert m["num_images"] == 14 and m["num_samples"] == 1 and m["n_bins"] == 15


def test_always_wrong_with_confidence_one():
    probs = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    labels = torch.tensor([1, 0])
    m = summarize_predictions(probs, labels)
    assert m["accuracy"] == 0.0
    assert m["ece"] == pytest.approx(100.0)
    assert m["nll"] == pytest.approx(-math.log(NLL_EPS))
    assert m["brier"] == pytest.approx(2.0)
    assert m["predictive_entropy"] == 0.0
    assert m["macro_f1"] == 0.0


def test_uniform_predictions():
    n, c = 6, 4
    probs = torch.full((n, c), 1.0 / c)
    labels = torch.arange(n) % c
    m = summarize_predictions(probs, labels)
    assert m["predictive_entropy"] == pytest.approx(math.log(c))
    assert m["expected_entropy"] == pytest.approx(math.log(c))
    assert m["mutual_information"] == 0.0
    assert m["brier"] == pytest.approx(1.0 - 1.0 / c)
    assert m["nll"] == pytest.approx(math.log(c))
    # confidence 0.25 lies in (3/15, 4/15]: bin 3; argmax of a tie is class 0
    bins = reliability_bins(torch.full((n,), 0.25), torch.zeros(n))
    assert bins["count"][3] == n


def test_confidence_edges_go_to_first_and_last_bins():
    conf = torch.tensor([0.0, 1.0 / 15, 0.5, 1.0, 1.0], dtype=torch.float64)
    bins = reliability_bins(conf, torch.tensor([0, 0, 1, 1, 0]))
    assert bins["count"][0] == 2  # 0 and exactly 1/15 -> (0, 1/15]
    assert bins["count"][7] == 1  # 0.5 in (7/15, 8/15]
    assert bins["count"][14] == 2  # 1.0 in the last bin
    assert bins["accuracy"][14] == 0.5 and bins["confidence"][14] == 1.0
    assert bins["accuracy"][1] is None and bins["confidence"][1] is None
    # ECE = (2/5)|0 - 1/30| + (1/5)|1 - 0.5| + (2/5)|0.5 - 1|
    expected = 100 * (0.4 * (1 / 30) + 0.2 * 0.5 + 0.4 * 0.5)
    assert bins["ece"] == pytest.approx(expected)
    # through summarize_predictions: a one-hot prediction has confidence exactly 1.0
    m = summarize_predictions(torch.tensor([[0.0, 1.0]]), torch.tensor([1]))
    assert m["ece"] == 0.0 and m["accuracy"] == 100.0


def test_mutual_information_zero_when_samples_agree():
    p = torch.tensor([0.7, 0.2, 0.1])
    sample_probs = p.expand(3, 5, 3).clone()
    m = summarize_predictions(sample_probs, torch.tensor([0, 1, 2]))
    assert m["mutual_information"] == 0.0
    ent = -(p * p.log()).sum().item()
    assert m["predictive_entropy"] == pytest.approx(ent)
    assert m["expected_entropy"] == pytest.approx(ent)
    # S == 1 as well
    assert summarize_predictions(p.expand(2, 1, 3), torch.tensor([0, 0]))["mutual_information"] == 0.0


def test_mutual_information_hand_computed():
    # Two samples disagreeing completely: mean is uniform over 2 classes.
    sample_probs = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.9, 0.1], [0.5, 0.5]]], dtype=torch.float64)
    rec = per_image_records(sample_probs)
    assert rec["mutual_information"][0].item() == pytest.approx(math.log(2))

    def h(*ps):
        return -sum(x * math.log(x) for x in ps if x > 0)

    mi_1 = h(0.7, 0.3) - 0.5 * (h(0.9, 0.1) + h(0.5, 0.5))
    assert rec["mutual_information"][1].item() == pytest.approx(mi_1)
    assert rec["confidence"].tolist() == pytest.approx([0.5, 0.7])
    assert rec["prediction"].tolist() == [0, 0]
    m = summarize_predictions(sample_probs, torch.tensor([1, 0]))
    assert m["mutual_information"] == pytest.approx((math.log(2) + mi_1) / 2)
    assert m["mutual_information"] == pytest.approx(m["predictive_entropy"] - m["expected_entropy"])


def test_macro_f1_hand_example():
    # labels 0 0 1 1 2, predictions 0 1 1 1 0:
    # class0 TP1 pred2 true2 -> 0.5; class1 TP2 pred3 true2 -> 0.8; class2 TP0 -> 0
    preds = torch.tensor([0, 1, 1, 1, 0])
    probs = torch.nn.functional.one_hot(preds, 4).double() * 0.9 + 0.025
    labels = torch.tensor([0, 0, 1, 1, 2])
    m = summarize_predictions(probs, labels)
    # class 3 never occurs in the labels and is not averaged (as in Dassl)
    assert m["macro_f1"] == pytest.approx(100 * (0.5 + 0.8 + 0.0) / 3)
    assert m["accuracy"] == pytest.approx(60.0)


def test_accumulator_matches_whole_split():
    g = torch.Generator().manual_seed(0)
    n, s, c = 57, 4, 9
    logits = torch.randn(n, s, c, generator=g) * 3
    labels = torch.randint(0, c, (n,), generator=g)
    whole = summarize_predictions(probs_from_logits(logits), labels)
    acc = UncertaintyAccumulator()
    for start in range(0, n, 10):
        acc.update(logits[start : start + 10].half(), labels[start : start + 10])  # fp16 input
    half = summarize_predictions(probs_from_logits(logits.half()), labels)
    streamed = acc.compute()
    assert streamed.keys() == whole.keys()
    for key in whole:
        assert streamed[key] == pytest.approx(half[key], rel=1e-9, abs=1e-12), key
        assert streamed[key] == pytest.approx(whole[key], rel=1e-2, abs=1e-2), key
    assert len(acc) == n
    assert whole["mutual_information"] > 0
    assert whole["predictive_entropy"] >= whole["expected_entropy"]
    bins = acc.reliability()
    assert sum(bins["count"]) == n and bins["ece"] == pytest.approx(streamed["ece"])
    assert acc.per_image_records()["confidence"].shape == (n,)


def test_accumulator_rejects_inconsistent_batches():
    acc = UncertaintyAccumulator()
    with pytest.raises(ValueError):
        acc.compute()
    acc.update(torch.randn(2, 3, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError):
        acc.update(torch.randn(2, 3, 6), torch.tensor([0, 1]))
    with pytest.raises(ValueError):
        acc.update(torch.randn(2, 2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError):
        summarize_predictions(torch.randn(3, 5) * 10, torch.tensor([0, 1, 2]))  # logits, not probs


def test_sample_sweep_uses_first_samples():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(12, 5, 4, generator=g)
    labels = torch.randint(0, 4, (12,), generator=g)
    sweep = SampleSweepAccumulator([5, 1, 2])
    sweep.update(logits, labels)
    results = sweep.compute()
    assert sweep.samples == [1, 2, 5]
    for s, m in zip(sweep.samples, results):
        ref = summarize_predictions(probs_from_logits(logits[:, :s]), labels)
        assert m["accuracy"] == ref["accuracy"] and m["nll"] == pytest.approx(ref["nll"])
        assert m["num_samples"] == s
    assert results[0]["mutual_information"] == 0.0


def test_format_lines_and_files(tmp_path):
    m = {
        "accuracy": 80.0,
        "nll": 0.43214,
        "ece": 3.2149,
        "brier": 0.25,
        "predictive_entropy": 1.0,
        "expected_entropy": 0.9,
        "mutual_information": 0.1,
    }
    lines = format_metrics_lines(m)
    assert "* nll: 0.4321" in lines and "* ece: 3.21%" in lines
    assert "* mutual_information: 0.1000" in lines
    assert not any(line.startswith("* accuracy") for line in lines)

    path = write_metrics_json(
        tmp_path / "sub" / "metrics.json",
        {**m, "x": torch.tensor(2.5), "bad": float("nan")},
        extra={"seed": 1},
    )
    data = json.loads(path.read_text())
    assert data["accuracy"] == 80.0 and data["seed"] == 1 and data["x"] == 2.5 and data["bad"] is None
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temporary left
    with pytest.raises(ValueError):
        write_metrics_json(tmp_path / "m.json", m, extra={"nll": 1})

    probs = torch.tensor([[0.6, 0.4], [0.1, 0.9]])
    rec = per_image_records(probs)
    csv_path = write_per_image_csv(tmp_path / "per_image.csv", ["a.jpg", "b.jpg"], torch.tensor([0, 0]), rec)
    rows = list(csv.DictReader(csv_path.open()))
    assert list(rows[0]) == [
        "impath",
        "label",
        "prediction",
        "confidence",
        "predictive_entropy",
        "mutual_information",
    ]
    assert rows[1]["impath"] == "b.jpg" and rows[1]["prediction"] == "1"
    assert float(rows[1]["confidence"]) == pytest.approx(0.9)

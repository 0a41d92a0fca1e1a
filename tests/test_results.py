"""The results-table command on a fake output tree."""

import csv
import json
import statistics

import pytest

from vamp_prompt.results import harmonic_mean, load_paper_numbers, main, parse_log

TRAIN_LOG = """Loading trainer: VaMP
epoch [1/10] batch [5/20] loss 1.2
Evaluate on the *val* set
=> result
* accuracy: 11.00%
epoch [10/10] batch [20/20] loss 0.3
Finish training
Deploy the last-epoch model
Evaluate on the *test* set
=> result
* total: 1,000
* correct: 800
* accuracy: {acc:.2f}%
* error: 20.00%
* macro_f1: 79.50%
* nll: 0.5000
* ece: 4.00%
Elapsed: 0:01:00
"""
EVAL_LOG = """Loading weights to VaMP from "output/model.pth.tar-10"
Evaluate on the *test* set
=> result
* total: 500
* accuracy: {acc:.2f}%
* macro_f1: 50.00%
"""

# dataset -> {seed: (base, new)}
B2N = {"caltech101": {1: (98.0, 94.0), 2: (97.0, 92.0)}, "dtd": {1: (80.0, 60.0), 2: (82.0, 56.0)}}
CFG = "vit_b16_ep10"


def _run(root, setting, phase, dataset, seed, log, done=True, metrics=None, cfg=CFG):
    d = root / setting / phase / dataset / "shots_16" / "VaMP" / cfg / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "log.txt").write_text(log)
    if done:
        (d / "DONE").write_text("")
    if metrics is not None:
        (d / "metrics.json").write_text(json.dumps(metrics))
    return d


@pytest.fixture()
def tree(tmp_path):
    root = tmp_path / "output"
    for ds, seeds in B2N.items():
        for seed, (b, n) in seeds.items():
            _run(root, "base2new", "train_base", ds, seed, TRAIN_LOG.format(acc=b))
            metrics = None
            if ds == "caltech101" and seed == 1:  # metrics.json wins over the (rounded) log
                metrics = {"accuracy": n, "ece": 2.5, "nll": 0.25}
                _run(
                    root,
                    "base2new",
                    "test_new",
                    ds,
                    seed,
                    EVAL_LOG.format(acc=n - 5),
                    metrics=metrics,
                )
            else:
                _run(root, "base2new", "test_new", ds, seed, EVAL_LOG.format(acc=n))
    # ImageNet runs with its own config variant; it joins the group of the base config
    _run(
        root,
        "base2new",
        "train_base",
        "imagenet",
        1,
        TRAIN_LOG.format(acc=76.0),
        cfg=CFG + "_imagenet",
    )
    _run(
        root,
        "base2new",
        "test_new",
        "imagenet",
        1,
        EVAL_LOG.format(acc=70.0),
        cfg=CFG + "_imagenet",
    )
    # an unfinished run: log but no DONE marker
    _run(root, "base2new", "train_base", "dtd", 3, TRAIN_LOG.format(acc=99.0), done=False)
    # cross-dataset / domain generalisation
    _run(root, "cross_dataset", "train_source", "imagenet", 1, TRAIN_LOG.format(acc=72.0), cfg="xd")
    _run(root, "cross_dataset", "test_target", "imagenetv2", 1, EVAL_LOG.format(acc=64.0), cfg="xd")
    _run(root, "cross_dataset", "test_target", "caltech101", 1, EVAL_LOG.format(acc=93.0), cfg="xd")
    return root


def _rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_parse_log():
    assert parse_log(TRAIN_LOG.format(acc=80.0)) == {
        "accuracy": 80.0,
        "error": 20.0,
        "macro_f1": 79.5,
        "nll": 0.5,
        "ece": 4.0,
    }
    assert parse_log(EVAL_LOG.format(acc=61.5))["accuracy"] == 61.5
    assert parse_log("epoch 1\n* accuracy: 50.0%\n") == {}  # no end marker
    assert parse_log("Finish training\n") == {}
    assert harmonic_mean(80.0, 60.0) == pytest.approx(2 * 80 * 60 / 140)


def test_tables(tree, tmp_path, capsys):
    out = tmp_path / "tables"
    assert main([str(tree), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "## Base-to-new: VaMP / vit_b16_ep10 (16 shots)" in stdout
    assert (out / "results.md").read_text() == stdout

    rows = {(r["cfg"], r["dataset"]): r for r in _rows(out / "base2new.csv")}
    cal = rows[(CFG, "caltech101")]
    hms = [harmonic_mean(b, n) for b, n in B2N["caltech101"].values()]
    assert float(cal["hm_mean"]) == pytest.approx(statistics.fmean(hms), abs=1e-4)
    assert float(cal["hm_std"]) == pytest.approx(statistics.stdev(hms), abs=1e-4)
    assert float(cal["base_mean"]) == pytest.approx(97.5)
    assert float(cal["base_std"]) == pytest.approx(statistics.stdev([98.0, 97.0]), abs=1e-4)
    # seed 1's 94 comes from metrics.json, not the 89 of its log
    assert float(cal["new_mean"]) == pytest.approx(93.0)
    assert float(cal["new_ece"]) == pytest.approx(2.5)
    assert int(cal["n_hm"]) == 2

    imagenet = rows[(CFG, "imagenet")]  # from the config folder vit_b16_ep10_imagenet
    assert float(imagenet["hm_mean"]) == pytest.approx(harmonic_mean(76.0, 70.0), abs=1e-4)
    assert "imagenet: vit_b16_ep10_imagenet" in stdout

    avg = rows[(CFG, "average")]
    b_avg, n_avg = (76.0 + 97.5 + 81.0) / 3, (70.0 + 93.0 + 58.0) / 3
    assert float(avg["base_mean"]) == pytest.approx(b_avg)
    assert float(avg["new_mean"]) == pytest.approx(n_avg)
    assert float(avg["hm_mean"]) == pytest.approx(harmonic_mean(b_avg, n_avg), abs=1e-4)
    assert avg["note"].startswith("incomplete")
    assert float(avg["paper_vamp_hm"]) == pytest.approx(82.37)
    assert avg["hm_std"] == ""  # one seed common to all datasets of the row
    assert "Average (3/11)" in stdout and "VaMP (paper)" in stdout

    missing = _rows(out / "missing.csv")
    assert any(m["dataset"] == "dtd" and m["seed"] == "3" and m["reason"] == "unfinished" for m in missing)
    assert any(m["dataset"] == "eurosat" and m["reason"] == "no runs" for m in missing)
    assert "unfinished" in stdout

    runs = _rows(out / "runs.csv")
    assert len(runs) == 2 * 2 * 2 + 2 + 1 + 3
    assert {r["status"] for r in runs} == {"ok", "unfinished"}

    dg = {r["dataset"]: r for r in _rows(out / "domain_generalization.csv")}
    assert float(dg["imagenet"]["acc_mean"]) == pytest.approx(72.0)
    assert float(dg["imagenet_v2"]["acc_mean"]) == pytest.approx(64.0)  # folder imagenetv2
    assert float(dg["imagenet_v2"]["paper_vamp"]) == pytest.approx(64.96)
    xd = {r["dataset"]: r for r in _rows(out / "cross_dataset.csv")}
    assert float(xd["average"]["acc_mean"]) == pytest.approx(93.0)
    assert float(xd["average"]["paper_vamp"]) == pytest.approx(67.74)

    png = out / f"base2new__VaMP__{CFG}__shots16.png"
    assert png.is_file() and png.stat().st_size > 1000


def test_config_filter_default_out_and_exit_codes(tree, tmp_path, capsys):
    assert main([str(tree), "--config-name", "xd", "--no-plot"]) == 0
    rows = _rows(tree / "tables" / "base2new.csv")
    assert rows == []  # only the cross-dataset config was selected
    assert main([str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 1


def test_paper_numbers_file():
    paper = load_paper_numbers()
    assert paper["base2new_average"]["VaMP"] == {"base": 86.45, "new": 78.67, "hm": 82.37}
    assert paper["base2new_average"]["MMRL"]["hm"] == 81.20
    assert paper["domain_generalization"]["MMRL"]["imagenet_r"] == 77.53
    assert paper["cross_dataset_target_average"]["VaMP"] == 67.74
    assert [a["hm"] for a in paper["ablation_base2new_average"]] == [81.20, 81.84, 82.10, 82.37]


def test_read_run_prefers_newest_log_and_flags_no_accuracy(tmp_path):
    from vamp_prompt.results import read_run

    d = tmp_path / "seed1"
    d.mkdir()
    (d / "log.txt").write_text("epoch [1/10]\n")  # first attempt crashed
    (d / "log.txt-2025-01-02-10-00-00").write_text(TRAIN_LOG.format(acc=70.0))
    (d / "log.txt-2025-01-03-10-00-00").write_text(EVAL_LOG.format(acc=71.0))
    assert read_run(d)[:2] == ("unfinished", 71.0)
    (d / "DONE").write_text("")
    status, acc, metrics, source = read_run(d)
    assert (status, acc, source) == ("ok", 71.0, "log.txt-2025-01-03-10-00-00")
    assert metrics["macro_f1"] == 50.0
    e = tmp_path / "seed2"
    e.mkdir()
    (e / "DONE").write_text("")
    (e / "metrics.json").write_text("{not json")
    assert read_run(e)[:2] == ("no_accuracy", None)
    # a metrics.json of a validation pass does not count; the log's test result does
    (d / "metrics.json").write_text(json.dumps({"accuracy": 12.0, "split": "val"}))
    assert read_run(d)[1] == 71.0
    (d / "metrics.json").write_text(json.dumps({"accuracy": 71.25, "split": "test", "ece": 1.5}))
    assert read_run(d)[1:] == (71.25, {"accuracy": 71.25, "ece": 1.5}, "metrics.json")

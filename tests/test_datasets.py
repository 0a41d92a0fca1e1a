"""The CoOp-format dataset readers, run on synthetic data in the real layouts."""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "dassl",
    exc_type=ImportError,
    reason=(
        "Dassl is not installed (or its runtime deps such as wilds are missing): "
        "git clone https://github.com/KaiyangZhou/Dassl.pytorch && cd Dassl.pytorch && "
        "pip install -r requirements.txt && pip install --no-build-isolation -e ."
    ),
)

from dassl.config import get_cfg_default
from dassl.data.datasets import DatasetBase
from dassl.utils import Registry

from vamp_prompt.data import (
    DATASET_NAMES,
    REGISTERED_NAMES,
    SYNTHETIC_DATASETS,
    CorruptImageError,
    DatasetLayoutError,
    check_readable_image,
    fewshot_cache_path,
    get_dataset_class,
    register_datasets,
    write_split_file,
    write_synthetic_dataset,
)

REPO = Path(__file__).resolve().parents[1]
N_CLASSES = 5
PER_CLASS = 10  # synthetic: 5 train, 2 val, 3 test per class (ImageNet: 7 train, 3 val)
TEST_ONLY = ("ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR")
SPLIT_DATASETS = tuple(n for n in SYNTHETIC_DATASETS if n not in TEST_ONLY + ("ImageNet", "FGVCAircraft"))

EXPECTED_CLASSNAMES = {
    "ImageNet": ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead shark"],
    "Caltech101": ["face", "leopard", "motorbike", "accordion", "airplane"],
    "OxfordPets": [
        "abyssinian",
        "american_bulldog",
        "american_pit_bull_terrier",
        "basset_hound",
        "beagle",
    ],
    "StanfordCars": [
        "2000 AM General Hummer SUV",
        "2012 Acura RL Sedan",
        "2012 Acura TL Sedan",
        "2008 Acura TL Type-S",
        "2012 Acura TSX Sedan",
    ],
    "OxfordFlowers": [
        "pink primrose",
        "hard-leaved pocket orchid",
        "canterbury bells",
        "sweet pea",
        "english marigold",
    ],
    "Food101": ["apple_pie", "baby_back_ribs", "baklava", "beef_carpaccio", "beef_tartare"],
    "FGVCAircraft": ["707-320", "727-200", "737-200", "737-300", "A300B4"],
    "SUN397": ["abbey", "airport_terminal", "alley", "outdoor apartment_building", "shop bakery"],
    "DescribableTextures": ["banded", "blotchy", "braided", "bubbly", "bumpy"],
    "EuroSAT": [
        "Annual Crop Land",
        "Forest",
        "Herbaceous Vegetation Land",
        "Highway or Road",
        "Industrial Buildings",
    ],
    "UCF101": ["Apply_Eye_Makeup", "Apply_Lipstick", "Archery", "Baby_Crawling", "Balance_Beam"],
    "ImageNetV2": ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead shark"],
    "ImageNetSketch": ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead shark"],
    "ImageNetA": ["goldfish", "tiger shark", "electric ray", "rooster", "ostrich"],
    "ImageNetR": ["goldfish", "tiger shark", "electric ray", "rooster", "ostrich"],
}


def make_cfg(root, num_shots=-1, subsample="all", seed=1):
    cfg = get_cfg_default()
    cfg.DATASET.SUBSAMPLE_CLASSES = "all"  # the forks add this key; declare it first
    cfg.DATASET.ROOT = str(root)
    cfg.DATASET.NUM_SHOTS = num_shots
    cfg.DATASET.SUBSAMPLE_CLASSES = subsample
    cfg.SEED = seed
    return cfg


def build(name, root, **kw):
    return get_dataset_class(name)(make_cfg(root, **kw))


def per_class(items):
    counts = {}
    for d in items:
        counts[d.label] = counts.get(d.label, 0) + 1
    return counts


def expected_sizes(name, k=PER_CLASS):
    """Per-class (train, val, test) of the synthetic writer."""
    if name in TEST_ONLY:
        return k, 0, k
    n_test = max(1, round(k * 0.3))
    if name == "ImageNet":
        return k - n_test, n_test, n_test  # val is the test set
    n_val = max(1, round(k * 0.2))
    return k - n_val - n_test, n_val, n_test


@pytest.fixture
def make_data(tmp_path):
    def _make(name, num_classes=N_CLASSES, per_class_=PER_CLASS):
        return write_synthetic_dataset(name, str(tmp_path), num_classes, per_class_)

    return _make


def test_fifteen_registry_names():
    assert set(DATASET_NAMES) == set(EXPECTED_CLASSNAMES) and len(DATASET_NAMES) == 15
    assert set(SYNTHETIC_DATASETS) == set(DATASET_NAMES)
    for name in DATASET_NAMES:
        cls = get_dataset_class(name)
        assert cls.__name__ == name and issubclass(cls, DatasetBase)


# ------------------------------------------------------------------ reading
@pytest.mark.parametrize("name", SYNTHETIC_DATASETS)
def test_reads_synthetic_dataset(name, tmp_path, make_data):
    folder = make_data(name)
    ds = build(name, tmp_path)
    assert os.path.dirname(folder) == str(tmp_path)
    assert ds.num_classes == N_CLASSES
    assert ds.classnames == EXPECTED_CLASSNAMES[name]
    assert ds.lab2cname == dict(enumerate(EXPECTED_CLASSNAMES[name]))
    n_train, n_val, n_test = expected_sizes(name)
    assert per_class(ds.train_x) == {y: n_train for y in range(N_CLASSES)}
    assert per_class(ds.test) == {y: n_test for y in range(N_CLASSES)}
    if name in TEST_ONLY:
        assert ds.val is None and ds.train_x == ds.test
    else:
        assert per_class(ds.val) == {y: n_val for y in range(N_CLASSES)}
    for d in ds.train_x + ds.test:
        assert os.path.isabs(d.impath) and os.path.isfile(d.impath)
        assert d.classname == ds.lab2cname[d.label]


@pytest.mark.parametrize("name", [n for n in SYNTHETIC_DATASETS if n not in TEST_ONLY])
def test_fewshot_counts_and_cache(name, tmp_path, make_data, monkeypatch, capsys):
    folder = make_data(name)
    state = random.getstate()
    ds = build(name, tmp_path, num_shots=2, seed=3)
    assert random.getstate() == state  # global RNG untouched
    cache = fewshot_cache_path(folder, 2, 3)
    assert f"Saving preprocessed few-shot data to {cache}\n" in capsys.readouterr().out
    assert cache == os.path.join(folder, "split_fewshot", "shot_2-seed_3.pkl")
    assert os.path.isfile(cache)
    assert [p for p in os.listdir(os.path.dirname(cache)) if p != "shot_2-seed_3.pkl"] == []
    assert per_class(ds.train_x) == {y: 2 for y in range(N_CLASSES)}
    if name == "ImageNet":  # val is the full test set, as in the family
        assert per_class(ds.val) == {y: expected_sizes(name)[1] for y in range(N_CLASSES)}
    else:
        assert per_class(ds.val) == {y: 2 for y in range(N_CLASSES)}
    assert per_class(ds.test) == {y: expected_sizes(name)[2] for y in range(N_CLASSES)}

    # The cache is reused: no new sampling, same images.
    def boom(*a, **k):
        raise AssertionError("few-shot subset was re-sampled instead of read from the cache")

    monkeypatch.setattr(DatasetBase, "generate_fewshot_dataset", boom)
    again = build(name, tmp_path, num_shots=2, seed=3)
    assert [d.impath for d in again.train_x] == [d.impath for d in ds.train_x]
    # Said in the run log with the forks' wording.
    assert f"Loading preprocessed few-shot data from {cache}\n" in capsys.readouterr().out


def test_fewshot_val_uses_min_k_4_and_seeds(tmp_path, make_data):
    folder = make_data("DescribableTextures", per_class_=30)  # 15 train, 6 val, 9 test
    ds = build("DescribableTextures", tmp_path, num_shots=8, seed=1)
    assert per_class(ds.train_x) == {y: 8 for y in range(N_CLASSES)}
    assert per_class(ds.val) == {y: 4 for y in range(N_CLASSES)}
    assert per_class(ds.test) == {y: 9 for y in range(N_CLASSES)}
    other = build("DescribableTextures", tmp_path, num_shots=8, seed=2)
    assert {d.impath for d in other.train_x} != {d.impath for d in ds.train_x}
    assert sorted(os.listdir(os.path.join(folder, "split_fewshot"))) == [
        "shot_8-seed_1.pkl",
        "shot_8-seed_2.pkl",
    ]
    # Same seed, fresh folder: the same subset (sampling is seeded, not global-state dependent).
    random.seed(12345)
    fresh_root = tmp_path / "fresh"
    write_synthetic_dataset("DescribableTextures", str(fresh_root), N_CLASSES, 30)
    again = build("DescribableTextures", fresh_root, num_shots=8, seed=1)

    def rel(items, root):
        return sorted(os.path.relpath(d.impath, str(root)) for d in items)

    assert rel(again.train_x, fresh_root) == rel(ds.train_x, tmp_path)
    # More shots than images: all of them; a negative seed writes no cache.
    many = build("DescribableTextures", tmp_path, num_shots=100, seed=-1)
    assert per_class(many.train_x) == {y: 15 for y in range(N_CLASSES)}
    assert not any("seed_-1" in p for p in os.listdir(os.path.join(folder, "split_fewshot")))


@pytest.mark.parametrize("name", ["DescribableTextures", "ImageNet"])
def test_base_new_subsample(name, tmp_path, make_data):
    make_data(name)
    base = build(name, tmp_path, subsample="base")
    new = build(name, tmp_path, subsample="new")
    n_base = math.ceil(N_CLASSES / 2)
    assert base.num_classes == n_base and new.num_classes == N_CLASSES - n_base
    assert base.classnames == EXPECTED_CLASSNAMES[name][:n_base]
    assert new.classnames == EXPECTED_CLASSNAMES[name][n_base:]
    _, _, n_test = expected_sizes(name)
    for ds, k in ((base, n_base), (new, N_CLASSES - n_base)):
        assert per_class(ds.test) == {y: n_test for y in range(k)}
        for part in (ds.train_x, ds.val or [], ds.test):
            assert {d.label for d in part} <= set(range(k))
            assert all(d.classname == ds.lab2cname[d.label] for d in part)
    # Few-shot then subsample: base classes keep their K shots.
    fs = build(name, tmp_path, subsample="new", num_shots=1)
    assert per_class(fs.train_x) == {y: 1 for y in range(N_CLASSES - n_base)}
    with pytest.raises(ValueError, match="SUBSAMPLE_CLASSES"):
        build(name, tmp_path, subsample="novel")


def test_test_only_variants_evaluate_all_classes(tmp_path, make_data, capsys):
    """As in CoOp/MaPLe/MMRL, the four ImageNet variants ignore SUBSAMPLE_CLASSES, and say so."""
    for name in TEST_ONLY:
        make_data(name)
        full = build(name, tmp_path)
        assert "test-only" not in capsys.readouterr().out
        items = [(d.impath, d.label, d.classname) for d in full.test]
        for subsample in ("base", "new"):
            ds = build(name, tmp_path, subsample=subsample)
            assert ds.classnames == EXPECTED_CLASSNAMES[name] and ds.num_classes == N_CLASSES
            assert [(d.impath, d.label, d.classname) for d in ds.test] == items
            assert ds.train_x == ds.test and ds.val is None
            out = capsys.readouterr().out
            assert out.count("\n") == 1, out
            assert out.startswith(
                f"{name} is test-only: evaluating all its {N_CLASSES} classes; "
                f"DATASET.SUBSAMPLE_CLASSES {subsample} is not applied"
            ), out
        with pytest.raises(ValueError, match="SUBSAMPLE_CLASSES"):  # a typo is still an error
            build(name, tmp_path, subsample="novel")


def test_subsample_key_absent_means_all(tmp_path, make_data):
    make_data("EuroSAT")
    cfg = get_cfg_default()
    cfg.DATASET.ROOT = str(tmp_path)
    assert not hasattr(cfg.DATASET, "SUBSAMPLE_CLASSES")
    assert get_dataset_class("EuroSAT")(cfg).num_classes == N_CLASSES


# ------------------------------------------------------------------- errors
def raises_layout(name, root, *needles, **kw):
    with pytest.raises(DatasetLayoutError) as info:
        build(name, root, **kw)
    msg = str(info.value)
    for needle in needles:
        assert str(needle) in msg, f"{needle!r} not in: {msg}"
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    return msg


def test_root_errors(tmp_path):
    msg = raises_layout("DescribableTextures", "", "DATASET.ROOT", "DATA")
    missing = tmp_path / "nope"
    raises_layout("DescribableTextures", missing, str(missing), "--root")
    empty = tmp_path / "empty"
    empty.mkdir()
    raises_layout("DescribableTextures", empty, str(empty), "empty")
    assert "DATA" in msg


def test_missing_dataset_and_image_folders(tmp_path, make_data):
    make_data("EuroSAT")
    raises_layout("DescribableTextures", tmp_path, str(tmp_path / "dtd"), "DATASETS.md", "DTD")
    raises_layout("ImageNetR", tmp_path, str(tmp_path / "imagenet-rendition"), "ImageNet-R")
    (tmp_path / "dtd").mkdir()
    raises_layout("DescribableTextures", tmp_path, str(tmp_path / "dtd" / "images"), "DATASETS.md")
    (tmp_path / "stanford_cars" / "cars_train").mkdir(parents=True)
    raises_layout("StanfordCars", tmp_path, str(tmp_path / "stanford_cars" / "cars_test"))


def test_split_file_missing(tmp_path, make_data, monkeypatch):
    folder = make_data("DescribableTextures")
    split = os.path.join(folder, "split_zhou_DescribableTextures.json")
    os.remove(split)
    monkeypatch.delenv("VAMP_BUILD_SPLITS", raising=False)
    raises_layout("DescribableTextures", tmp_path, split, "DATASETS.md", "VAMP_BUILD_SPLITS=1")
    assert not os.path.exists(split)


@pytest.mark.parametrize(
    "content, needle",
    [
        ('{"train": [["banded/banded_0001.jpg", 0, "banded"]', "not valid JSON"),
        ("[1, 2, 3]", "wrong structure"),
        ('{"train": [["banded/banded_0001.jpg", 0, "banded"]], "test": []}', '"val"'),
        (
            '{"train": [["banded/banded_0001.jpg", "0", "banded"]], "val": [], "test": []}',
            "entry 0",
        ),
        ('{"train": [["banded/banded_0001.jpg", 0]], "val": [], "test": []}', "entry 0"),
        ('{"train": {}, "val": [], "test": []}', '"train"'),
    ],
)
def test_split_file_malformed(content, needle, tmp_path, make_data):
    folder = make_data("DescribableTextures")
    split = os.path.join(folder, "split_zhou_DescribableTextures.json")
    with open(split, "w") as f:
        f.write(content)
    msg = raises_layout("DescribableTextures", tmp_path, split, needle)
    assert "re-download" in msg
    with open(split) as f:
        assert f.read() == content  # never touched


def test_image_listed_but_missing(tmp_path, make_data):
    folder = make_data("OxfordPets")
    with open(os.path.join(folder, "split_zhou_OxfordPets.json")) as f:
        rel = json.load(f)["test"][4][0]
    victim = os.path.join(folder, "images", rel)
    os.remove(victim)
    raises_layout("OxfordPets", tmp_path, victim, '"test"')


def test_labels_not_contiguous(tmp_path, make_data):
    folder = make_data("Caltech101")
    split = os.path.join(folder, "split_zhou_Caltech101.json")
    with open(split) as f:
        data = json.load(f)
    shifted = {k: [[p, y + 1, c] for p, y, c in v] for k, v in data.items()}
    with open(split, "w") as f:
        json.dump(shifted, f)
    raises_layout("Caltech101", tmp_path, split, "0..C-1")
    data["val"].append([data["train"][0][0], 0, "not a face"])
    with open(split, "w") as f:
        json.dump(data, f)
    raises_layout("Caltech101", tmp_path, split, "two class names")


def test_fgvc_aircraft_errors(tmp_path, make_data):
    folder = make_data("FGVCAircraft")
    val_list = os.path.join(folder, "images_variant_val.txt")
    with open(val_list, "a") as f:
        f.write("1999999 Concorde\n")
    raises_layout("FGVCAircraft", tmp_path, val_list, "Concorde")
    os.remove(os.path.join(folder, "variants.txt"))
    raises_layout("FGVCAircraft", tmp_path, os.path.join(folder, "variants.txt"))


def test_imagenet_errors_and_preprocessed_cache(tmp_path, make_data):
    folder = make_data("ImageNet")
    pkl = os.path.join(folder, "preprocessed.pkl")
    extra = os.path.join(folder, "images", "train", "n09999999")
    os.makedirs(extra)
    raises_layout("ImageNet", tmp_path, extra, "classnames.txt")
    os.rmdir(extra)
    ds = build("ImageNet", tmp_path)
    assert os.path.isfile(pkl)
    with open(pkl, "rb") as f:
        cached = pickle.load(f)
    assert [d.impath for d in cached["train"]] == [d.impath for d in ds.train_x]
    # Reused even if the folders change afterwards.
    os.rename(os.path.join(folder, "classnames.txt"), os.path.join(folder, "classnames.bak"))
    assert build("ImageNet", tmp_path).classnames == EXPECTED_CLASSNAMES["ImageNet"]
    # A corrupt cache is reported (and left alone), not silently replaced.
    with open(pkl, "wb") as f:
        f.write(b"\x80\x04truncated")
    raises_layout("ImageNet", tmp_path, pkl, "Move it aside")
    with open(pkl, "rb") as f:
        assert f.read() == b"\x80\x04truncated"
    os.remove(pkl)
    raises_layout("ImageNet", tmp_path, os.path.join(folder, "classnames.txt"))


def test_imagenet_reads_a_forks_lists_in_their_order(tmp_path, make_data):
    """Our listing is sorted; a fork's preprocessed.pkl (file-system order) is used as it is,
    so the seeded K-shot draw is the one the fork makes from that file (README, ImageNet)."""
    folder = make_data("ImageNet")
    ours = build("ImageNet", tmp_path)
    for y in range(N_CLASSES):
        paths = [d.impath for d in ours.train_x if d.label == y]
        assert paths == sorted(paths)
    # A fork's file: classes in sorted folder order, images in another (file-system) order.
    fork_train = [d for y in range(N_CLASSES) for d in reversed(ours.train_x) if d.label == y]
    with open(os.path.join(folder, "preprocessed.pkl"), "wb") as f:
        pickle.dump({"train": fork_train, "test": ours.test}, f)
    drawn = build("ImageNet", tmp_path, num_shots=2, seed=1)
    state = random.getstate()
    try:
        random.seed(1)  # what the fork's train.py does (set_random_seed) before the draw
        fork_draw = ours.generate_fewshot_dataset(fork_train, num_shots=2)
        random.seed(1)
        sorted_draw = ours.generate_fewshot_dataset(list(ours.train_x), num_shots=2)
    finally:
        random.setstate(state)
    assert [d.impath for d in drawn.train_x] == [d.impath for d in fork_draw]
    assert [d.impath for d in fork_draw] != [d.impath for d in sorted_draw]  # order matters


def test_imagenet_variant_errors(tmp_path, make_data):
    folder = make_data("ImageNetV2")
    bad = os.path.join(folder, "imagenetv2-matched-frequency-format-val", "extra")
    os.makedirs(bad)
    raises_layout("ImageNetV2", tmp_path, bad)
    os.rmdir(bad)
    gap = os.path.join(folder, "imagenetv2-matched-frequency-format-val", "2")
    os.rename(gap, gap + "_")  # folders 0,1,3,4: class 2 missing
    os.makedirs(gap)
    raises_layout("ImageNetV2", tmp_path, gap, "no images")
    sketch = make_data("ImageNetSketch")
    os.remove(os.path.join(sketch, "classnames.txt"))
    raises_layout(
        "ImageNetSketch",
        tmp_path,
        os.path.join(sketch, "classnames.txt"),
        "copy imagenet/classnames.txt",
    )


def test_corrupt_fewshot_cache_is_reported_not_replaced(tmp_path, make_data):
    folder = make_data("EuroSAT")
    cache = fewshot_cache_path(folder, 2, 1)
    os.makedirs(os.path.dirname(cache))
    with open(cache, "wb") as f:
        f.write(b"garbage")
    raises_layout("EuroSAT", tmp_path, cache, "Move it aside", num_shots=2, seed=1)
    with open(cache, "rb") as f:
        assert f.read() == b"garbage"


def test_stale_fewshot_cache_from_another_root(tmp_path, make_data):
    folder = make_data("EuroSAT")
    build("EuroSAT", tmp_path, num_shots=2, seed=1)
    moved = tmp_path / "moved"
    moved.mkdir()
    os.rename(folder, moved / "eurosat")
    raises_layout("EuroSAT", moved, "shot_2-seed_1.pkl", folder, num_shots=2, seed=1)


def test_check_readable_image(tmp_path, make_data):
    folder = make_data("DescribableTextures")
    good = os.path.join(folder, "images", "banded", "banded_0001.jpg")
    img = check_readable_image(good)
    assert img.mode == "RGB" and img.size == (32, 32)
    missing = str(tmp_path / "gone.jpg")
    with pytest.raises(DatasetLayoutError, match="gone.jpg"):
        check_readable_image(missing)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(CorruptImageError) as info:
        check_readable_image(str(garbage))
    assert str(garbage) in str(info.value)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(Path(good).read_bytes()[:300])
    with pytest.raises(CorruptImageError, match="truncated.jpg"):
        check_readable_image(str(truncated))


# ------------------------------------------------------ building split files
@pytest.mark.parametrize("name", SPLIT_DATASETS)
def test_build_missing_split_when_opted_in(name, tmp_path, make_data, monkeypatch):
    folder = make_data(name)
    split = os.path.join(folder, get_dataset_class(name).split_filename)
    with open(split) as f:
        published = json.load(f)
    os.remove(split)
    monkeypatch.setenv("VAMP_BUILD_SPLITS", "1")
    ds = build(name, tmp_path)
    assert ds.classnames == EXPECTED_CLASSNAMES[name]
    with open(split) as f:
        built = json.load(f)
    assert sum(map(len, built.values())) == N_CLASSES * PER_CLASS
    if name in ("OxfordPets", "StanfordCars", "SUN397", "UCF101"):  # official test lists
        assert sorted(map(tuple, built["test"])) == sorted(map(tuple, published["test"]))
    # An existing split file is never rebuilt or rewritten.
    mtime = os.stat(split).st_mtime_ns
    build(name, tmp_path)
    assert os.stat(split).st_mtime_ns == mtime


def test_writers_never_overwrite(tmp_path, make_data):
    folder = make_data("DescribableTextures")
    split = os.path.join(folder, "split_zhou_DescribableTextures.json")
    with pytest.raises(FileExistsError):
        write_split_file(split, {"train": [], "val": [], "test": []})
    with pytest.raises(FileExistsError):
        write_synthetic_dataset("dtd", str(tmp_path), 2, 3)
    with pytest.raises(ValueError):
        write_synthetic_dataset("EuroSAT", str(tmp_path / "x"), 11, 3)


# -------------------------------------------------------------- registration
def test_register_datasets_skips_existing():
    registry = Registry("X")

    class DescribableTextures:  # a fork's own reader
        pass

    registry.register(DescribableTextures)
    done = register_datasets(registry)
    assert "DescribableTextures" not in done and len(done) == len(REGISTERED_NAMES) - 1
    assert registry.get("DescribableTextures") is DescribableTextures
    for name in done:
        assert registry.get(name) is get_dataset_class(name)
    assert register_datasets(registry) == []  # idempotent
    assert register_datasets(registry, skip_existing=False) == list(REGISTERED_NAMES)
    assert registry.get("DescribableTextures") is get_dataset_class("DescribableTextures")


def test_checkout_shims_and_configs(monkeypatch):
    import dassl.data.datasets as dd
    import yaml

    fresh = Registry("DATASET")
    monkeypatch.setattr(dd, "DATASET_REGISTRY", fresh)
    monkeypatch.syspath_prepend(str(REPO))
    for mod in [m for m in sys.modules if m == "datasets" or m.startswith("datasets.")]:
        monkeypatch.delitem(sys.modules, mod)
    try:
        import datasets.dtd
        import datasets.imagenetv2

        assert datasets.dtd.DescribableTextures is get_dataset_class("DescribableTextures")
        assert datasets.imagenetv2.ImageNetV2 is get_dataset_class("ImageNetV2")
        assert sorted(fresh.registered_names()) == sorted(REGISTERED_NAMES)
    finally:
        for mod in [m for m in sys.modules if m == "datasets" or m.startswith("datasets.")]:
            del sys.modules[mod]
    names = {}
    for path in sorted((REPO / "configs" / "datasets").glob("*.yaml")):
        names[path.stem] = yaml.safe_load(path.read_text())["DATASET"]["NAME"]
    assert sorted(names.values()) == sorted(REGISTERED_NAMES)
    assert names["dtd"] == "DescribableTextures" and names["imagenet_v2"] == "ImageNetV2"


def test_dassl_data_manager_end_to_end(tmp_path, make_data, monkeypatch):
    import dassl.data.datasets.build as dbuild
    from dassl.data import DataManager

    fresh = Registry("DATASET")
    monkeypatch.setattr(dbuild, "DATASET_REGISTRY", fresh)
    register_datasets(fresh)
    make_data("DescribableTextures")
    cfg = make_cfg(tmp_path, num_shots=2, subsample="base")
    cfg.DATASET.NAME = "DescribableTextures"
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.DATALOADER.TRAIN_X.BATCH_SIZE = 4
    cfg.INPUT.SIZE = (32, 32)
    cfg.INPUT.TRANSFORMS = ("normalize",)
    cfg.VERBOSE = False
    dm = DataManager(cfg)
    assert dm.num_classes == 3 and dm.lab2cname == {0: "banded", 1: "blotchy", 2: "braided"}
    batch = next(iter(dm.train_loader_x))
    assert tuple(batch["img"].shape) == (4, 3, 32, 32)
    assert set(batch["label"].tolist()) <= {0, 1, 2}

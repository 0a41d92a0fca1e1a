"""Build split entries from a dataset's raw layout (no Dassl import).

Used (a) by the test-only/ImageNet readers, which have no split file, and
(b) when the user opts in (``VAMP_BUILD_SPLITS=1``) to building a missing
``split_zhou_*.json`` for a dataset whose raw files are present. A built split
is drawn with a fixed seed but is NOT the published split, so numbers on it
are not comparable with papers.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict, defaultdict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .errors import DatasetLayoutError
from .splits import Split, SplitEntry

__all__ = [
    "IMAGE_EXTENSIONS",
    "list_images",
    "list_class_folders",
    "read_imagenet_classnames",
    "split_trainval",
    "build_folder_split",
    "build_oxford_pets_split",
    "build_oxford_flowers_split",
    "build_stanford_cars_split",
    "build_sun397_split",
    "build_ucf101_split",
    "sun397_classname",
    "ucf101_folder_name",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _require_file(path: str, fix: str) -> None:
    if not os.path.isfile(path):
        raise DatasetLayoutError(f"Expected file {path} is missing ({fix}).")


def _require_dir(path: str, fix: str) -> None:
    if not os.path.isdir(path):
        raise DatasetLayoutError(f"Expected folder {path} is missing ({fix}).")


def list_images(folder: str) -> List[str]:
    """Sorted names of the non-hidden image files directly in ``folder``."""
    return sorted(
        name
        for name in os.listdir(folder)
        if not name.startswith(".")
        and name.lower().endswith(IMAGE_EXTENSIONS)
        and os.path.isfile(os.path.join(folder, name))
    )


def list_class_folders(folder: str, ignored: Iterable[str] = ()) -> List[str]:
    """Sorted names of the non-hidden sub-folders of ``folder``, minus ``ignored``."""
    skip = set(ignored)
    return sorted(
        name
        for name in os.listdir(folder)
        if not name.startswith(".") and name not in skip and os.path.isdir(os.path.join(folder, name))
    )


def read_imagenet_classnames(path: str, fix: str) -> "OrderedDict[str, str]":
    """Read ``classnames.txt`` (lines ``"<wnid> <class name>"``) in file order."""
    _require_file(path, fix)
    names: "OrderedDict[str, str]" = OrderedDict()
    with open(path, "r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split(" ", 1)
            if len(parts) != 2 or not parts[1].strip():
                raise DatasetLayoutError(
                    f"{path}, line {lineno}: expected '<wnid> <class name>', got {line!r}. "
                    f"The file is corrupt: re-download it ({fix})."
                )
            if parts[0] in names:
                raise DatasetLayoutError(
                    f"{path}, line {lineno}: folder name {parts[0]!r} is listed twice. "
                    f"The file is corrupt: re-download it ({fix})."
                )
            names[parts[0]] = parts[1].strip()
    if not names:
        raise DatasetLayoutError(f"{path} is empty: re-download it ({fix}).")
    return names


def split_trainval(
    items: Sequence[Any], rng: Any, p_val: float = 0.2, label_of: Any = None
) -> Tuple[List[Any], List[Any]]:
    """Split train+val items per class: ``round(n * p_val)`` (>= 1) of each go to val.

    ``items`` are split entries (label at index 1) or objects read by ``label_of``.
    """
    get_label = label_of or (lambda entry: entry[1])
    by_label: Dict[int, List[Any]] = defaultdict(list)
    for item in items:
        by_label[get_label(item)].append(item)
    train: List[Any] = []
    val: List[Any] = []
    for label in sorted(by_label):
        group = list(by_label[label])
        rng.shuffle(group)
        n_val = max(1, round(len(group) * p_val))
        if n_val >= len(group):
            raise DatasetLayoutError(
                f"Class with label {label} has only {len(group)} train+val image(s) "
                f"({group[0]!r}); at least 2 are needed to build a train/val split."
            )
        val.extend(group[:n_val])
        train.extend(group[n_val:])
    return train, val


def build_folder_split(
    image_dir: str,
    rng: Any,
    fix: str,
    p_trn: float = 0.5,
    p_val: float = 0.2,
    ignored: Iterable[str] = (),
    new_cnames: Optional[Mapping[str, str]] = None,
) -> Split:
    """Split an ``image_dir/<class>/<image>`` layout per class into train/val/test.

    Labels follow the sorted folder names; class names are the folder names,
    renamed through ``new_cnames``. Paths are relative to ``image_dir``.
    """
    _require_dir(image_dir, fix)
    split: Split = {"train": [], "val": [], "test": []}
    categories = list_class_folders(image_dir, ignored)
    if not categories:
        raise DatasetLayoutError(f"Folder {image_dir} has no class sub-folders ({fix}).")
    for label, category in enumerate(categories):
        files = list_images(os.path.join(image_dir, category))
        rng.shuffle(files)
        n_total = len(files)
        n_train = round(n_total * p_trn)
        n_val = round(n_total * p_val)
        if n_train < 1 or n_val < 1 or n_total - n_train - n_val < 1:
            raise DatasetLayoutError(
                f"Folder {os.path.join(image_dir, category)} has {n_total} image(s): too few to "
                f"split into train/val/test ({fix})."
            )
        cname = (new_cnames or {}).get(category, category)
        rel = [(f"{category}/{name}", label, cname) for name in files]
        split["train"].extend(rel[:n_train])
        split["val"].extend(rel[n_train : n_train + n_val])
        split["test"].extend(rel[n_train + n_val :])
    return split


def build_oxford_pets_split(dataset_dir: str, rng: Any, fix: str) -> Split:
    """OxfordPets: ``annotations/{trainval,test}.txt`` (``"<image> <class id> ..."``)."""

    def read(name: str) -> List[SplitEntry]:
        path = os.path.join(dataset_dir, "annotations", name)
        _require_file(path, fix)
        out: List[SplitEntry] = []
        with open(path, "r", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                fields = line.split()
                if len(fields) < 2 or not fields[1].isdigit():
                    raise DatasetLayoutError(
                        f"{path}, line {lineno}: expected '<image> <class id> ...', got {line!r} ({fix})."
                    )
                breed = "_".join(fields[0].split("_")[:-1]).lower()
                out.append((fields[0] + ".jpg", int(fields[1]) - 1, breed))
        return out

    train, val = split_trainval(read("trainval.txt"), rng)
    return {"train": train, "val": val, "test": read("test.txt")}


def build_oxford_flowers_split(dataset_dir: str, rng: Any, fix: str) -> Split:
    """OxfordFlowers: ``imagelabels.mat`` (labels 1..102) + ``cat_to_name.json``."""
    from scipy.io import loadmat

    label_file = os.path.join(dataset_dir, "imagelabels.mat")
    names_file = os.path.join(dataset_dir, "cat_to_name.json")
    _require_file(label_file, fix)
    _require_file(names_file, fix)
    labels = loadmat(label_file)["labels"][0]
    with open(names_file, "r", encoding="utf-8") as f:
        lab2cname = json.load(f)
    by_label: Dict[int, List[str]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[int(label)].append(f"image_{i + 1:05d}.jpg")
    split: Split = {"train": [], "val": [], "test": []}
    for label in sorted(by_label):
        files = by_label[label]
        rng.shuffle(files)
        n_train = round(len(files) * 0.5)
        n_val = round(len(files) * 0.2)
        if n_train < 1 or n_val < 1 or len(files) - n_train - n_val < 1:
            raise DatasetLayoutError(
                f"{label_file}: class {label} has {len(files)} image(s), too few to split ({fix})."
            )
        if str(label) not in lab2cname:
            raise DatasetLayoutError(f"{names_file} has no name for class {label} ({fix}).")
        rel = [(name, label - 1, lab2cname[str(label)]) for name in files]
        split["train"].extend(rel[:n_train])
        split["val"].extend(rel[n_train : n_train + n_val])
        split["test"].extend(rel[n_train + n_val :])
    return split


def stanford_cars_classname(raw: str) -> str:
    """``"Tesla Model S Sedan 2012"`` -> ``"2012 Tesla Model S Sedan"``."""
    words = raw.split(" ")
    return " ".join([words[-1]] + words[:-1])


def build_stanford_cars_split(dataset_dir: str, rng: Any, fix: str) -> Split:
    """StanfordCars: devkit ``.mat`` annotations; paths relative to the dataset folder."""
    from scipy.io import loadmat

    meta_file = os.path.join(dataset_dir, "devkit", "cars_meta.mat")
    _require_file(meta_file, fix)
    meta = loadmat(meta_file)["class_names"][0]

    def read(image_dir: str, anno_file: str) -> List[SplitEntry]:
        _require_file(anno_file, fix)
        out: List[SplitEntry] = []
        for anno in loadmat(anno_file)["annotations"][0]:
            fname = str(anno["fname"][0])
            label = int(anno["class"][0, 0]) - 1
            out.append((f"{image_dir}/{fname}", label, stanford_cars_classname(str(meta[label][0]))))
        return out

    trainval = read("cars_train", os.path.join(dataset_dir, "devkit", "cars_train_annos.mat"))
    test = read("cars_test", os.path.join(dataset_dir, "cars_test_annos_withlabels.mat"))
    train, val = split_trainval(trainval, rng)
    return {"train": train, "val": val, "test": test}


def sun397_classname(folder: str) -> str:
    """``"b/bakery/shop"`` -> ``"shop bakery"`` (drop the letter, qualifier first)."""
    return " ".join(folder.split("/")[1:][::-1])


def build_sun397_split(dataset_dir: str, rng: Any, fix: str) -> Split:
    """SUN397: ``ClassName.txt`` + ``Training_01.txt`` / ``Testing_01.txt``."""
    class_file = os.path.join(dataset_dir, "ClassName.txt")
    _require_file(class_file, fix)
    with open(class_file, "r", encoding="utf-8") as f:
        folders = [line.strip().lstrip("/") for line in f if line.strip()]
    cname2lab = {c: i for i, c in enumerate(folders)}

    def read(name: str) -> List[SplitEntry]:
        path = os.path.join(dataset_dir, name)
        _require_file(path, fix)
        out: List[SplitEntry] = []
        with open(path, "r", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                rel = line.strip().lstrip("/")
                if not rel:
                    continue
                folder = os.path.dirname(rel)
                if folder not in cname2lab:
                    raise DatasetLayoutError(
                        f"{path}, line {lineno}: class folder {folder!r} is not in {class_file} ({fix})."
                    )
                out.append((rel, cname2lab[folder], sun397_classname(folder)))
        return out

    train, val = split_trainval(read("Training_01.txt"), rng)
    return {"train": train, "val": val, "test": read("Testing_01.txt")}


def ucf101_folder_name(action: str) -> str:
    """``"ApplyEyeMakeup"`` -> ``"Apply_Eye_Makeup"`` (CamelCase split with underscores)."""
    return "_".join(re.findall(r"[A-Z][^A-Z]*", action)) or action


def build_ucf101_split(dataset_dir: str, rng: Any, fix: str) -> Split:
    """UCF101: ``ucfTrainTestlist/{classInd,trainlist01,testlist01}.txt`` on mid-frames."""
    list_dir = os.path.join(dataset_dir, "ucfTrainTestlist")
    class_file = os.path.join(list_dir, "classInd.txt")
    _require_file(class_file, fix)
    cname2lab: Dict[str, int] = {}
    with open(class_file, "r", encoding="utf-8") as f:
        for line in f:
            fields = line.strip().split()
            if len(fields) == 2:
                cname2lab[fields[1]] = int(fields[0]) - 1

    def read(name: str) -> List[SplitEntry]:
        path = os.path.join(list_dir, name)
        _require_file(path, fix)
        out: List[SplitEntry] = []
        with open(path, "r", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                fields = line.strip().split()
                if not fields:
                    continue
                action, _, video = fields[0].partition("/")
                if action not in cname2lab:
                    raise DatasetLayoutError(
                        f"{path}, line {lineno}: action {action!r} is not in {class_file} ({fix})."
                    )
                folder = ucf101_folder_name(action)
                frame = os.path.splitext(video)[0] + ".jpg"
                out.append((f"{folder}/{frame}", cname2lab[action], folder))
        return out

    train, val = split_trainval(read("trainlist01.txt"), rng)
    return {"train": train, "val": val, "test": read("testlist01.txt")}

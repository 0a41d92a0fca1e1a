"""ImageNet (cached as ``preprocessed.pkl``) and its four test-only variants."""

from __future__ import annotations

import logging
import os
import pickle
from typing import Any, Dict, List, Mapping, Tuple

from .base import CoOpDataset, DataList, TestOnlyDataset, entries_to_datums
from .builders import list_class_folders, list_images, read_imagenet_classnames
from .errors import DatasetLayoutError
from .splits import SplitEntry, atomic_pickle_dump, check_split_labels, get_num_shots

__all__ = ["ImageNet", "ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR"]

logger = logging.getLogger(__name__)


def _wnid_folder_entries(
    image_dir: str, classnames: Mapping[str, str], classnames_file: str, fix: str
) -> List[SplitEntry]:
    """Entries for ``image_dir/<wnid>/*``: label = index of the sorted folders present."""
    entries: List[SplitEntry] = []
    folders = list_class_folders(image_dir)
    if not folders:
        raise DatasetLayoutError(f"Folder {image_dir} has no class sub-folders ({fix}).")
    for label, folder in enumerate(folders):
        if folder not in classnames:
            raise DatasetLayoutError(
                f"Class folder {os.path.join(image_dir, folder)} is not listed in {classnames_file}. "
                f"Use the family's classnames.txt (lines '<wnid> <class name>') ({fix})."
            )
        files = list_images(os.path.join(image_dir, folder))
        if not files:
            raise DatasetLayoutError(
                f"Class folder {os.path.join(image_dir, folder)} has no images; every class "
                f"needs at least one. Re-extract the dataset ({fix})."
            )
        entries.extend((f"{folder}/{name}", label, classnames[folder]) for name in files)
    return entries


class ImageNet(CoOpDataset):
    """ImageNet: ``imagenet/images/{train,val}/<wnid>/`` + ``classnames.txt``.

    The parsed lists are cached as ``imagenet/preprocessed.pkl``; validation
    doubles as the test set (as in the family). Images are listed sorted by name,
    the same on every machine; the family lists them in file-system order, so a
    seed's K-shot draw is a fork's only when its ``preprocessed.pkl`` (read as
    is when present) or its ``split_fewshot/`` pickles are used.
    """

    dataset_dir = "imagenet"
    image_subdir = "images"
    docs_section = "ImageNet"
    layout = "imagenet/images/train/<wnid>/*.JPEG, imagenet/images/val/<wnid>/*.JPEG, imagenet/classnames.txt"

    def __init__(self, cfg: Any) -> None:
        self._setup_paths(cfg)
        self.preprocessed = os.path.join(self.dataset_dir, "preprocessed.pkl")
        if os.path.isfile(self.preprocessed):
            train, test = self._load_preprocessed()
        else:
            train, test = self._read_folders()
            try:
                atomic_pickle_dump({"train": train, "test": test}, self.preprocessed)
                logger.info("Saved the parsed ImageNet lists to %s", self.preprocessed)
            except OSError as exc:
                logger.warning("Could not write %s (%s)", self.preprocessed, exc)
        # Few-shot applies to train only: val is the test set, as in the family.
        num_shots = get_num_shots(cfg)
        if num_shots >= 1:
            train, _ = self.fewshot(cfg, train, None, num_shots)
        self.finish(cfg, train, test, test, fewshot=False)

    def _read_folders(self) -> Tuple[DataList, DataList]:
        classnames_file = os.path.join(self.dataset_dir, "classnames.txt")
        classnames = read_imagenet_classnames(classnames_file, self.fix)
        parts: Dict[str, List[SplitEntry]] = {}
        folders: Dict[str, List[str]] = {}
        for part in ("train", "val"):
            part_dir = os.path.join(self.image_dir, part)
            if not os.path.isdir(part_dir):
                raise DatasetLayoutError(
                    f"Expected folder {part_dir} is missing. Arrange ImageNet as {self.layout} "
                    f"(the validation images sorted into <wnid> folders) ({self.fix})."
                )
            parts[part] = _wnid_folder_entries(part_dir, classnames, classnames_file, self.fix)
            folders[part] = list_class_folders(part_dir)
        if folders["train"] != folders["val"]:
            only = sorted(set(folders["train"]) ^ set(folders["val"]))
            raise DatasetLayoutError(
                f"{os.path.join(self.image_dir, 'train')} and {os.path.join(self.image_dir, 'val')} "
                f"have different class folders (e.g. {', '.join(only[:5])}). Re-extract ImageNet "
                f"so that both hold the same <wnid> folders ({self.fix})."
            )
        split = {"train": parts["train"], "test": parts["val"]}
        check_split_labels(split, self.image_dir, self.fix)
        train = entries_to_datums(
            split["train"], os.path.join(self.image_dir, "train"), self.image_dir, "train", self.fix
        )
        test = entries_to_datums(split["test"], os.path.join(self.image_dir, "val"), self.image_dir, "val", self.fix)
        return train, test

    def _load_preprocessed(self) -> Tuple[DataList, DataList]:
        stale = (
            f"Move it aside (e.g. rename it) so that it is rebuilt from {self.image_dir}; it was "
            f"probably written for another DATASET.ROOT or is truncated."
        )
        try:
            with open(self.preprocessed, "rb") as f:
                data = pickle.load(f)
        except Exception as exc:
            raise DatasetLayoutError(
                f"ImageNet cache {self.preprocessed} cannot be read ({type(exc).__name__}: {exc}). {stale}"
            ) from exc
        if not isinstance(data, dict) or not all(isinstance(data.get(k), list) and data[k] for k in ("train", "test")):
            raise DatasetLayoutError(
                f"ImageNet cache {self.preprocessed} does not hold non-empty train and test lists. {stale}"
            )
        for key in ("train", "test"):
            items = data[key]
            # A full stat of 1.3M files on every start is slow: spot-check both ends.
            for item in items[:50] + items[-50:]:
                impath = getattr(item, "impath", None)
                if impath is None or not os.path.isfile(impath):
                    raise DatasetLayoutError(
                        f"ImageNet cache {self.preprocessed} lists the image {impath}, which does not exist. {stale}"
                    )
        entries = {k: [(d.impath, d.label, d.classname) for d in data[k]] for k in ("train", "test")}
        check_split_labels(entries, self.preprocessed, stale)
        return data["train"], data["test"]


class _WnidVariant(TestOnlyDataset):
    """Test-only ImageNet variant laid out as ``<image_subdir>/<wnid>/`` + ``classnames.txt``."""

    def read_entries(self) -> List[SplitEntry]:
        classnames_file = os.path.join(self.dataset_dir, "classnames.txt")
        classnames = read_imagenet_classnames(classnames_file, self._classnames_fix)
        return _wnid_folder_entries(self.image_dir, classnames, classnames_file, self.fix)

    @property
    def _classnames_fix(self) -> str:
        return f"copy imagenet/classnames.txt into {self.dataset_dir}; {self.fix}"


class ImageNetV2(TestOnlyDataset):
    """ImageNetV2 (matched frequency): folders ``0..999`` index ``classnames.txt`` lines."""

    dataset_dir = "imagenetv2"
    image_subdir = "imagenetv2-matched-frequency-format-val"
    docs_section = "ImageNetV2"
    layout = "imagenetv2/imagenetv2-matched-frequency-format-val/{0..999}/*.jpeg, imagenetv2/classnames.txt"

    def read_entries(self) -> List[SplitEntry]:
        classnames_file = os.path.join(self.dataset_dir, "classnames.txt")
        fix = f"copy imagenet/classnames.txt into {self.dataset_dir}; {self.fix}"
        names = list(read_imagenet_classnames(classnames_file, fix).values())
        entries: List[SplitEntry] = []
        folders = list_class_folders(self.image_dir)
        if not folders:
            raise DatasetLayoutError(f"Folder {self.image_dir} has no class sub-folders ({self.fix}).")
        for folder in sorted(folders, key=lambda x: (not x.isdigit(), int(x) if x.isdigit() else 0, x)):
            path = os.path.join(self.image_dir, folder)
            if not folder.isdigit() or int(folder) >= len(names):
                raise DatasetLayoutError(
                    f"Folder {path} is not a class index 0..{len(names) - 1} of {classnames_file}. "
                    f"Use the matched-frequency release, whose folders are 0..999 ({self.fix})."
                )
            files = list_images(path)
            if not files:
                raise DatasetLayoutError(
                    f"Class folder {path} has no images; every class needs at least one ({self.fix})."
                )
            label = int(folder)
            entries.extend((f"{folder}/{name}", label, names[label]) for name in files)
        return entries


class ImageNetSketch(_WnidVariant):
    """ImageNet-Sketch: ``imagenet-sketch/images/<wnid>/`` + ``classnames.txt``."""

    dataset_dir = "imagenet-sketch"
    image_subdir = "images"
    docs_section = "ImageNet-Sketch"
    layout = "imagenet-sketch/images/<wnid>/*.JPEG, imagenet-sketch/classnames.txt"


class ImageNetA(_WnidVariant):
    """ImageNet-A: 200 classes, ``imagenet-adversarial/imagenet-a/<wnid>/`` + ``classnames.txt``."""

    dataset_dir = "imagenet-adversarial"
    image_subdir = "imagenet-a"
    docs_section = "ImageNet-A"
    layout = "imagenet-adversarial/imagenet-a/<wnid>/*.jpg, imagenet-adversarial/classnames.txt"


class ImageNetR(_WnidVariant):
    """ImageNet-R: 200 classes, ``imagenet-rendition/imagenet-r/<wnid>/`` + ``classnames.txt``."""

    dataset_dir = "imagenet-rendition"
    image_subdir = "imagenet-r"
    docs_section = "ImageNet-R"
    layout = "imagenet-rendition/imagenet-r/<wnid>/*.jpg, imagenet-rendition/classnames.txt"

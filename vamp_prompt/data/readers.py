"""Readers for the ten split-file datasets of the CoOp family and FGVCAircraft."""

from __future__ import annotations

import os
from typing import Any, Iterable, List, Mapping, Optional

from .base import CoOpDataset, DataList, SplitFileDataset, entries_to_datums
from .builders import (
    build_folder_split,
    build_oxford_flowers_split,
    build_oxford_pets_split,
    build_stanford_cars_split,
    build_sun397_split,
    build_ucf101_split,
)
from .errors import DatasetLayoutError
from .names import CALTECH101_IGNORED, CALTECH101_RENAMES, EUROSAT_CLASSNAMES
from .splits import Split, SplitEntry, check_split_labels

__all__ = [
    "DescribableTextures",
    "EuroSAT",
    "Caltech101",
    "Food101",
    "OxfordPets",
    "OxfordFlowers",
    "StanfordCars",
    "SUN397",
    "UCF101",
    "FGVCAircraft",
    "MicroShapes",
    "CALTECH101_IGNORED",
    "CALTECH101_RENAMES",
    "EUROSAT_CLASSNAMES",
]


class _FolderSplitDataset(SplitFileDataset):
    """Split-file dataset whose raw layout is ``image_dir/<class>/<image>``."""

    ignored_folders: Iterable[str] = ()
    renames: Optional[Mapping[str, str]] = None

    def build_split(self, rng: Any) -> Optional[Split]:
        return build_folder_split(self.image_dir, rng, self.fix, ignored=self.ignored_folders, new_cnames=self.renames)


class DescribableTextures(_FolderSplitDataset):
    """DTD: ``dtd/images/<texture>/`` + ``split_zhou_DescribableTextures.json``."""

    dataset_dir = "dtd"
    image_subdir = "images"
    split_filename = "split_zhou_DescribableTextures.json"
    docs_section = "DTD"
    layout = "dtd/images/<texture>/*.jpg + dtd/split_zhou_DescribableTextures.json"

    @staticmethod
    def read_and_split_data(
        image_dir: str,
        p_trn: float = 0.5,
        p_val: float = 0.2,
        ignored: Iterable[str] = (),
        new_cnames: Optional[Mapping[str, str]] = None,
    ) -> "tuple[DataList, DataList, DataList]":
        """Family helper: split an ``image_dir/<class>/`` tree with the global ``random``."""
        import random

        fix = f"folder {image_dir}"
        split = build_folder_split(image_dir, random, fix, p_trn, p_val, ignored, new_cnames)
        return tuple(  # type: ignore[return-value]
            entries_to_datums(split[k], image_dir, image_dir, k, fix) for k in ("train", "val", "test")
        )


class EuroSAT(_FolderSplitDataset):
    """EuroSAT: ``eurosat/2750/<class>/`` + ``split_zhou_EuroSAT.json``."""

    dataset_dir = "eurosat"
    image_subdir = "2750"
    split_filename = "split_zhou_EuroSAT.json"
    docs_section = "EuroSAT"
    layout = "eurosat/2750/<class>/*.jpg + eurosat/split_zhou_EuroSAT.json"
    renames = EUROSAT_CLASSNAMES


class Caltech101(_FolderSplitDataset):
    """Caltech101: ``caltech-101/101_ObjectCategories/<class>/`` + split file."""

    dataset_dir = "caltech-101"
    image_subdir = "101_ObjectCategories"
    split_filename = "split_zhou_Caltech101.json"
    docs_section = "Caltech101"
    layout = "caltech-101/101_ObjectCategories/<class>/*.jpg + caltech-101/split_zhou_Caltech101.json"
    ignored_folders = CALTECH101_IGNORED
    renames = CALTECH101_RENAMES


class Food101(_FolderSplitDataset):
    """Food101: ``food-101/images/<class>/`` + ``split_zhou_Food101.json``."""

    dataset_dir = "food-101"
    image_subdir = "images"
    split_filename = "split_zhou_Food101.json"
    docs_section = "Food101"
    layout = "food-101/images/<class>/*.jpg, food-101/meta/ + food-101/split_zhou_Food101.json"


class OxfordPets(SplitFileDataset):
    """OxfordPets: ``oxford_pets/images/*.jpg`` + ``split_zhou_OxfordPets.json``."""

    dataset_dir = "oxford_pets"
    image_subdir = "images"
    split_filename = "split_zhou_OxfordPets.json"
    docs_section = "OxfordPets"
    layout = "oxford_pets/images/*.jpg, oxford_pets/annotations/ + oxford_pets/split_zhou_OxfordPets.json"

    def build_split(self, rng: Any) -> Optional[Split]:
        return build_oxford_pets_split(self.dataset_dir, rng, self.fix)


class OxfordFlowers(SplitFileDataset):
    """OxfordFlowers: ``oxford_flowers/jpg/*.jpg`` + ``split_zhou_OxfordFlowers.json``."""

    dataset_dir = "oxford_flowers"
    image_subdir = "jpg"
    split_filename = "split_zhou_OxfordFlowers.json"
    docs_section = "Flowers102"
    layout = (
        "oxford_flowers/jpg/*.jpg, imagelabels.mat, cat_to_name.json + oxford_flowers/split_zhou_OxfordFlowers.json"
    )

    def build_split(self, rng: Any) -> Optional[Split]:
        return build_oxford_flowers_split(self.dataset_dir, rng, self.fix)


class StanfordCars(SplitFileDataset):
    """StanfordCars: split paths are relative to ``stanford_cars/`` (``cars_train/...``)."""

    dataset_dir = "stanford_cars"
    image_subdir = ""
    required_subdirs = ("cars_train", "cars_test")
    split_filename = "split_zhou_StanfordCars.json"
    docs_section = "StanfordCars"
    layout = (
        "stanford_cars/cars_train/, cars_test/, devkit/, cars_test_annos_withlabels.mat "
        "+ stanford_cars/split_zhou_StanfordCars.json"
    )

    def build_split(self, rng: Any) -> Optional[Split]:
        return build_stanford_cars_split(self.dataset_dir, rng, self.fix)


class SUN397(SplitFileDataset):
    """SUN397: ``sun397/SUN397/<letter>/<class>/`` + ``split_zhou_SUN397.json``."""

    dataset_dir = "sun397"
    image_subdir = "SUN397"
    split_filename = "split_zhou_SUN397.json"
    docs_section = "SUN397"
    layout = (
        "sun397/SUN397/<letter>/<class>/*.jpg, ClassName.txt, Training_01.txt, Testing_01.txt "
        "+ sun397/split_zhou_SUN397.json"
    )

    def build_split(self, rng: Any) -> Optional[Split]:
        return build_sun397_split(self.dataset_dir, rng, self.fix)


class UCF101(SplitFileDataset):
    """UCF101 mid-frames: ``ucf101/UCF-101-midframes/<Action_Name>/`` + split file."""

    dataset_dir = "ucf101"
    image_subdir = "UCF-101-midframes"
    split_filename = "split_zhou_UCF101.json"
    docs_section = "UCF101"
    layout = "ucf101/UCF-101-midframes/<Action_Name>/*.jpg, ucfTrainTestlist/ + ucf101/split_zhou_UCF101.json"

    def build_split(self, rng: Any) -> Optional[Split]:
        return build_ucf101_split(self.dataset_dir, rng, self.fix)


class FGVCAircraft(CoOpDataset):
    """FGVCAircraft: ``images/`` + ``variants.txt`` + ``images_variant_{train,val,test}.txt``."""

    dataset_dir = "fgvc_aircraft"
    image_subdir = "images"
    docs_section = "FGVCAircraft"
    layout = "fgvc_aircraft/images/*.jpg, variants.txt, images_variant_{train,val,test}.txt"

    def __init__(self, cfg: Any) -> None:
        self._setup_paths(cfg)
        variants_file = os.path.join(self.dataset_dir, "variants.txt")
        if not os.path.isfile(variants_file):
            raise DatasetLayoutError(
                f"Expected file {variants_file} is missing. Copy variants.txt and "
                f"images_variant_*.txt from fgvc-aircraft-2013b/data/ into {self.dataset_dir} "
                f"({self.fix})."
            )
        with open(variants_file, "r", encoding="utf-8") as f:
            classnames = [line.strip() for line in f if line.strip()]
        cname2lab = {c: i for i, c in enumerate(classnames)}
        split: Split = {k: self._read_list(k, cname2lab, variants_file) for k in ("train", "val", "test")}
        source = os.path.join(self.dataset_dir, "images_variant_train.txt")
        check_split_labels(split, source, self.fix)
        train, val, test = (
            entries_to_datums(split[k], self.image_dir, self._list_path(k), k, self.fix)
            for k in ("train", "val", "test")
        )
        self.finish(cfg, train, val, test)

    def _list_path(self, part: str) -> str:
        return os.path.join(self.dataset_dir, f"images_variant_{part}.txt")

    def _read_list(self, part: str, cname2lab: Mapping[str, int], variants_file: str) -> List[SplitEntry]:
        path = self._list_path(part)
        if not os.path.isfile(path):
            raise DatasetLayoutError(
                f"Expected file {path} is missing. Copy images_variant_{part}.txt from "
                f"fgvc-aircraft-2013b/data/ into {self.dataset_dir} ({self.fix})."
            )
        entries: List[SplitEntry] = []
        with open(path, "r", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                image_id, _, variant = line.partition(" ")
                variant = variant.strip()
                if variant not in cname2lab:
                    raise DatasetLayoutError(
                        f"{path}, line {lineno}: variant {variant!r} is not listed in "
                        f"{variants_file}. The files are from different versions: re-copy them "
                        f"from fgvc-aircraft-2013b/data/ ({self.fix})."
                    )
                entries.append((image_id + ".jpg", cname2lab[variant], variant))
        return entries


class MicroShapes(SplitFileDataset):
    """The project's micro benchmark: ``micro_shapes/images/<class>/`` + split file.

    Written by ``python -m vamp_prompt.micro dataset`` (see README, "Micro benchmark"); its
    labels put the base classes first, so the split file is never rebuilt from the folders.
    """

    dataset_dir = "micro_shapes"
    image_subdir = "images"
    split_filename = "split_zhou_MicroShapes.json"
    docs_section = "Micro benchmark"
    layout = "micro_shapes/images/<class>/*.png + micro_shapes/split_zhou_MicroShapes.json"

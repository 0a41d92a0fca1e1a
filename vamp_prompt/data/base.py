"""Shared Dassl dataset base for the CoOp-format readers (imports Dassl).

Every reader resolves ``cfg.DATASET.ROOT``, checks the folder layout with
errors that name the exact path, turns its entries into ``Datum`` objects,
then :meth:`CoOpDataset.finish` applies the few-shot subset (cached as
``split_fewshot/shot_{K}-seed_{SEED}.pkl``) and the base/new class subsample.
"""

from __future__ import annotations

import logging
import os
import pickle
import random
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from dassl.data.datasets import DatasetBase, Datum

from .errors import BUILD_SPLITS_ENV, DatasetLayoutError, build_splits_enabled, docs_hint
from .splits import (
    Split,
    SplitEntry,
    atomic_pickle_dump,
    check_split_labels,
    fewshot_cache_path,
    get_num_shots,
    get_subsample,
    read_split_file,
    subsample_label_map,
    write_split_file,
)

__all__ = [
    "CoOpDataset",
    "SplitFileDataset",
    "TestOnlyDataset",
    "resolve_root",
    "entries_to_datums",
    "subsample_datums",
    "seeded_python_random",
]

logger = logging.getLogger(__name__)

#: Seed of the RNG used when building a missing split from the raw files.
BUILD_SPLIT_SEED = 1

DataList = List[Datum]


def resolve_root(cfg: Any) -> str:
    """Absolute ``cfg.DATASET.ROOT``; raises :class:`DatasetLayoutError` if unset, missing or empty."""
    raw = str(getattr(cfg.DATASET, "ROOT", "") or "").strip()
    if not raw:
        raise DatasetLayoutError(
            "DATASET.ROOT is not set. Point it at the folder that holds the datasets: "
            "`export DATA=/path/to/data` and pass `--root $DATA`, or add `DATASET.ROOT /path/to/data`."
        )
    root = os.path.abspath(os.path.expanduser(os.path.expandvars(raw)))
    if not os.path.isdir(root):
        raise DatasetLayoutError(
            f"DATASET.ROOT {root} does not exist. Set the DATA environment variable / --root to "
            f"the folder that holds the dataset folders (e.g. {os.path.join(root, 'dtd', 'images')})."
        )
    if not any(not name.startswith(".") for name in os.listdir(root)):
        raise DatasetLayoutError(
            f"DATASET.ROOT {root} is empty. Set the DATA environment variable / --root to the "
            f"folder that holds the dataset folders, or download the datasets into it "
            f"({docs_hint('How to Install Datasets')})."
        )
    return root


def entries_to_datums(entries: Sequence[SplitEntry], prefix: str, source: str, part: str, fix: str) -> DataList:
    """``Datum``s for ``(relpath, label, classname)`` entries under ``prefix``.

    Raises :class:`DatasetLayoutError` naming the first image that is missing.
    """
    out: DataList = []
    for i, (relpath, label, cname) in enumerate(entries):
        impath = os.path.join(prefix, relpath)
        if not os.path.isfile(impath):
            raise DatasetLayoutError(
                f'Image {impath} (entry {i} of "{part}" in {source}) does not exist. The image '
                f"folder {prefix} is incomplete or does not match {os.path.basename(source)}: "
                f"re-extract the images ({fix})."
            )
        out.append(Datum(impath=impath, label=int(label), classname=cname))
    return out


def subsample_datums(*parts: Optional[DataList], subsample: str = "all") -> List[Optional[DataList]]:
    """Keep the base or new half of the classes (labels of the first part), relabelled 0..k-1."""
    if subsample == "all" or not parts or parts[0] is None:
        return list(parts)
    mapping = subsample_label_map((d.label for d in parts[0]), subsample)
    assert mapping is not None
    out: List[Optional[DataList]] = []
    for part in parts:
        if part is None:
            out.append(None)
            continue
        out.append(
            [
                Datum(impath=d.impath, label=mapping[d.label], domain=d.domain, classname=d.classname)
                for d in part
                if d.label in mapping
            ]
        )
    return out


@contextmanager
def seeded_python_random(seed: int) -> Iterator[None]:
    """Seed Python's global ``random`` with ``seed`` (if >= 0) and restore its state afterwards."""
    if seed < 0:
        yield
        return
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


class CoOpDataset(DatasetBase):
    """Base of the CoOp-format readers; subclasses set the class attributes below."""

    #: Folder under ``DATASET.ROOT`` (class attribute); the instance attribute is absolute.
    dataset_dir: str = ""
    #: Folder (relative to the dataset folder) that split paths are relative to.
    image_subdir: str = ""
    #: Folders that must exist inside the dataset folder (default: ``image_subdir``).
    required_subdirs: Tuple[str, ...] = ()
    #: ``split_zhou_*.json`` name, for readers that use one.
    split_filename: Optional[str] = None
    #: Section of the family's DATASETS.md that explains the download.
    docs_section: str = ""
    #: Short description of the expected layout, for error messages.
    layout: str = ""

    # ------------------------------------------------------------------ setup
    def _setup_paths(self, cfg: Any) -> None:
        name = type(self).__name__
        self.root = resolve_root(cfg)
        folder = type(self).dataset_dir
        self.dataset_dir = os.path.join(self.root, folder)
        self.image_dir = os.path.join(self.dataset_dir, self.image_subdir)
        self.split_path = os.path.join(self.dataset_dir, self.split_filename) if self.split_filename else None
        self.split_fewshot_dir = os.path.join(self.dataset_dir, "split_fewshot")
        if not os.path.isdir(self.dataset_dir):
            raise DatasetLayoutError(
                f"Dataset folder {self.dataset_dir} for {name} is missing. Download {name} and "
                f"arrange it as {self.layout or folder + '/'} ({self.fix}); if it lives elsewhere, "
                f"set DATA / --root to the folder that contains '{folder}/' (now {self.root})."
            )
        for sub in self.required_subdirs or ((self.image_subdir,) if self.image_subdir else ()):
            path = os.path.join(self.dataset_dir, sub)
            if not os.path.isdir(path):
                raise DatasetLayoutError(
                    f"Expected folder {path} for {name} is missing. Extract the {name} images "
                    f"so that the layout is {self.layout or folder + '/'} ({self.fix})."
                )

    @property
    def fix(self) -> str:
        """Pointer to the download instructions, used in every error message."""
        return docs_hint(self.docs_section or type(self).__name__)

    # --------------------------------------------------------------- few-shot
    def _load_fewshot_cache(
        self, path: str, with_val: bool, reference: DataList
    ) -> Tuple[DataList, Optional[DataList]]:
        stale = (
            "Move it aside (e.g. rename it) so that it is rebuilt; it was probably written for "
            "another DATASET.ROOT or another version of the split."
        )
        try:
            with open(path, "rb") as f:
                data = pickle.load(f)
        except Exception as exc:
            raise DatasetLayoutError(
                f"Few-shot cache {path} cannot be read ({type(exc).__name__}: {exc}). {stale}"
            ) from exc
        keys = ("train", "val") if with_val else ("train",)
        if not isinstance(data, dict) or any(not isinstance(data.get(k), list) for k in keys):
            raise DatasetLayoutError(f"Few-shot cache {path} does not hold {' and '.join(keys)} lists. {stale}")
        names = {d.label: d.classname for d in reference}
        for key in keys:
            for item in data[key]:
                impath = getattr(item, "impath", None)
                label = getattr(item, "label", None)
                if impath is None or names.get(label) != getattr(item, "classname", None):
                    raise DatasetLayoutError(
                        f"Few-shot cache {path} does not match the current split "
                        f"(label {label!r}, class {getattr(item, 'classname', None)!r}). {stale}"
                    )
                if not os.path.isfile(impath):
                    raise DatasetLayoutError(
                        f"Few-shot cache {path} lists the image {impath}, which does not exist. {stale}"
                    )
        return data["train"], (data["val"] if with_val else None)

    def fewshot(
        self, cfg: Any, train: DataList, val: Optional[DataList], num_shots: int
    ) -> Tuple[DataList, Optional[DataList]]:
        """Few-shot ``train`` (``num_shots``) and ``val`` (``min(num_shots, 4)``), cached per seed.

        Sampling uses Dassl's ``generate_fewshot_dataset`` with Python's ``random``
        seeded by ``cfg.SEED`` (global state restored afterwards). A negative seed
        samples without seeding and writes no cache.
        """
        seed = int(getattr(cfg, "SEED", -1))
        path = fewshot_cache_path(self.dataset_dir, num_shots, seed)
        if seed >= 0 and os.path.isfile(path):
            # Printed (not logged) with the family's wording: it belongs in the run's log.txt.
            print(f"Loading preprocessed few-shot data from {path}")
            return self._load_fewshot_cache(path, val is not None, train)
        with seeded_python_random(seed):
            train = self.generate_fewshot_dataset(train, num_shots=num_shots)
            if val is not None:
                val = self.generate_fewshot_dataset(val, num_shots=min(num_shots, 4))
        if seed >= 0:
            data: Dict[str, DataList] = {"train": train}
            if val is not None:
                data["val"] = val
            try:
                atomic_pickle_dump(data, path)
                print(f"Saving preprocessed few-shot data to {path}")
            except OSError as exc:  # read-only dataset folder: keep going without a cache
                print(f"Could not write the few-shot cache {path} ({exc}); continuing without it")
        return train, val

    def finish(
        self,
        cfg: Any,
        train: DataList,
        val: Optional[DataList],
        test: DataList,
        fewshot: bool = True,
    ) -> None:
        """Apply few-shot sampling and the base/new subsample, then init ``DatasetBase``."""
        subsample = get_subsample(cfg)
        num_shots = get_num_shots(cfg)
        if fewshot and num_shots >= 1:
            train, val = self.fewshot(cfg, train, val, num_shots)
        train, val, test = subsample_datums(train, val, test, subsample=subsample)
        DatasetBase.__init__(self, train_x=train, val=val, test=test)

    # ------------------------------------------- family-compatible helpers
    @staticmethod
    def read_split(filepath: str, path_prefix: str) -> Tuple[DataList, DataList, DataList]:
        """Read a split JSON into ``(train, val, test)`` ``Datum`` lists (family helper)."""
        fix = "re-download it"
        split = read_split_file(filepath, fix)
        return tuple(  # type: ignore[return-value]
            entries_to_datums(split[k], path_prefix, filepath, k, fix) for k in ("train", "val", "test")
        )

    @staticmethod
    def save_split(train: DataList, val: DataList, test: DataList, filepath: str, path_prefix: str) -> None:
        """Write ``Datum`` lists as a split JSON with paths relative to ``path_prefix``."""

        def rel(items: DataList) -> List[SplitEntry]:
            return [(os.path.relpath(d.impath, path_prefix), d.label, d.classname) for d in items]

        write_split_file(filepath, {"train": rel(train), "val": rel(val), "test": rel(test)})

    @staticmethod
    def subsample_classes(*args: DataList, subsample: str = "all") -> Any:
        """Family helper: base/new subsample of several ``Datum`` lists (labels of the first)."""
        out = subsample_datums(*args, subsample=subsample)
        return out[0] if len(out) == 1 else out

    @staticmethod
    def split_trainval(trainval: DataList, p_val: float = 0.2) -> Tuple[DataList, DataList]:
        """Family helper: per-class train/val split with the global ``random``."""
        from .builders import split_trainval

        return split_trainval(trainval, random, p_val, label_of=lambda d: d.label)


class SplitFileDataset(CoOpDataset):
    """A dataset described by a ``split_zhou_*.json`` file (paths relative to ``image_dir``)."""

    def __init__(self, cfg: Any) -> None:
        self._setup_paths(cfg)
        split = self.load_split()
        check_split_labels(split, self.split_path, self.fix)
        prefix = self.image_dir
        train, val, test = (
            entries_to_datums(split[k], prefix, self.split_path, k, self.fix) for k in ("train", "val", "test")
        )
        self.finish(cfg, train, val, test)

    def build_split(self, rng: Any) -> Optional[Split]:
        """Build entries from the raw files; ``None`` if this dataset cannot."""
        return None

    def load_split(self) -> Split:
        """Read the split file; build it first if missing and the user opted in."""
        assert self.split_path is not None
        name = type(self).__name__
        if not os.path.isfile(self.split_path):
            can_build = type(self).build_split is not SplitFileDataset.build_split
            if can_build and build_splits_enabled():
                split = self.build_split(random.Random(BUILD_SPLIT_SEED))
                assert split is not None
                check_split_labels(split, f"the split built from {self.dataset_dir}", self.fix)
                write_split_file(self.split_path, split)
                logger.warning(
                    "Built a NEW split %s from the raw files (seed %d); it is not the published "
                    "split, so results are not comparable with papers.",
                    self.split_path,
                    BUILD_SPLIT_SEED,
                )
            else:
                msg = (
                    f"Split file {self.split_path} is missing. Download {self.split_filename} for "
                    f"{name} ({self.fix}) and put it at {self.split_path}."
                )
                if can_build:
                    msg += (
                        f" Alternatively set {BUILD_SPLITS_ENV}=1 to build a new split from the raw "
                        f"files (not the published split: results are then not comparable)."
                    )
                raise DatasetLayoutError(msg)
        return read_split_file(self.split_path, self.fix)


class TestOnlyDataset(CoOpDataset):
    """A test-only dataset: the test set doubles as ``train_x`` so Dassl derives the classes.

    Like CoOp/MaPLe/MMRL, it always evaluates all its classes: ``DATASET.SUBSAMPLE_CLASSES``
    (validated all the same) is not applied, and a value other than ``all`` is reported.
    """

    def __init__(self, cfg: Any) -> None:
        self._setup_paths(cfg)
        subsample = get_subsample(cfg)
        entries = self.read_entries()
        source = self.image_dir
        check_split_labels({"test": list(entries), "train": list(entries)}, source, self.fix)
        data = entries_to_datums(entries, self.image_dir, source, "test", self.fix)
        if subsample != "all":
            num_classes = len({d.label for d in data})
            print(
                f"{type(self).__name__} is test-only: evaluating all its {num_classes} classes; "
                f"DATASET.SUBSAMPLE_CLASSES {subsample} is not applied to it (as in CoOp/MaPLe/MMRL)"
            )
        DatasetBase.__init__(self, train_x=data, val=None, test=data)

    def read_entries(self) -> List[SplitEntry]:  # pragma: no cover - abstract
        """``(relpath under image_dir, label, classname)`` for every test image."""
        raise NotImplementedError

"""Split files, caches and base/new class selection, shared by all readers.

Pure Python (no Dassl import): the functions here work on plain
``(relative_path, label, classname)`` entries; :mod:`vamp_prompt.data.base`
turns them into Dassl ``Datum`` objects.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..atomic import atomic_write_bytes
from .errors import DatasetLayoutError

__all__ = [
    "SPLIT_KEYS",
    "SUBSAMPLE_CHOICES",
    "SplitEntry",
    "read_split_file",
    "write_split_file",
    "check_split_labels",
    "atomic_pickle_dump",
    "fewshot_cache_path",
    "get_subsample",
    "get_num_shots",
    "subsample_label_map",
]

SPLIT_KEYS: Tuple[str, str, str] = ("train", "val", "test")
SUBSAMPLE_CHOICES: Tuple[str, str, str] = ("all", "base", "new")

#: One split entry: (path relative to the dataset's image folder, label, class name).
SplitEntry = Tuple[str, int, str]
Split = Dict[str, List[SplitEntry]]

_EXPECTED = '{"train": [[relative_path, label, classname], ...], "val": [...], "test": [...]}'


def _bad_structure(path: str, detail: str, fix: str) -> DatasetLayoutError:
    return DatasetLayoutError(
        f"Split file {path} has the wrong structure: {detail}. Expected {_EXPECTED}. "
        f"The file is probably truncated or from another tool: re-download it ({fix})."
    )


def read_split_file(path: str, fix: str = "see the dataset instructions") -> Split:
    """Read and validate a ``split_zhou_*.json`` file.

    ``fix`` is appended to error messages (where to re-download the file).
    Raises :class:`DatasetLayoutError` naming ``path`` when the file is missing,
    is not valid JSON, or does not hold ``train``/``val``/``test`` lists of
    ``[str, int, str]`` entries.
    """
    if not os.path.isfile(path):
        raise DatasetLayoutError(f"Split file {path} does not exist ({fix}).")
    try:
        with open(path, "r", encoding="utf-8") as f:
            raw = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetLayoutError(
            f"Split file {path} is not valid JSON ({exc}). It is probably truncated or corrupt: re-download it ({fix})."
        ) from exc
    if not isinstance(raw, dict):
        raise _bad_structure(path, f"the top level is a {type(raw).__name__}, not an object", fix)
    split: Split = {}
    for key in SPLIT_KEYS:
        if key not in raw:
            raise _bad_structure(path, f'the key "{key}" is missing', fix)
        items = raw[key]
        if not isinstance(items, list):
            raise _bad_structure(path, f'"{key}" is a {type(items).__name__}, not a list', fix)
        entries: List[SplitEntry] = []
        for i, item in enumerate(items):
            ok = (
                isinstance(item, (list, tuple))
                and len(item) == 3
                and isinstance(item[0], str)
                and isinstance(item[1], int)
                and not isinstance(item[1], bool)
                and item[1] >= 0
                and isinstance(item[2], str)
            )
            if not ok:
                raise _bad_structure(
                    path,
                    f'entry {i} of "{key}" is {item!r}, not [path, label >= 0, classname]',
                    fix,
                )
            entries.append((item[0], item[1], item[2]))
        split[key] = entries
    if not split["train"]:
        raise _bad_structure(path, '"train" is empty', fix)
    return split


def check_split_labels(split: Mapping[str, Sequence[SplitEntry]], source: str, fix: str) -> None:
    """Check that train labels are exactly 0..C-1 with one class name each.

    Labels of the other parts must be a subset of the train labels with the same
    class names. Raises :class:`DatasetLayoutError` naming ``source``.
    """
    names: Dict[int, str] = {}
    for key in ("train",) + tuple(k for k in split if k != "train"):
        for relpath, label, cname in split.get(key, ()):
            known = names.get(label)
            if known is None:
                if key != "train":
                    raise DatasetLayoutError(
                        f"{source}: label {label} ('{cname}', {relpath}) appears in \"{key}\" "
                        f'but not in "train"; every class must have training images. '
                        f"The file is inconsistent: re-download it ({fix})."
                    )
                names[label] = cname
            elif known != cname:
                raise DatasetLayoutError(
                    f"{source}: label {label} has two class names, '{known}' and '{cname}' "
                    f"({relpath}). The file is inconsistent: re-download it ({fix})."
                )
    if not names:
        raise DatasetLayoutError(f"{source}: no images found ({fix}).")
    num_classes = max(names) + 1
    missing = sorted(set(range(num_classes)) - set(names))
    if missing:
        shown = ", ".join(str(m) for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise DatasetLayoutError(
            f"{source}: labels must be 0..C-1 with every class present, but labels {shown} "
            f"are missing (C = {num_classes}). The file or folder is incomplete ({fix})."
        )


def atomic_pickle_dump(obj: Any, path: str) -> None:
    """Pickle ``obj`` to ``path`` atomically."""
    atomic_write_bytes(path, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def write_split_file(path: str, split: Mapping[str, Sequence[SplitEntry]], overwrite: bool = False) -> None:
    """Write a split file in the family's JSON format, atomically.

    Refuses (``FileExistsError``) to replace an existing file unless ``overwrite``.
    """
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"Refusing to overwrite the existing split file {path}.")
    payload = {key: [[str(p), int(y), str(c)] for p, y, c in split[key]] for key in SPLIT_KEYS}
    atomic_write_bytes(path, json.dumps(payload, indent=4, separators=(",", ": ")).encode("utf-8"))


def fewshot_cache_path(dataset_dir: str, num_shots: int, seed: int) -> str:
    """``<dataset_dir>/split_fewshot/shot_{K}-seed_{SEED}.pkl``."""
    return os.path.join(dataset_dir, "split_fewshot", f"shot_{num_shots}-seed_{seed}.pkl")


def get_subsample(cfg: Any) -> str:
    """``cfg.DATASET.SUBSAMPLE_CLASSES`` (``"all"`` when the key is absent), validated."""
    value = getattr(cfg.DATASET, "SUBSAMPLE_CLASSES", "all")
    value = str(value).strip().lower()
    if value not in SUBSAMPLE_CHOICES:
        raise ValueError(f"DATASET.SUBSAMPLE_CLASSES is {value!r}; it must be one of {', '.join(SUBSAMPLE_CHOICES)}.")
    return value


def get_num_shots(cfg: Any) -> int:
    """``cfg.DATASET.NUM_SHOTS`` as an int (``< 1`` means use all images)."""
    value = getattr(cfg.DATASET, "NUM_SHOTS", -1)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"DATASET.NUM_SHOTS is {value!r}; it must be an integer.") from exc


def subsample_label_map(labels: Iterable[int], subsample: str) -> Optional[Dict[int, int]]:
    """Map old label -> new label for the base or new half of ``labels``.

    The distinct labels are sorted; base is the first ``ceil(n / 2)``, new the
    rest; each is relabelled ``0..k-1`` in order. Returns ``None`` for ``"all"``.
    """
    if subsample not in SUBSAMPLE_CHOICES:
        raise ValueError(f"subsample must be one of {SUBSAMPLE_CHOICES}, got {subsample!r}")
    if subsample == "all":
        return None
    ordered = sorted(set(int(y) for y in labels))
    cut = math.ceil(len(ordered) / 2)
    chosen = ordered[:cut] if subsample == "base" else ordered[cut:]
    return {old: new for new, old in enumerate(chosen)}

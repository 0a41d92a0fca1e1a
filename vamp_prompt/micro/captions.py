"""Captions of the micro world: full and partial templates, synonyms, word orders.

A caption names a subset of an object's attributes; it is a positive for every image whose
object has all the attributes it names (multi-positive contrastive learning).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from .world import COLOUR_NAMES, PATTERNS, SHAPES, Combo

SYNONYMS = {
    "circle": ("circle", "disc"), "square": ("square",), "triangle": ("triangle",),
    "diamond": ("diamond", "rhombus"), "star": ("star",), "cross": ("cross", "plus sign"),
    "ring": ("ring", "donut"), "heart": ("heart",),
    "red": ("red",), "green": ("green",), "blue": ("blue",), "yellow": ("yellow",),
    "purple": ("purple", "violet"), "orange": ("orange",), "white": ("white",), "pink": ("pink",),
    "plain": ("plain", "solid"), "striped": ("striped",), "dotted": ("dotted", "spotted"),
    "checkered": ("checkered", "chequered"),
}

#: Templates naming all three attributes ({c} colour, {p} pattern, {s} shape).
FULL_TEMPLATES: Tuple[str, ...] = (
    "a photo of a {c} {p} {s}.", "a {p} {c} {s}.", "a {s} that is {c} and {p}.",
    "a {c} {s} with a {p} pattern.", "a {c} {p} {s} on a background.",
    "an image of a {p} {s} coloured {c}.", "a picture of a {c} {s}, {p}.", "a {c} {p} {s}.",
)
#: Partial templates: (template, names shape, names colour, names pattern).
PARTIAL_TEMPLATES: Tuple[Tuple[str, bool, bool, bool], ...] = (
    ("a photo of a {s}.", True, False, False), ("a {c} {s}.", True, True, False),
    ("a {p} {s}.", True, False, True), ("something {c}.", False, True, False),
    ("a {c} {p} object.", False, True, True), ("a {p} thing.", False, False, True),
)

#: Attributes a caption names: (shape, colour, pattern), None where it says nothing.
Query = Tuple[Optional[int], Optional[int], Optional[int]]


def _word(name: str, rng: np.random.Generator) -> str:
    options = SYNONYMS[name]
    return options[int(rng.integers(len(options)))]


def caption(combo: Combo, rng: np.random.Generator, shape_only: float = 0.15,
            partial: float = 0.15) -> Tuple[str, Query]:
    """A random caption of ``combo`` and the attributes it names."""
    s, c, p = combo
    words = dict(s=_word(SHAPES[s], rng), c=_word(COLOUR_NAMES[c], rng), p=_word(PATTERNS[p], rng))
    draw = rng.uniform()
    if draw < shape_only:
        return PARTIAL_TEMPLATES[0][0].format(**words), (s, None, None)
    if draw < shape_only + partial:
        text, has_s, has_c, has_p = PARTIAL_TEMPLATES[1 + int(rng.integers(len(PARTIAL_TEMPLATES) - 1))]
        return text.format(**words), (s if has_s else None, c if has_c else None,
                                       p if has_p else None)
    template = FULL_TEMPLATES[int(rng.integers(len(FULL_TEMPLATES)))]
    return template.format(**words), (s, c, p)


def positives(combos: Sequence[Combo], queries: Sequence[Query]) -> np.ndarray:
    """(N images, M captions) boolean: image i has every attribute caption j names."""
    arr = np.asarray(combos).reshape(-1, 3)
    out = np.ones((len(arr), len(queries)), dtype=bool)
    for j, query in enumerate(queries):
        for a, value in enumerate(query):
            if value is not None:
                out[:, j] &= arr[:, a] == value
    return out


def class_prompts(names: Sequence[str], template: str = "a photo of a {}.") -> List[str]:
    """The hand-crafted zero-shot prompts of ``names``."""
    return [template.format(n) for n in names]

"""Captions of the micro world: full and partial templates, synonyms, word orders.

A caption names a subset of an object's attributes; it is a positive for every image whose
object has all the attributes it names (multi-positive contrastive learning).
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from .world import COLOUR_NAMES, PATTERNS, SHAPES, Combo

SYNONYMS = {
    "circle": ("circle", "disc"),
    "square": ("square",),
    "triangle": ("triangle",),
    "diamond": ("diamond", "rhombus"),
    "star": ("star",),
    "cross": ("cross", "plus sign"),
    "ring": ("ring", "donut"),
    "heart": ("heart",),
    "red": ("red",),
    "green": ("green",),
    "blue": ("blue",),
    "yellow": ("yellow",),
    "purple": ("purple", "violet"),
    "orange": ("orange",),
    "white": ("white",),
    "pink": ("pink",),
    "plain": ("plain", "solid"),
    "striped": ("striped",),
    "dotted": ("dotted", "spotted"),
    "checkered": ("checkered", "chequered"),
}

#: Templates naming all three attributes ({c} colour, {p} pattern, {s} shape).
FULL_TEMPLATES: Tuple[str, ...] = (
    "a photo of a {c} {p} {s}.",
    "a {p} {c} {s}.",
    "a {s} that is {c} and {p}.",
    "a {c} {s} with a {p} pattern.",
    "a {c} {p} {s} on a background.",
    "an image of a {p} {s} coloured {c}.",
    "a picture of a {c} {s}, {p}.",
    "a {c} {p} {s}.",
)
#: Templates naming one attribute, in (shape, colour, pattern) order.
SINGLE_TEMPLATES: Tuple[Tuple[str, ...], ...] = (
    ("a photo of a {s}.",),
    ("something {c}.", "a {c} object."),
    ("a {p} thing.", "a {p} object."),
)
#: Templates naming two attributes: (template, names shape, names colour, names pattern).
PAIR_TEMPLATES: Tuple[Tuple[str, bool, bool, bool], ...] = (
    ("a {c} {s}.", True, True, False),
    ("a {p} {s}.", True, False, True),
    ("a {c} {p} object.", False, True, True),
)

#: Attributes a caption names: (shape, colour, pattern), None where it says nothing.
Query = Tuple[Optional[int], Optional[int], Optional[int]]


def _pick(options: Sequence, rng: np.random.Generator):
    return options[int(rng.integers(len(options)))]


def _word(name: str, rng: np.random.Generator) -> str:
    return _pick(SYNONYMS[name], rng)


def caption(
    combo: Combo, rng: np.random.Generator, single: Tuple[float, float, float] = (0.15, 0.15, 0.15), pair: float = 0.10
) -> Tuple[str, Query]:
    """A random caption of ``combo`` and the attributes it names.

    With probability ``single[a]`` it names attribute ``a`` alone (shape, colour, pattern),
    with ``pair`` two attributes, otherwise all three. Single-attribute captions make every
    attribute a classification target of its own; with full captions only, one attribute
    dominated the text features and the others stayed near chance.
    """
    s, c, p = combo
    words = dict(s=_word(SHAPES[s], rng), c=_word(COLOUR_NAMES[c], rng), p=_word(PATTERNS[p], rng))
    draw = rng.uniform()
    for attr, share in enumerate(single):
        if draw < share:
            query = tuple(v if a == attr else None for a, v in enumerate(combo))
            return _pick(SINGLE_TEMPLATES[attr], rng).format(**words), query  # type: ignore
        draw -= share
    if draw < pair:
        text, has_s, has_c, has_p = _pick(PAIR_TEMPLATES, rng)
        return text.format(**words), (s if has_s else None, c if has_c else None, p if has_p else None)
    return _pick(FULL_TEMPLATES, rng).format(**words), (s, c, p)


def shape_caption(combo: Combo, rng: np.random.Generator) -> Tuple[str, Query]:
    """``"a photo of a {shape}."`` (a random synonym), naming the shape alone."""
    return SINGLE_TEMPLATES[0][0].format(s=_word(SHAPES[combo[0]], rng)), (combo[0], None, None)


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

"""A procedural image world: shapes x colours x patterns on varied backgrounds.

Every image shows one object whose class is the triple (shape, colour, pattern). A
:class:`Style` fixes how objects are drawn (size, position, rotation, noise, clutter,
ambiguity); the pretraining style and the downstream (benchmark) style differ on purpose.
Rendering is vectorised numpy, deterministic given a ``numpy.random.Generator``.

Object coordinates: a pixel p maps to q = R(-theta) (p - c) / r, with c the centre, r the
radius in pixels and theta the rotation; each shape is a set in q-space of extent about 1.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

SHAPES: Tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "cross", "ring", "heart")
COLOURS: Dict[str, Tuple[float, float, float]] = {
    "red": (0.90, 0.10, 0.10),
    "green": (0.10, 0.72, 0.15),
    "blue": (0.15, 0.25, 0.95),
    "yellow": (0.95, 0.90, 0.10),
    "purple": (0.58, 0.15, 0.80),
    "orange": (1.00, 0.55, 0.05),
    "white": (0.96, 0.96, 0.96),
    "pink": (1.00, 0.52, 0.75),
}
COLOUR_NAMES: Tuple[str, ...] = tuple(COLOURS)
#: Colours that look alike: an ambiguous image mixes its colour towards this one.
LOOKALIKE: Dict[str, str] = {
    "red": "orange",
    "orange": "yellow",
    "yellow": "orange",
    "green": "yellow",
    "blue": "purple",
    "purple": "blue",
    "white": "pink",
    "pink": "red",
}
PATTERNS: Tuple[str, ...] = ("plain", "striped", "dotted", "checkered")

Combo = Tuple[int, int, int]  # (shape, colour, pattern) indices


def all_combos() -> List[Combo]:
    """The 256 classes, in (shape, colour, pattern) order."""
    return list(itertools.product(range(len(SHAPES)), range(len(COLOURS)), range(len(PATTERNS))))


def held_out_in_pretraining(combo: Combo) -> bool:
    """A quarter of the combinations (64) never appear in pretraining: (s + c + p) % 4 == 0.

    Every (shape, colour), (shape, pattern) and (colour, pattern) pair keeps seen combinations,
    so each attribute is learned, but these triples must be composed zero-shot.
    """
    return sum(combo) % 4 == 0


def class_name(combo: Combo) -> str:
    """``"red striped star"``: colour, pattern, shape."""
    s, c, p = combo
    return f"{COLOUR_NAMES[c]} {PATTERNS[p]} {SHAPES[s]}"


@dataclass(frozen=True)
class Style:
    """How objects are drawn. Radii are fractions of half the canvas; ``jitter`` the largest
    centre offset (fraction of half the canvas); ``ambiguous`` the share of images made hard
    by occlusion, low contrast or a look-alike colour."""

    radius: Tuple[float, float] = (0.6, 0.85)
    jitter: float = 0.08
    rotation: float = 0.3
    noise: float = 0.03
    clutter: Tuple[int, int] = (0, 2)
    colour_jitter: float = 0.05
    ambiguous: float = 0.0


PRETRAIN_STYLE = Style()
#: The curriculum's easy start: centred, upright, fixed size.
EASY_STYLE = Style(radius=(0.75, 0.75), jitter=0.0, rotation=0.0, clutter=(0, 0))
#: The benchmark's shifted style: smaller off-centre objects, more noise and clutter, and a
#: third of the images ambiguous.
DOWNSTREAM_STYLE = Style(
    radius=(0.42, 0.62), jitter=0.4, rotation=0.5, noise=0.08, clutter=(1, 4), colour_jitter=0.07, ambiguous=0.35
)


def blend(easy: Style, hard: Style, t: float) -> Style:
    """The style a fraction ``t`` (0..1) of the way from ``easy`` to ``hard``."""
    mix = lambda a, b: a + t * (b - a)  # noqa: E731
    return Style(
        radius=(mix(easy.radius[0], hard.radius[0]), mix(easy.radius[1], hard.radius[1])),
        jitter=mix(easy.jitter, hard.jitter),
        rotation=mix(easy.rotation, hard.rotation),
        noise=mix(easy.noise, hard.noise),
        clutter=(hard.clutter[0], int(round(mix(easy.clutter[1], hard.clutter[1])))),
        colour_jitter=mix(easy.colour_jitter, hard.colour_jitter),
        ambiguous=mix(easy.ambiguous, hard.ambiguous),
    )


def _polygon(u: np.ndarray, v: np.ndarray, n: int, phase: float, circum: float) -> np.ndarray:
    """Regular n-gon of circumradius ``circum`` with a vertex at angle ``phase``."""
    inside = np.ones(u.shape, dtype=bool)
    apothem = circum * np.cos(np.pi / n)
    for k in range(n):
        a = phase + (2 * k + 1) * np.pi / n
        inside &= u * np.cos(a) + v * np.sin(a) <= apothem
    return inside


def shape_mask(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-mask of shape ``shape`` in object coordinates (v points down)."""
    r = np.hypot(u, v)
    name = SHAPES[shape]
    if name == "circle":
        return r <= 0.85
    if name == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.72
    if name == "triangle":
        return _polygon(u, v + 0.12, 3, -np.pi / 2, 1.0)
    if name == "diamond":
        return np.abs(u) / 0.78 + np.abs(v) <= 0.98
    if name == "star":
        theta = np.arctan2(v, u) + np.pi / 2
        wave = np.abs(((theta * 5 / (2 * np.pi)) % 1.0) - 0.5) * 2  # 1 at points, 0 between
        return r <= 0.42 + 0.58 * wave
    if name == "cross":
        return ((np.abs(u) <= 0.3) & (np.abs(v) <= 0.95)) | ((np.abs(v) <= 0.3) & (np.abs(u) <= 0.95))
    if name == "ring":
        return (r <= 0.92) & (r >= 0.5)
    if name == "heart":
        x, y = u * 1.15, -v * 1.15 + 0.2
        return (x * x + y * y - 1) ** 3 - x * x * y**3 <= 0
    raise ValueError(f"unknown shape index {shape}")


def pattern_mask(pattern: int, u: np.ndarray, v: np.ndarray, period: float = 0.5) -> np.ndarray:
    """Where a patterned object shows its darker second tone."""
    name = PATTERNS[pattern]
    if name == "plain":
        return np.zeros(u.shape, dtype=bool)
    if name == "striped":
        return ((v / period) % 1.0) < 0.5
    if name == "dotted":
        fu, fv = (u / period) % 1.0 - 0.5, (v / period) % 1.0 - 0.5
        return fu * fu + fv * fv < 0.28**2
    if name == "checkered":
        return (np.floor(u / period) + np.floor(v / period)) % 2 == 0
    raise ValueError(f"unknown pattern index {pattern}")


def render(combos: Sequence[Combo], style: Style, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """Images of ``combos`` drawn in ``style``: (N, size, size, 3) float32 in [0, 1]."""
    n = len(combos)
    arr = np.asarray(combos, dtype=np.int64).reshape(n, 3)
    half = size / 2.0
    grid = np.arange(size, dtype=np.float32) + 0.5
    gy, gx = np.meshgrid(grid, grid, indexing="ij")

    # background: a desaturated colour with a soft gradient, then clutter blobs behind the object
    grey = rng.uniform(0.15, 0.65, (n, 1, 1, 1))
    tint = rng.uniform(-0.12, 0.12, (n, 1, 1, 3))
    slope = rng.uniform(-0.1, 0.1, (n, 1, 1, 2))
    img = (
        grey
        + tint
        + slope[..., :1] * (gx[None, ..., None] / size - 0.5)
        + slope[..., 1:] * (gy[None, ..., None] / size - 0.5)
    )
    img = np.broadcast_to(img, (n, size, size, 3)).copy()
    counts = rng.integers(style.clutter[0], style.clutter[1] + 1, n)
    for k in range(int(counts.max(initial=0))):
        on = counts > k
        cx, cy = rng.uniform(0, size, (2, n))
        rad = rng.uniform(1.5, 3.5, n)
        colour = rng.uniform(0.1, 0.9, (n, 3))
        blob = (
            (gx[None] - cx[:, None, None]) ** 2 + (gy[None] - cy[:, None, None]) ** 2 <= rad[:, None, None] ** 2
        ) & on[:, None, None]
        img = np.where(blob[..., None], colour[:, None, None, :], img)

    # object geometry
    radius = rng.uniform(*style.radius, n) * half
    room = np.maximum(half - radius, 0.0)
    centre = half + rng.uniform(-1, 1, (n, 2)) * np.minimum(style.jitter * half, room)[:, None]
    theta = rng.uniform(-style.rotation, style.rotation, n)
    dx = (gx[None] - centre[:, 0, None, None]) / radius[:, None, None]
    dy = (gy[None] - centre[:, 1, None, None]) / radius[:, None, None]
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    inside = np.zeros((n, size, size), dtype=bool)
    second = np.zeros((n, size, size), dtype=bool)
    for s in range(len(SHAPES)):
        idx = np.nonzero(arr[:, 0] == s)[0]
        if idx.size:
            inside[idx] = shape_mask(s, u[idx], v[idx])
    for p in range(len(PATTERNS)):
        idx = np.nonzero(arr[:, 2] == p)[0]
        if idx.size:
            second[idx] = pattern_mask(p, u[idx], v[idx])

    base = np.array([COLOURS[c] for c in COLOUR_NAMES], dtype=np.float64)[arr[:, 1]]
    base = base + rng.normal(0, style.colour_jitter, (n, 3))

    # ambiguity: occlusion, low contrast or a look-alike colour
    kind = np.where(rng.uniform(size=n) < style.ambiguous, rng.integers(1, 4, n), 0)
    lookalike = np.array([COLOURS[LOOKALIKE[COLOUR_NAMES[c]]] for c in arr[:, 1]])
    mix = rng.uniform(0.3, 0.5, (n, 1))
    base = np.where((kind == 3)[:, None], (1 - mix) * base + mix * lookalike, base)
    bg_mean = img.mean(axis=(1, 2))
    fade = rng.uniform(0.45, 0.65, (n, 1))
    base = np.where((kind == 2)[:, None], (1 - fade) * base + fade * bg_mean, base)
    base = np.clip(base, 0, 1)
    dark = np.where((kind == 2)[:, None], 0.6 * base + 0.4 * bg_mean, 0.35 * base)
    fill = np.where(second[..., None], dark[:, None, None, :], base[:, None, None, :])
    img = np.where(inside[..., None], fill, img)
    # occluder: a bar of the background's mean colour across a third of the object
    off = rng.uniform(-0.5, 0.5, n)
    angle = rng.uniform(0, np.pi, n)
    bar = np.abs(np.cos(angle)[:, None, None] * dx + np.sin(angle)[:, None, None] * dy - off[:, None, None]) < 0.33
    occlude = bar & (kind == 1)[:, None, None]
    img = np.where(occlude[..., None], bg_mean[:, None, None, :], img)

    img = img + rng.normal(0, style.noise, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)

"""Generated photos of bystanders for measuring face detection, from faces nobody here chose.

Faces: the 100 face crops of scikit-image's ``lfw_subset`` (25×25 grey crops, brow to chin,
of Labeled Faces in the Wild: many people, ages and skin tones). The tests are built from
the astronaut, which is not used here. Faces 0-49 make the *tuning* half, 50-99 the
*measured* half; the scenes behind them are split the same way.

Each face becomes a bystander: a head (hair), neck and shoulders are drawn around the crop,
whose corners are feathered away, and the figure is

- coloured with one of four skin tones (light, medium, dark, very dark: the crop's own
  shading kept, its brightness mapped onto the tone),
- tilted by -30..30 degrees,
- pasted into a scene at a *head width* (hair included, ~1.25× the face) of 2, 3, 5, 8, 12
  or 20 % of the photo's width, at 1, 3 and 12 MP,
- lit one of four ways per photo: normal; dim (whole photo at a quarter of its brightness,
  with the noise of a dark sensor); shade (each face at 30-80 % across a soft shadow); and
  harsh sun (whole photo 1.5× brighter, clipped),
- with sensor noise and a JPEG re-save at quality 85.

``faceless()`` gives pictures with no face at all, to count false blurs: textures
(gravel, brick, grass, moon, a star field, coins), posters (scikit-image's logo, text and
page, and posters drawn here: large lettering, stripes, dots, circles) and machinery
(motorcycles, a rocket, a clock, and car fronts and gauge panels drawn here, whose
"two lamps and a grille" are the classic pareidolia).

Truth boxes are the face crop's square (its centre moved with the tilt).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from skimage import data as skdata

SPLITS = ("tuning", "measured")
SIZES = ((1024, 768), (2048, 1536), (4032, 3024))
HEAD_WIDTHS = (0.02, 0.03, 0.05, 0.08, 0.12, 0.2)
TONES = {
    "light": (238, 200, 172),
    "medium": (192, 138, 100),
    "dark": (118, 78, 56),
    "very dark": (74, 50, 38),
}
TILTS = (-30, -15, 0, 15, 30)
LIGHTS = ("normal", "dim", "shade", "sun")
FACE_PER_HEAD = 0.8  # face crop width / head width (hair and ears around it)
_FACES_PER_PHOTO = {0.02: 8, 0.03: 8, 0.05: 8, 0.08: 5, 0.12: 4, 0.2: 2}
_SCENES = {
    "tuning": (skdata.coffee, skdata.brick, lambda: skdata.stereo_motorcycle()[0], skdata.grass),
    "measured": (
        skdata.gravel,
        skdata.rocket,
        lambda: skdata.stereo_motorcycle()[1],
        skdata.hubble_deep_field,
    ),
}


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x, y, w, h in photo pixels
    head_width: float  # fraction of the photo's width
    tone: str
    tilt: int
    light: str


@dataclass(frozen=True)
class Photo:
    name: str
    image: Image.Image
    faces: tuple[Face, ...]


@cache
def _lfw_faces() -> np.ndarray:
    return skdata.lfw_subset()[:100]  # the first 100 are faces, the rest are not


def _face_ids(split: str) -> range:
    return range(0, 50) if split == "tuning" else range(50, 100)


def _tinted(crop: np.ndarray, tone: tuple[int, int, int], size: int) -> Image.Image:
    """The grey crop at ``size`` px, its mean brightness mapped to ``tone``."""
    grey = np.asarray(
        Image.fromarray((crop * 255).astype(np.uint8)).resize(
            (size, size), Image.Resampling.BICUBIC
        ),
        np.float32,
    )
    relative = grey / max(float(grey.mean()), 1.0)
    rgb = relative[..., None] * np.asarray(tone, np.float32)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def _bystander(
    crop: np.ndarray, face_px: int, tone: tuple[int, int, int], tilt: int, rng
) -> tuple[Image.Image, tuple[float, float]]:
    """An RGBA figure (hair, face, neck, shoulders) and its face centre in figure pixels."""
    f = face_px
    w, h = int(2.4 * f) + 4, int(3.0 * f) + 4
    fig = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(fig)
    hair = (*tuple(int(v) for v in rng.integers(15, 90, 3)), 255)
    cloth = (*tuple(int(v) for v in rng.integers(20, 230, 3)), 255)
    cx, top = w / 2, 0.15 * f
    draw.ellipse((cx - 1.35 * f, 2.0 * f, cx + 1.35 * f, 3.6 * f), fill=cloth)  # shoulders
    draw.rectangle((cx - 0.25 * f, 1.2 * f, cx + 0.25 * f, 2.2 * f), fill=(*tone, 255))  # neck
    draw.ellipse((cx - 0.62 * f, top, cx + 0.62 * f, top + 1.45 * f), fill=hair)  # head
    face = _tinted(crop, tone, f)
    mask = Image.new("L", (f, f), 0)
    ImageDraw.Draw(mask).ellipse((0, -0.1 * f, f - 1, f * 1.05), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(0.5, f / 14)))
    fx, fy = int(cx - f / 2), int(top + 0.35 * f)
    fig.paste(face, (fx, fy), mask)
    centre = (fx + f / 2, fy + f / 2)
    if tilt:
        fig = fig.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True)
        # Pillow turns counter-clockwise about the centre; with expand the canvas grows.
        a = math.radians(tilt)
        dx, dy = centre[0] - w / 2, centre[1] - h / 2
        rx, ry = dx * math.cos(a) + dy * math.sin(a), -dx * math.sin(a) + dy * math.cos(a)
        centre = (fig.width / 2 + rx, fig.height / 2 + ry)
    return fig, centre


def _shade(fig: Image.Image, rng) -> Image.Image:
    """The figure darkened to 30-80 % across a soft shadow edge."""
    rgba = np.asarray(fig, np.float32)
    ramp = np.linspace(0.3, 0.8, fig.width, dtype=np.float32)
    if rng.random() < 0.5:
        ramp = ramp[::-1]
    rgba[..., :3] *= ramp[None, :, None]
    return Image.fromarray(rgba.astype(np.uint8), "RGBA")


def _place(size, fig_sizes, rng) -> list[tuple[int, int] | None]:
    """Top-left corners for figures of ``fig_sizes`` that do not overlap, inside ``size``;
    None for a figure that found no free place (it is left out: no face is hidden)."""
    taken: list[tuple[int, int, int, int]] = []
    out: list[tuple[int, int] | None] = []
    for fw, fh in fig_sizes:
        spot = None
        for _attempt in range(300):
            x = int(rng.integers(0, max(1, size[0] - fw)))
            y = int(rng.integers(0, max(1, size[1] - fh)))
            if all(x + fw < a or a + c < x or y + fh < b or b + d < y for a, b, c, d in taken):
                spot = (x, y)
                taken.append((x, y, fw, fh))
                break
        out.append(spot)
    return out


def _finish(pixels: np.ndarray, light: str, rng) -> Image.Image:
    px = pixels.astype(np.float32)
    if light == "dim":
        px = px * 0.25 + rng.normal(0, 3, px.shape)
    elif light == "sun":
        px = px * 1.5
    px = px + rng.normal(0, 3, px.shape)
    im = Image.fromarray(np.clip(px, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def photos(split: str, sizes=SIZES, head_widths=HEAD_WIDTHS) -> Iterator[Photo]:
    """Every photo of one half: each size × head width × light, in a fixed order."""
    ids = _face_ids(split)
    scenes = _SCENES[split]
    n = 0
    for size in sizes:
        for frac in head_widths:
            for li, light in enumerate(LIGHTS):
                n += 1
                rng = np.random.default_rng([SPLITS.index(split), n])
                scene = scenes[(n + li) % len(scenes)]
                yield _photo(f"{split}-{n:03d}", size, frac, light, scene, ids, rng)


def _photo(name, size, frac, light, scene, ids, rng) -> Photo:
    background = Image.fromarray(scene()).convert("RGB").resize(size)
    canvas = np.asarray(background).copy()
    face_px = max(4, round(size[0] * frac * FACE_PER_HEAD))
    figs = []
    first_tone = int(rng.integers(0, len(TONES)))
    for i in range(_FACES_PER_PHOTO[frac]):
        tone = list(TONES)[(first_tone + i) % len(TONES)]  # every tone in every photo
        tilt = int(rng.choice(TILTS))
        crop = _lfw_faces()[int(rng.choice(ids))]
        fig, centre = _bystander(crop, face_px, TONES[tone], tilt, rng)
        if light == "shade":
            fig = _shade(fig, rng)
        figs.append((fig, centre, tone, tilt))
    corners = _place(size, [f.size for f, *_ in figs], rng)
    image = Image.fromarray(canvas)
    faces = []
    for (fig, centre, tone, tilt), corner in zip(figs, corners, strict=True):
        if corner is None:
            continue
        x, y = corner
        image.paste(fig, (x, y), fig)
        cx, cy = x + centre[0], y + centre[1]
        box = (cx - face_px / 2, cy - face_px / 2, float(face_px), float(face_px))
        faces.append(Face(box, frac, tone, tilt, light))
    return Photo(name, _finish(np.asarray(image), light, rng), tuple(faces))


# ---------------------------------------------------------------- pictures with no face


def _poster_lettering(size, rng) -> np.ndarray:
    im = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        font = ImageFont.load_default(size=int(rng.integers(size[1] // 14, size[1] // 5)))
        xy = (int(rng.integers(0, size[0] // 2)), int(rng.integers(0, size[1] - 40)))
        text = "".join(rng.choice(list("SALE OPEN 24h CAFE TAXI BANK 50% OFF"), 8))
        draw.text(xy, text, fill=tuple(int(v) for v in rng.integers(0, 255, 3)), font=font)
    return np.asarray(im)


def _poster_shapes(size, rng) -> np.ndarray:
    im = Image.new("RGB", size, (240, 236, 220))
    draw = ImageDraw.Draw(im)
    for i in range(0, size[0], size[0] // 12):
        draw.rectangle((i, 0, i + size[0] // 24, size[1]), fill=(200, 40, 40))
    for _ in range(25):
        r = int(rng.integers(size[1] // 40, size[1] // 8))
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        col = tuple(int(v) for v in rng.integers(0, 255, 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=col, outline=(0, 0, 0), width=3)
    return np.asarray(im)


def _car_fronts(size, rng) -> np.ndarray:
    """Car fronts and gauge panels: round lamps over a grille."""
    im = Image.new("RGB", size, (90, 92, 96))
    draw = ImageDraw.Draw(im)
    w = size[0] // 3
    for k in range(3):
        x0, y0 = k * w + w // 10, size[1] // 3
        body = tuple(int(v) for v in rng.integers(40, 220, 3))
        draw.rounded_rectangle((x0, y0, x0 + w * 8 // 10, y0 + w // 2), w // 10, fill=body)
        r = w // 12
        for lx in (x0 + w // 6, x0 + w * 8 // 10 - w // 6):
            draw.ellipse((lx - r, y0 + w // 8 - r, lx + r, y0 + w // 8 + r), fill=(250, 250, 230))
        for gy in range(y0 + w // 4, y0 + w * 2 // 5, max(2, w // 40)):
            draw.line((x0 + w // 4, gy, x0 + w * 8 // 10 - w // 4, gy), fill=(20, 20, 20), width=2)
        gx, gy = x0 + w * 4 // 10, size[1] * 5 // 6
        draw.ellipse(
            (gx - w // 6, gy - w // 6, gx + w // 6, gy + w // 6), outline=(230, 230, 230), width=4
        )
        draw.line((gx, gy, gx + w // 8, gy - w // 10), fill=(220, 30, 30), width=3)
    return np.asarray(im)


def _grey(fn: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    return lambda: np.asarray(Image.fromarray(fn()).convert("RGB"))


FACELESS: dict[str, tuple[tuple[str, Callable], ...]] = {
    "texture": (
        ("gravel", _grey(skdata.gravel)),
        ("brick", _grey(skdata.brick)),
        ("grass", _grey(skdata.grass)),
        ("moon", _grey(skdata.moon)),
        ("stars", _grey(skdata.hubble_deep_field)),
        ("coins", _grey(skdata.coins)),
    ),
    "poster": (
        ("logo", lambda: np.asarray(Image.fromarray(skdata.logo()).convert("RGB"))),
        ("text", _grey(skdata.text)),
        ("page", _grey(skdata.page)),
        ("lettering", None),
        ("shapes", None),
        ("colour", _grey(skdata.colorwheel)),
    ),
    "machinery": (
        ("motorcycle-left", _grey(lambda: skdata.stereo_motorcycle()[0])),
        ("motorcycle-right", _grey(lambda: skdata.stereo_motorcycle()[1])),
        ("rocket", _grey(skdata.rocket)),
        ("clock", _grey(skdata.clock)),
        ("car-fronts", None),
        ("coffee-machine-less-cup", _grey(skdata.coffee)),
    ),
}
_DRAWN = {"lettering": _poster_lettering, "shapes": _poster_shapes, "car-fronts": _car_fronts}


def faceless(split: str, sizes=SIZES) -> Iterator[tuple[str, str, Image.Image]]:
    """(category, name, photo) for the half's faceless pictures (alternate items of each
    category go to each half), at every size, with noise and a JPEG re-save."""
    for category, items in FACELESS.items():
        for i, (name, make) in enumerate(items):
            if i % 2 != SPLITS.index(split):
                continue
            for size in sizes:
                rng = np.random.default_rng([i, size[0]])
                if make is None:
                    pixels = _DRAWN[name](size, rng)
                else:
                    pixels = np.asarray(Image.fromarray(make()).convert("RGB").resize(size))
                yield category, name, _finish(pixels, "normal", rng)

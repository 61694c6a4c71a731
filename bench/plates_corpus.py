"""Generated number plates in street scenes, for measuring plate detection.

Plates of six countries' shapes and colours, text drawn with Pillow (DejaVu Sans Condensed
Bold where the system has it, Pillow's bundled font otherwise):

- EU: 520×110 mm, white, blue band on the left, "AB 123 CD"
- UK: 520×111 mm, white (front) or yellow (rear), "AB12 CDE"
- India: 500×120 mm, white (private) or yellow (taxi), "MH 12 AB 1234"
- South Africa: 520×113 mm, white or yellow, "CA 123-456"
- Russia: 520×112 mm, white with a region box, "А123ВС 77" (Latin look-alikes)
- US: 305×152 mm, white with the state written over the number, "7ABC123"

Each plate sits on a car-coloured panel (a rounded rectangle: the car's rear or front) in a
scene (scikit-image's coffee, rocket, brick, gravel, grass, motorcycles), at a plate width of
3, 5, 8 or 12 % of the photo's width, rotated by up to ±8 degrees and sheared as if seen
from the side, lit normally, dim or in harsh sun, with noise and a JPEG re-save. Photos are
1024×768 and 2048×1536. Halves: *tuning* and *measured* (different scenes and seeds).

``photos(split, dark=True)`` gives the same kinds of photos (other seeds) with every plate
light-on-dark: the same layouts recoloured as black, dark green or dark blue plates with
white, silver or yellow characters (India's electric and rental plates, old UK plates,
several US states).

``plateless()`` gives the same scenes with car panels but no plate, posters with
lettering, and scenes with street-name and shop signs (words in mixed case and capitals on
panels of plate-like sizes), to count false blurs.
"""

from __future__ import annotations

import io
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data as skdata

SPLITS = ("tuning", "measured")
SIZES = ((1024, 768), (2048, 1536))
PLATE_WIDTHS = (0.03, 0.05, 0.08, 0.12)
LIGHTS = ("normal", "dim", "sun")
COUNTRIES = ("EU", "UK", "India", "South Africa", "Russia", "US")
_SCENES = {
    "tuning": (skdata.coffee, skdata.brick, skdata.grass, lambda: skdata.stereo_motorcycle()[0]),
    "measured": (
        skdata.rocket,
        skdata.gravel,
        skdata.chelsea,
        lambda: skdata.stereo_motorcycle()[1],
    ),
}


@dataclass(frozen=True)
class Plate:
    box: tuple[float, float, float, float]  # bounding box of the plate in photo pixels
    width_fraction: float
    country: str
    light: str
    polarity: str = "dark-on-light"


@dataclass(frozen=True)
class Photo:
    name: str
    image: Image.Image
    plates: tuple[Plate, ...]


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype("DejaVuSansCondensed-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _letters(rng, n: int) -> str:
    return "".join(rng.choice(list(string.ascii_uppercase.replace("I", "").replace("O", "")), n))


def _digits(rng, n: int) -> str:
    return "".join(rng.choice(list(string.digits), n))


def _plate(country: str, rng) -> Image.Image:
    """A plate drawn at 4 px per mm."""
    yellow, white, black = (250, 210, 30), (245, 245, 240), (15, 15, 15)
    if country == "US":
        im = Image.new("RGB", (1220, 608), white)
        d = ImageDraw.Draw(im)
        d.text(
            (610, 90),
            str(rng.choice(["California", "Texas", "Ohio", "Georgia"])),
            fill=(180, 20, 30),
            font=_font(110),
            anchor="mm",
        )
        d.text(
            (610, 360),
            _digits(rng, 1) + _letters(rng, 3) + _digits(rng, 3),
            fill=(20, 30, 120),
            font=_font(300),
            anchor="mm",
        )
        d.rectangle((4, 4, 1215, 603), outline=black, width=8)
        return im
    widths = {"EU": 2080, "UK": 2080, "India": 2000, "South Africa": 2080, "Russia": 2080}
    heights = {"EU": 440, "UK": 444, "India": 480, "South Africa": 452, "Russia": 448}
    bg = white
    if country in ("UK", "India", "South Africa") and rng.random() < 0.4:
        bg = yellow
    im = Image.new("RGB", (widths[country], heights[country]), bg)
    d = ImageDraw.Draw(im)
    h = heights[country]
    left = 40
    if country == "EU":
        d.rectangle((0, 0, 180, h), fill=(20, 50, 160))
        d.text(
            (90, h - 90),
            str(rng.choice(["D", "NL", "F", "B"])),
            fill=white,
            font=_font(110),
            anchor="mm",
        )
        left = 200
        text = f"{_letters(rng, 2)} {_digits(rng, 3)} {_letters(rng, 2)}"
    elif country == "UK":
        text = f"{_letters(rng, 2)}{_digits(rng, 2)} {_letters(rng, 3)}"
    elif country == "India":
        state = rng.choice(["MH", "KA", "DL", "TN"])
        text = f"{state} {_digits(rng, 2)} {_letters(rng, 2)} {_digits(rng, 4)}"
    elif country == "South Africa":
        province = rng.choice(["GP", "WC", "KZN"])
        text = f"{_letters(rng, 2)} {_digits(rng, 3)}-{_digits(rng, 3)} {province}"
    else:  # Russia: series letters are the Cyrillic ones that look Latin
        series = list("ABEKMHOPCTYX")
        text = f"{rng.choice(series)}{_digits(rng, 3)}{''.join(rng.choice(series, 2))}"
        d.rectangle((1560, 8, 1570, h - 8), fill=black)
        d.text((1820, h / 2 - 40), _digits(rng, 2), fill=black, font=_font(230), anchor="mm")
        d.text((1820, h - 70), "RUS", fill=black, font=_font(60), anchor="mm")
    right = 1540 if country == "Russia" else widths[country] - 40
    size = 330
    while size > 80 and d.textlength(text, font=_font(size)) > right - left:
        size -= 10
    d.text(((left + right) / 2, h / 2), text, fill=black, font=_font(size), anchor="mm")
    d.rectangle((4, 4, widths[country] - 5, h - 5), outline=black, width=10)
    return im


_DARK_PANELS = ((18, 18, 20), (10, 90, 50), (20, 40, 110))
_LIGHT_INK = ((240, 240, 240), (200, 200, 205), (250, 210, 30))


def _darken(plate: Image.Image, rng) -> Image.Image:
    """The plate recoloured light-on-dark by brightness: its dark strokes, border, bands and
    lettering take a light colour and its light panel a dark one."""
    px = np.asarray(plate).astype(np.float32)
    lum = px @ np.array([0.299, 0.587, 0.114], np.float32)
    ink = np.array(_LIGHT_INK[int(rng.integers(len(_LIGHT_INK)))], np.float32)
    panel = np.array(_DARK_PANELS[int(rng.integers(len(_DARK_PANELS)))], np.float32)
    # lum 0..255 -> blend: dark pixels become ink, light ones panel (antialiasing kept)
    t = np.clip((lum - 40) / 160, 0, 1)[..., None]
    out = ink * (1 - t) + panel * t
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _finish(pixels: np.ndarray, light: str, rng) -> Image.Image:
    px = pixels.astype(np.float32)
    if light == "dim":
        px = px * 0.3 + rng.normal(0, 3, px.shape)
    elif light == "sun":
        px = px * 1.4
    px = px + rng.normal(0, 3, px.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _car(plate: Image.Image | None, plate_px: int, rng) -> tuple[Image.Image, tuple] | None:
    """An RGBA car panel with the plate (if any) on it, rotated and sheared; and the
    plate's bounding box inside the panel."""
    pw = plate_px
    ph = round(pw * (plate.height / plate.width if plate else 0.22))
    w, h = int(pw * 3.2), int(pw * 1.6)
    panel = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(panel)
    colour = (*(int(v) for v in rng.integers(20, 235, 3)), 255)
    d.rounded_rectangle((0, 0, w - 1, h - 1), radius=max(2, pw // 3), fill=colour)
    lamp = (*(int(v) for v in rng.integers(150, 255, 1)), 30, 30, 255)
    d.rectangle((pw // 8, h // 5, pw // 2, h // 5 + ph), fill=lamp)
    d.rectangle((w - pw // 2, h // 5, w - pw // 8, h // 5 + ph), fill=lamp)
    px, py = (w - pw) // 2, int(h * 0.55)
    if plate is not None:
        panel.paste(plate.resize((pw, ph), Image.Resampling.LANCZOS), (px, py))
    corners = np.array([[px, py], [px + pw, py], [px, py + ph], [px + pw, py + ph]], float)
    shear = float(rng.uniform(-0.25, 0.25))
    angle = float(rng.uniform(-8, 8))
    # shear vertically (seen from the side), then rotate about the centre
    mat = np.array([[1, 0, 0], [shear, 1, -shear * w / 2]], float)
    panel = panel.transform(
        (w, h), Image.Transform.AFFINE, _inverse(mat), resample=Image.Resampling.BICUBIC
    )
    corners = corners @ mat[:, :2].T + mat[:, 2]
    panel = panel.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    a = np.radians(angle)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    corners = (corners - (w / 2, h / 2)) @ rot.T + (panel.width / 2, panel.height / 2)
    x0, y0 = corners.min(axis=0)
    x1, y1 = corners.max(axis=0)
    return panel, (x0, y0, x1 - x0, y1 - y0)


def _inverse(mat: np.ndarray) -> tuple[float, ...]:
    full = np.vstack([mat, [0, 0, 1]])
    inv = np.linalg.inv(full)
    return tuple(inv[:2].ravel())


def photos(split: str, sizes=SIZES, widths=PLATE_WIDTHS, dark: bool = False) -> Iterator[Photo]:
    """Every photo of one half: size × plate width × light, four cars each (every country
    appears in turn); with ``dark``, other seeds and every plate light-on-dark."""
    n = 0
    polarity = "light-on-dark" if dark else "dark-on-light"
    for size in sizes:
        for frac in widths:
            for light in LIGHTS:
                n += 1
                rng = np.random.default_rng([(30 if dark else 10) + SPLITS.index(split), n])
                scene = _SCENES[split][n % len(_SCENES[split])]
                image = Image.fromarray(scene()).convert("RGB").resize(size)
                plates = []
                taken: list[tuple[int, int, int, int]] = []
                for k in range(4):
                    country = COUNTRIES[(n + k) % len(COUNTRIES)]
                    plate_px = max(8, round(size[0] * frac))
                    plate = _plate(country, rng)
                    panel, box = _car(_darken(plate, rng) if dark else plate, plate_px, rng)
                    spot = _free_spot(size, panel.size, taken, rng)
                    if spot is None:
                        continue
                    image.paste(panel, spot, panel)
                    x, y, w, h = box
                    box = (spot[0] + x, spot[1] + y, w, h)
                    plates.append(Plate(box, frac, country, light, polarity))
                name = f"{split}-{'dark-' if dark else ''}{n:03d}"
                yield Photo(name, _finish(np.asarray(image), light, rng), tuple(plates))


def _free_spot(size, fig, taken, rng) -> tuple[int, int] | None:
    fw, fh = fig
    for _ in range(300):
        x = int(rng.integers(0, max(1, size[0] - fw)))
        y = int(rng.integers(0, max(1, size[1] - fh)))
        if all(x + fw < a or a + c < x or y + fh < b or b + d < y for a, b, c, d in taken):
            taken.append((x, y, fw, fh))
            return x, y
    return None


_SIGN_WORDS = (
    "Station Rd",
    "MAIN ST",
    "Park Avenue",
    "Exit 12",
    "Church Lane",
    "M.G. Road",
    "Long St",
    "PHARMACY",
    "Cafe 24h",
    "OPEN 9-5",
    "Bakery",
    "Hotel Savoy",
    "Nelson Mandela Blvd",
    "Platform 3",
    "NO PARKING",
)
_SIGN_COLOURS = (  # (panel, lettering): street-name signs, then shop signs
    ((0, 110, 60), (245, 245, 245)),
    ((20, 60, 150), (245, 245, 245)),
    ((110, 60, 30), (240, 230, 210)),
    ((245, 245, 240), (20, 20, 20)),
    ((250, 210, 30), (20, 20, 20)),
    ((200, 30, 30), (250, 250, 250)),
)


def _sign(rng, width: int) -> Image.Image:
    """A sign: words on a rounded panel about as wide as a plate, with a thin margin."""
    panel, ink = _SIGN_COLOURS[int(rng.integers(len(_SIGN_COLOURS)))]
    text = str(rng.choice(_SIGN_WORDS))
    font = _font(100)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    tw = probe.textlength(text, font=font)
    im = Image.new("RGBA", (int(tw + 80), 170), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle((0, 0, im.width - 1, 169), radius=20, fill=(*panel, 255))
    if rng.random() < 0.5:
        d.rounded_rectangle((8, 8, im.width - 9, 161), radius=16, outline=(*ink, 255), width=5)
    d.text((im.width / 2, 85), text, fill=(*ink, 255), font=font, anchor="mm")
    im = im.resize((width, max(4, round(width * im.height / im.width))), Image.Resampling.LANCZOS)
    return im.rotate(float(rng.uniform(-6, 6)), resample=Image.Resampling.BICUBIC, expand=True)


def plateless(split: str, sizes=SIZES) -> Iterator[tuple[str, Image.Image]]:
    """(name, photo): the half's scenes with plate-less car panels, lettering posters, and
    scenes with signs."""
    for i, scene in enumerate(_SCENES[split]):
        for size in sizes:
            rng = np.random.default_rng([20 + SPLITS.index(split), i, size[0]])
            image = Image.fromarray(scene()).convert("RGB").resize(size)
            taken: list[tuple[int, int, int, int]] = []
            for _ in range(3):
                panel, _box = _car(None, round(size[0] * 0.08), rng)
                spot = _free_spot(size, panel.size, taken, rng)
                if spot:
                    image.paste(panel, spot, panel)
            yield f"cars-{i}", _finish(np.asarray(image), "normal", rng)
            poster = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
            d = ImageDraw.Draw(poster)
            for _ in range(8):
                d.text(
                    (int(rng.integers(0, size[0] // 2)), int(rng.integers(0, size[1] - 60))),
                    _letters(rng, 3) + " " + _digits(rng, 3),
                    fill=tuple(int(v) for v in rng.integers(0, 255, 3)),
                    font=_font(int(rng.integers(size[1] // 20, size[1] // 8))),
                )
            yield f"poster-{i}", _finish(np.asarray(poster), "normal", rng)
            rng = np.random.default_rng([40 + SPLITS.index(split), i, size[0]])
            image = Image.fromarray(scene()).convert("RGB").resize(size)
            taken = []
            for _ in range(5):
                sign = _sign(rng, round(size[0] * float(rng.uniform(0.05, 0.2))))
                spot = _free_spot(size, sign.size, taken, rng)
                if spot:
                    image.paste(sign, spot, sign)
            yield f"signs-{i}", _finish(np.asarray(image), "normal", rng)

"""Number plates for de-identification: a classical detector, no model.

No plate model can be downloaded here, and the plate cascade OpenCV ships (trained on
Russian plates) found a fifth of the generated plates of ``bench/bench_plates.py``, at
three times this detector's cost. This looks for what every plate has instead: a row of
dark, upright character strokes on a light, flat panel, wider than tall.

1. Vertical edges (horizontal Sobel) of a contrast-equalised (CLAHE) grey copy,
   thresholded, then closed with a short horizontal kernel so the characters of one plate
   merge into one blob; every blob counts, also those inside others (a plate on a car on
   a textured street is a hole in a larger blob).
2. Blobs are kept when their rotated rectangle is 1.6-7× wider than tall, 3-60 px tall and
   within 25 degrees of level. This runs on the copy and on a half-size copy (large plates).
3. Inside the straightened rectangle, the pixels must split into ink and panel (Otsu) with
   12-55 % ink, enough contrast, and the middle third must cross 5 or more ink strokes;
   ink may be the dark class or the light one (black, green or blue plates with white or
   yellow characters). Most textures (gravel, grass, brick) fail these tests.
4. Lines of print pass them too, so three more: on lines tall enough to tell letters
   apart, the letters must be of one height (a plate's capitals and digits; a street
   sign's "Station Rd" has short and tall ones); on tall lines there must be at least
   four separate characters (every plate has five or more; a short word printed large,
   "ABC" or "092", has three, and a blob of texture none), and the panel must
   not run on unbroken above and below the line (lettering on a poster or a wall does).

Its figures (plates found by width, polarity and country; false blurs on textures,
posters and signs) are in ``bench/RESULTS.md``.
"""

from __future__ import annotations

import cv2
import numpy as np

from datatrust.pipeline.faces import Box, iou

_MIN_H, _MAX_H = 3, 60  # plate heights in the copy, px
_ASPECT = (1.6, 7.0)
_INK = (0.12, 0.55)  # share of dark pixels inside a plate
_MIN_STROKES = 5
# Vertical-edge strength (Sobel, after CLAHE) that counts as a stroke edge. A fixed level
# beat Otsu's on the tuning half (81 against 76 of 91 plates found, fewer false boxes).
_EDGE = 70
_CLAHE = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
# Lettering on a large surface: every row of the bands above and below the line holds at
# least _FIELD_SHARE of pixels within the tolerance (grey levels, or a share of the
# panel-to-ink contrast) of the panel's brightness.
_FIELD_SHARE = 0.9
_FIELD_TOLERANCE = (12.0, 0.2)
_FIELD_CHECK_H = 20
# On lines at least _FIELD_CHECK_H tall the characters stand apart in the copy, and a plate
# shows at least _MIN_LETTERS of them. Short words printed large (a poster's "CDV 092", found
# one word at a time) show three. A large plate whose words do not merge in the copy is
# found whole in the half-size copy, where they do. Chosen on the tuning half: 3 kept 6 of
# the 20 false boxes in plate photos, 4 kept 3, 5 cost a plate more.
_MIN_LETTERS = 4
# Letter heights are judged on lines at least this tall in the copy (smaller ones blur
# letters together); _EVEN_SHARE of the letters must reach _EVEN_HEIGHT of the tallest.
_LETTER_CHECK_H = 14
_EVEN_HEIGHT = 0.85
_EVEN_SHARE = 0.75


def detect_plates(rgb: np.ndarray, full_size: tuple[int, int]) -> list[Box]:
    """Plates found in ``rgb`` (an RGB or grey copy of the picture, any size), as boxes in
    ``full_size`` = (width, height) coordinates (axis-aligned, around a tilted plate).
    The copy is searched as given and at half size (large plates, whose characters stand
    too far apart to merge at full size); overlapping finds are merged."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    half = cv2.resize(
        grey, (max(1, grey.shape[1] // 2), max(1, grey.shape[0] // 2)), interpolation=cv2.INTER_AREA
    )
    boxes = _search(grey, full_size) + _search(half, full_size)
    return _merge(boxes)


def _merge(boxes: list[Box]) -> list[Box]:
    """Boxes that overlap are replaced by the box around both."""
    out: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b[2] * b[3]):
        for i, kept in enumerate(out):
            if iou(box, kept) > 0 and _overlap(box, kept) > 0.3:
                x0, y0 = min(box[0], kept[0]), min(box[1], kept[1])
                x1 = max(box[0] + box[2], kept[0] + kept[2])
                y1 = max(box[1] + box[3], kept[1] + kept[3])
                out[i] = (x0, y0, x1 - x0, y1 - y0)
                break
        else:
            out.append(box)
    return out


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h) / max(1, min(a[2] * a[3], b[2] * b[3]))


def _search(grey: np.ndarray, full_size: tuple[int, int]) -> list[Box]:
    h, w = grey.shape
    grey = _CLAHE.apply(grey)  # a plate in shade or dim light keeps its contrast
    edges = cv2.convertScaleAbs(cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3))
    _, mask = cv2.threshold(edges, _EDGE, 255, cv2.THRESH_BINARY)
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3))
    )
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 2)))
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    cw, ch = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    # Loose bounds every blob that passes the tests below meets (1.6-7:1, ≤ 60 px tall,
    # ≤ 25° off level), checked for all blobs at once: a textured street has thousands.
    maybe = (cw >= 8) & (ch >= 2) & (cw >= 0.9 * ch) & (ch <= 2 * _MAX_H + cw // 2)
    fx, fy = full_size[0] / w, full_size[1] / h
    boxes: list[Box] = []
    for label in np.flatnonzero(maybe) + 1:
        x, y, bw, bh = (int(v) for v in stats[label, :4])
        ys, xs = np.nonzero(labels[y : y + bh, x : x + bw] == label)
        rect = cv2.minAreaRect(np.column_stack([xs + x, ys + y]).astype(np.float32))
        corners = cv2.boxPoints(rect)
        first, second = corners[1] - corners[0], corners[2] - corners[1]
        long, short = (first, second) if np.hypot(*first) >= np.hypot(*second) else (second, first)
        rw, rh = float(np.hypot(*long)) + 1, float(np.hypot(*short)) + 1  # pixel centres
        # the long side's slope, in (-90, 90]: OpenCV's own angle convention changed in 4.5
        angle = float(np.degrees(np.arctan2(long[1], long[0])))
        angle = angle - 180 if angle > 90 else angle + 180 if angle <= -90 else angle
        if not (_MIN_H <= rh <= _MAX_H and _ASPECT[0] <= rw / max(rh, 1) <= _ASPECT[1]):
            continue
        if abs(angle) > 25:  # plates are roughly level
            continue
        cx, cy = rect[0]
        if not _looks_like_a_plate(grey, (cx, cy), (rw, rh), angle):
            continue
        pad_x, pad_y = bw * 0.15, bh * 0.5
        x0, y0 = max(0.0, (x - pad_x) * fx), max(0.0, (y - pad_y) * fy)
        x1 = min(float(full_size[0]), (x + bw + pad_x) * fx)
        y1 = min(float(full_size[1]), (y + bh + pad_y) * fy)
        boxes.append((int(x0), int(y0), int(np.ceil(x1 - x0)), int(np.ceil(y1 - y0))))
    return boxes


def _looks_like_a_plate(grey: np.ndarray, centre, size, angle: float) -> bool:
    """The rectangle, straightened, holds a flat panel crossed by enough strokes of the
    other brightness (dark on light, or light on dark), of one height, and the panel does
    not run on unbroken above and below the line (lettering on a poster or a wall does)."""
    rw, rh = round(size[0]), round(size[1])
    if rw < 8 or rh < 3:
        return False
    # The straightened rectangle with one line height of surroundings above and below.
    rot = cv2.getRotationMatrix2D(centre, angle, 1.0)
    rot[0, 2] += rw / 2 - centre[0]
    rot[1, 2] += rh / 2 + rh - centre[1]
    around = cv2.warpAffine(grey, rot, (rw, 3 * rh), flags=cv2.INTER_LINEAR)
    patch = np.ascontiguousarray(around[rh : 2 * rh])
    if float(patch.std()) < 25:  # no contrast between characters and panel
        return False
    _level, dark = cv2.threshold(patch, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    for ink in (dark, 1 - dark):  # dark characters first, then light ones
        share = float(ink.mean())
        if not (_INK[0] <= share <= _INK[1]):
            continue
        middle = ink[rh // 3 : rh - rh // 3 or None].max(axis=0) if rh >= 3 else ink[rh // 2]
        strokes = int(np.count_nonzero(np.diff(middle.astype(np.int8)) == 1))
        if not (_MIN_STROKES <= strokes <= rw // 2):
            continue
        panel = patch[ink == 0]
        ink_level = float(np.median(patch[ink == 1]))
        if rh >= _LETTER_CHECK_H:
            heights = _letter_heights(ink)
            if (rh >= _FIELD_CHECK_H and heights.size < _MIN_LETTERS) or not _even(heights):
                continue  # not letters of this brightness: perhaps of the other
        if rh >= _FIELD_CHECK_H and _open_field(around, rh, float(np.median(panel)), ink_level):
            continue
        return True
    return False


def _open_field(around: np.ndarray, rh: int, panel: float, ink: float) -> bool:
    """Whether the panel's brightness runs on, unbroken, through the band from a fifth to
    the whole of a line height above the line and the same band below it: text printed on
    a large surface (a poster, a wall). A plate's panel ends within that band at its edge
    or border, where the car's paint, the bumper or the frame begins."""
    tolerance = max(_FIELD_TOLERANCE[0], _FIELD_TOLERANCE[1] * abs(panel - ink))
    near = np.abs(around.astype(np.float32) - panel) <= tolerance
    skip = max(1, rh // 2)
    above, below = near[: rh - skip], near[2 * rh + skip :]
    if not above.size or not below.size:
        return False
    return bool(
        above.mean(axis=1).min() >= _FIELD_SHARE and below.mean(axis=1).min() >= _FIELD_SHARE
    )


def _letter_heights(ink: np.ndarray) -> np.ndarray:
    """Heights of the line's separate characters: connected ink at least 0.3 of the line
    tall, shorter than the line and at most 1.2 times as wide as tall; not dots, hyphens
    and noise, nor a border or a run of touching letters."""
    _n, _labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    rh = ink.shape[0]
    w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    return h[(h >= 0.3 * rh) & (h < rh) & (w <= 1.2 * h)]


def _even(heights: np.ndarray) -> bool:
    """The line's characters are of one height, as a plate's capitals and digits are; words
    in mixed case (a street sign's "Station Rd") have short and tall letters."""
    if heights.size < 4:
        return True  # too few separate letters to judge
    tall = heights >= _EVEN_HEIGHT * np.percentile(heights, 75)
    return float(tall.mean()) >= _EVEN_SHARE

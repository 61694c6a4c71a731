"""Face detection (BlazeFace through OpenCV DNN): boxes land where the faces are, in the
full picture's coordinates, whatever copy and orientation the detector is given."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from datatrust.pipeline.faces import detect_faces


def _photo(size: tuple[int, int], at: tuple[int, int], head_width: int) -> tuple[np.ndarray, tuple]:
    """Gravel with the astronaut's head pasted at ``at``; returns pixels and the face box."""
    photo = Image.fromarray(skdata.gravel()).convert("RGB").resize(size)
    head = Image.fromarray(skdata.astronaut()).crop((150, 40, 290, 200))  # face 27,27 93×93
    scale = head_width / head.width
    photo.paste(head.resize((head_width, round(head.height * scale))), at)
    face = (at[0] + 27 * scale, at[1] + 27 * scale, 93 * scale, 93 * scale)
    return np.asarray(photo), face


def _centre_inside(box, face) -> bool:
    x, y, w, h = box
    fx, fy, fw, fh = face
    return fx <= x + w / 2 <= fx + fw and fy <= y + h / 2 <= fy + fh and 0.5 < w / fw < 2


def test_a_picture_without_faces_gives_no_boxes():
    assert (
        detect_faces(np.asarray(Image.fromarray(skdata.gravel()).convert("RGB")), (512, 512)) == []
    )


@pytest.mark.parametrize("size", [(1200, 900), (900, 1200)])  # landscape and portrait
def test_the_box_lands_on_the_face_in_either_orientation(size):
    at = (size[0] - 400, size[1] - 420)  # bottom right: where letterbox padding would show up
    pixels, face = _photo(size, at, 300)

    boxes = detect_faces(pixels, size)

    assert len(boxes) == 1
    assert _centre_inside(boxes[0], face), (boxes, face)


def test_boxes_from_a_small_copy_are_in_full_size_coordinates():
    pixels, face = _photo((2400, 1800), (1500, 600), 500)
    small = np.asarray(Image.fromarray(pixels).reduce(3))

    full, reduced = detect_faces(pixels, (2400, 1800)), detect_faces(small, (2400, 1800))

    assert len(full) == len(reduced) == 1
    assert _centre_inside(reduced[0], face)
    assert all(abs(a - b) <= 0.05 * full[0][2] for a, b in zip(full[0], reduced[0], strict=True))


def test_grey_copies_work_too():
    pixels, face = _photo((1024, 768), (300, 200), 350)
    grey = np.asarray(Image.fromarray(pixels).convert("L"))

    boxes = detect_faces(grey, (1024, 768))

    assert boxes and _centre_inside(boxes[0], face)


def test_threads_detecting_at_once_get_the_same_answers():
    pixels, _ = _photo((1024, 768), (300, 200), 350)
    expected = detect_faces(pixels, (1024, 768))

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: detect_faces(pixels, (1024, 768)), range(16)))

    assert expected and all(r == expected for r in results)

"""Face detection (CenterFace through onnxruntime): boxes land where the faces are, in the
full picture's coordinates, whatever copy and orientation the detector is given; small
faces are found; faceless pictures give (almost) nothing to blur; video tracking holds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from datatrust.pipeline.faces import FaceTracker, detect_faces
from datatrust.pipeline.media import face_detection_copy


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
    # CenterFace's box depends a little on the scale it sees the face at (how much forehead
    # it takes: 448 against 405 px tall here), so 15 %: a copy mapped back with the wrong
    # factor would be off by 200 %.
    assert all(abs(a - b) <= 0.15 * full[0][2] for a, b in zip(full[0], reduced[0], strict=True))


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


def _crowd(size: tuple[int, int], head_fraction: float) -> tuple[Image.Image, list]:
    """Gravel with four astronaut heads ``head_fraction`` of the width wide (her face, 93 px
    of the crop, is ~0.8 of her head with hair), noise added."""
    photo = Image.fromarray(skdata.gravel()).convert("RGB").resize(size)
    head = Image.fromarray(skdata.astronaut()).crop((150, 40, 290, 200))
    scale = 0.8 * size[0] * head_fraction / 93
    head = head.resize((round(head.width * scale), round(head.height * scale)), Image.LANCZOS)
    faces = []
    for fx, fy in ((0.1, 0.2), (0.4, 0.6), (0.7, 0.3), (0.85, 0.8)):
        at = (int(size[0] * fx), int(size[1] * fy))
        photo.paste(head, at)
        faces.append((at[0] + 27 * scale, at[1] + 27 * scale, 93 * scale, 93 * scale))
    noise = np.random.default_rng(1).normal(0, 4, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(photo) + noise, 0, 255).astype(np.uint8)), faces


@pytest.mark.parametrize(("size", "head_fraction"), [((1024, 768), 0.02), ((2048, 1536), 0.03)])
def test_small_faces_are_found_in_the_pipelines_copy(size, head_fraction):
    photo, faces = _crowd(size, head_fraction)  # faces of 16 and 49 px

    boxes = detect_faces(face_detection_copy(photo), size)

    for face in faces:
        assert any(_centre_inside(b, face) for b in boxes), (face, boxes)
    assert len(boxes) == len(faces)


@pytest.mark.parametrize(
    "picture",
    [skdata.gravel, skdata.brick, skdata.text, skdata.page, skdata.rocket, skdata.coffee],
    ids=["gravel", "brick", "text", "page", "rocket", "coffee"],
)
def test_faceless_textures_posters_and_machines_give_no_face(picture):
    rgb = Image.fromarray(picture()).convert("RGB")
    rgb = rgb.resize((1600, round(1600 * rgb.height / rgb.width)))  # 3.5× for the text

    assert detect_faces(face_detection_copy(rgb), rgb.size) == []


def test_a_tracked_face_is_held_for_a_few_missed_detections_then_dropped():
    tracker = FaceTracker(hold=2)
    face = (100, 100, 40, 40)

    assert tracker.update([face]) == [face]
    assert tracker.update([]) == [face]  # missed once: still blurred
    assert tracker.update([]) == [face]  # twice
    assert tracker.update([]) == []  # gone for longer than the hold


def test_a_moving_face_continues_its_track_and_a_new_one_starts_its_own():
    tracker = FaceTracker(hold=1)
    tracker.update([(100, 100, 40, 40)])

    moved, stranger = (125, 104, 40, 40), (400, 300, 30, 30)  # IoU of the move ~0.3
    assert sorted(tracker.update([moved, stranger])) == sorted([moved, stranger])
    # the old position is not held as a second face: the track moved with it
    assert sorted(tracker.update([])) == sorted([moved, stranger])
    assert tracker.update([]) == []

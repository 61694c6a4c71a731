"""Number plates: found by the classical detector in photos and video, blurred, counted;
scenes without plates keep their pixels."""

from __future__ import annotations

import io
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data as skdata

from datatrust.pipeline.media import face_detection_copy, process_media
from datatrust.pipeline.plates import detect_plates


def _street(
    size=(1600, 1200), plate_width=160, at=(700, 800), tilt=0.0, colours=None, font=None
) -> tuple[Image.Image, tuple]:
    """Gravel with a grey car panel carrying a white plate "KA 05 MN 2024" in Pillow's own
    font (or ``colours`` = (panel, characters), ``font``); returns the photo and the plate's
    box."""
    panel_colour, ink = colours or ((245, 245, 240), (10, 10, 10))
    photo = Image.fromarray(skdata.gravel()).convert("RGB").resize(size)
    plate = Image.new("RGB", (520, 112), panel_colour)
    draw = ImageDraw.Draw(plate)
    draw.rectangle((3, 3, 516, 108), outline=ink, width=6)
    font = font or ImageFont.load_default(80)
    draw.text((260, 56), "KA 05 MN 2024", fill=ink, font=font, anchor="mm")
    if tilt:
        plate = plate.rotate(tilt, expand=True, fillcolor=(60, 60, 70))
    plate = plate.resize((plate_width, round(plate_width * plate.height / plate.width)))
    panel = Image.new("RGB", (plate_width * 3, plate_width), (60, 60, 70))
    panel.paste(plate, (plate_width, plate_width // 2))
    photo.paste(panel, (at[0] - plate_width, at[1] - plate_width // 2))
    return photo, (at[0], at[1], plate.width, plate.height)


def _jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _sharpness(im: np.ndarray, box) -> float:
    x, y, w, h = box
    grey = cv2.cvtColor(im[y : y + h, x : x + w], cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


@pytest.mark.parametrize(("plate_width", "tilt"), [(80, 0.0), (160, 5.0), (320, -4.0)])
def test_a_plate_is_found_where_it_is(plate_width, tilt):
    photo, (x, y, w, h) = _street(plate_width=plate_width, tilt=tilt)

    boxes = detect_plates(face_detection_copy(photo), photo.size)

    assert any(
        bx <= x + w / 2 <= bx + bw and by <= y + h / 2 <= by + bh and bw < 3 * w
        for bx, by, bw, bh in boxes
    ), boxes


def _found(boxes, x, y, w, h) -> bool:
    return any(
        bx <= x + w / 2 <= bx + bw and by <= y + h / 2 <= by + bh and bw < 3 * w
        for bx, by, bw, bh in boxes
    )


@pytest.mark.parametrize(
    "colours",
    [
        ((20, 20, 20), (240, 240, 240)),
        ((10, 90, 50), (245, 245, 245)),
        ((18, 18, 20), (250, 210, 30)),
    ],
    ids=["white on black", "white on green", "yellow on black"],
)
@pytest.mark.parametrize("plate_width", [80, 160])
def test_a_plate_with_light_characters_on_a_dark_panel_is_found(colours, plate_width):
    font = ImageFont.truetype("DejaVuSansCondensed-Bold.ttf", 80)
    photo, (x, y, w, h) = _street(plate_width=plate_width, colours=colours, font=font)

    boxes = detect_plates(face_detection_copy(photo), photo.size)

    assert _found(boxes, x, y, w, h), boxes


def _sign_scene(text: str, panel, ink, width: int) -> tuple[Image.Image, tuple]:
    photo = Image.fromarray(skdata.gravel()).convert("RGB").resize((1600, 1200))
    font = ImageFont.truetype("DejaVuSans-Bold.ttf", 90)
    sign = Image.new(
        "RGB", (round(ImageDraw.Draw(photo).textlength(text, font=font)) + 60, 150), panel
    )
    ImageDraw.Draw(sign).text((sign.width / 2, 75), text, fill=ink, font=font, anchor="mm")
    sign = sign.resize((width, round(width * sign.height / sign.width)))
    photo.paste(sign, (500, 500))
    return photo, (500, 500, sign.width, sign.height)


def test_a_street_sign_in_mixed_case_is_not_taken_for_a_plate():
    photo, (x, y, w, h) = _sign_scene("Station Road", (0, 110, 60), (245, 245, 245), 420)

    boxes = detect_plates(face_detection_copy(photo), photo.size)

    assert not _found(boxes, x, y, w, h), boxes


def test_capitals_printed_large_on_a_poster_are_not_taken_for_a_plate():
    poster = Image.new("RGB", (1600, 1200), (200, 170, 60))
    font = ImageFont.truetype("DejaVuSans-Bold.ttf", 110)
    ImageDraw.Draw(poster).text((300, 500), "SALE 2024", fill=(20, 20, 90), font=font)

    boxes = detect_plates(face_detection_copy(poster), poster.size)

    assert boxes == []


@pytest.mark.parametrize("size", [90, 110])
def test_short_words_printed_large_in_lines_close_together_are_not_plates(size):
    """Light capitals and digits on a dark poster, plate-like but with three characters a
    word, and the lines close enough that the panel never runs on unbroken above and below
    one of them."""
    poster = Image.new("RGB", (1600, 1200), (40, 60, 120))
    draw = ImageDraw.Draw(poster)
    font = ImageFont.truetype("DejaVuSansCondensed-Bold.ttf", size)
    for k, text in enumerate(["KDV 092", "RTX 718", "BNQ 245", "WMZ 630"]):
        draw.text((200 + 150 * (k % 2), 200 + k * size), text, fill=(235, 220, 90), font=font)

    assert detect_plates(face_detection_copy(poster), poster.size) == []


def test_a_plate_in_a_photo_is_blurred_and_counted():
    photo, box = _street()

    r = process_media(_jpeg(photo), "photo")

    assert r.accepted and r.removed["plates_blurred"] == 1
    out = np.asarray(Image.open(io.BytesIO(r.output_bytes)).convert("RGB"))
    assert _sharpness(out, box) < _sharpness(np.asarray(photo), box) / 5


@pytest.mark.parametrize(
    "picture",
    [skdata.gravel, skdata.rocket, skdata.coffee, skdata.brick],
    ids=["gravel", "rocket", "coffee", "brick"],
)
def test_a_scene_without_plates_is_left_nearly_untouched(picture):
    """At most 1 % of a plateless scene is blurred (the gravel and the coffee each give one
    false box today, 0.9 % of the photo; a printed page is the known bad case, see
    bench/RESULTS.md)."""
    photo = Image.fromarray(picture()).convert("RGB").resize((1600, 1200))

    boxes = detect_plates(face_detection_copy(photo), photo.size)

    assert len(boxes) <= 1
    assert sum(w * h for _, _, w, h in boxes) <= 0.01 * 1600 * 1200


def test_plates_can_be_left_alone_by_the_campaign():
    from datatrust.pipeline.media_spec import MediaSpec

    spec = MediaSpec.from_campaign("photo", {"deidentify": {"blur_plates": False}})
    r = process_media(_jpeg(_street()[0]), "photo", spec)

    assert r.accepted and r.removed["plates_blurred"] == 0


@pytest.mark.slow
def test_a_plate_in_a_video_is_blurred_in_every_frame(tmp_path: Path, media_kit):
    photo, (x, y, w, h) = _street(size=(1280, 720), plate_width=140, at=(600, 400))
    path = tmp_path / "street.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=15)
        vs.width, vs.height, vs.pix_fmt = 1280, 720, "yuv420p"
        for i in range(30):  # the camera drifts right: the plate moves left 2 px a frame
            frame = np.asarray(photo.crop((2 * i, 0, 2 * i + 1280, 720)))
            out.mux(
                vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24"))
            )
        out.mux(vs.encode(None))

    r = process_media(path, "video", output_dir=str(tmp_path))

    assert r.accepted and r.removed["plates_blurred"] >= 30
    with av.open(r.output_path) as a, av.open(str(path)) as b:
        pairs = zip(a.decode(video=0), b.decode(video=0), strict=True)
        for i, (after, before) in enumerate(pairs):
            box = (x - 2 * i, y, w, h)
            ratio = _sharpness(after.to_ndarray(format="rgb24"), box) / _sharpness(
                before.to_ndarray(format="rgb24"), box
            )
            assert ratio < 0.3, (i, ratio)

"""Photos: metadata stripped, location coarsened, bystanders' faces blurred, quality and
near-duplicate fingerprints."""

from __future__ import annotations

import io

import cv2
import h3
import numpy as np
import pytest
from PIL import Image

from datatrust.pipeline.deidentify_media import coarsen_location
from datatrust.pipeline.faces import detect_faces
from datatrust.pipeline.fingerprint import hamming, is_near_duplicate, phash
from datatrust.pipeline.media import process_media
from datatrust.pipeline.media_spec import MediaSpec

AMSTERDAM = (52.3676, 4.9041)


def _face_box(image: Image.Image) -> tuple[int, int, int, int]:
    boxes = detect_faces(np.asarray(image.convert("RGB")), image.size)
    assert boxes, "the astronaut's face must be found in the original"
    return boxes[0]


def _sharpness(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    x, y, w, h = box
    region = np.asarray(image.convert("L"))[y : y + h, x : x + w]
    return float(cv2.Laplacian(region, cv2.CV_64F).var())


def test_gps_exif_is_stripped_and_only_an_h3_cell_is_kept(make_jpeg):
    original = make_jpeg(gps=AMSTERDAM)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the input has GPS

    r = process_media(original, "photo")

    assert r.accepted, r.rejections
    assert {"EXIF", "GPS"} <= set(r.removed["metadata_removed"])
    out = Image.open(io.BytesIO(r.output_bytes))
    assert len(out.getexif()) == 0
    assert b"Exif" not in r.output_bytes[:4096] and b"ExamplePhone" not in r.output_bytes
    assert r.h3_cell == h3.latlng_to_cell(*AMSTERDAM, 8)
    assert h3.get_resolution(r.h3_cell) == 8
    assert r.removed["location"] == "coarsened to H3 resolution 8"
    assert "52.36" not in repr(r)  # the coordinates are not kept anywhere in the report


def test_client_location_wins_and_resolution_follows_the_campaign(make_jpeg):
    spec = MediaSpec.from_campaign("photo", {"deidentify": {"h3_resolution": 6}})
    r = process_media(
        make_jpeg(gps=AMSTERDAM), "photo", spec, metadata={"lat": -33.92, "lng": 18.42}
    )
    assert r.h3_cell == h3.latlng_to_cell(-33.92, 18.42, 6)


def test_null_island_and_bad_coordinates_give_no_cell():
    assert coarsen_location(0.0, 0.0) is None
    assert coarsen_location(91, 0) is None
    assert coarsen_location(float("nan"), 3) is None
    assert coarsen_location("x", 3) is None
    assert coarsen_location(52.37, 4.90) == h3.latlng_to_cell(52.37, 4.90, 8)


def test_astronaut_face_is_blurred(make_jpeg, astronaut: Image.Image):
    box = _face_box(astronaut)
    r = process_media(make_jpeg(), "photo")

    assert r.accepted, r.rejections
    assert r.removed["faces_blurred"] >= 1
    out = Image.open(io.BytesIO(r.output_bytes))
    before, after = _sharpness(astronaut, box), _sharpness(out, box)
    assert after < before / 10, (before, after)
    # The rest of the photo is left sharp.
    corner = (0, 700, 300, 300)
    assert _sharpness(out, corner) > _sharpness(astronaut, corner) / 2


def test_keep_contributor_face_leaves_the_largest_face(make_jpeg, astronaut: Image.Image):
    box = _face_box(astronaut)
    spec = MediaSpec.from_campaign("photo", {"deidentify": {"keep_contributor_face": True}})
    r = process_media(make_jpeg(), "photo", spec)
    assert r.removed["faces_kept"] == 1
    out = Image.open(io.BytesIO(r.output_bytes))
    assert _sharpness(out, box) > _sharpness(astronaut, box) / 2


def test_exif_orientation_is_applied_to_the_pixels_before_exif_is_dropped(make_jpeg, astronaut):
    wide = astronaut.resize((1200, 800))
    r = process_media(make_jpeg(image=wide, orientation=6), "photo")  # 6: rotate 90° CW
    assert r.accepted, r.rejections
    assert Image.open(io.BytesIO(r.output_bytes)).size == (800, 1200)


def test_png_text_chunks_are_removed_and_icc_kept(astronaut):
    from PIL import ImageCms, PngImagePlugin

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Author", "Anna Jansen")
    buf = io.BytesIO()
    astronaut.save(buf, "PNG", pnginfo=meta, icc_profile=icc)
    r = process_media(buf.getvalue(), "photo")
    assert r.accepted, r.rejections
    assert "TEXT" in r.removed["metadata_removed"]
    assert b"Anna Jansen" not in r.output_bytes
    assert Image.open(io.BytesIO(r.output_bytes)).info.get("icc_profile") == icc


def test_webp_is_accepted_and_stays_webp(astronaut):
    buf = io.BytesIO()
    astronaut.save(buf, "WEBP", quality=90)
    r = process_media(buf.getvalue(), "photo")
    assert r.accepted, r.rejections
    assert r.output_format == "webp" and r.output_bytes[8:12] == b"WEBP"


def test_quality_figures_and_failures(astronaut):
    dark = Image.eval(astronaut, lambda v: v // 12)
    buf = io.BytesIO()
    dark.save(buf, "JPEG", quality=90)
    r = process_media(buf.getvalue(), "photo")
    assert r.verdict == "rejected"
    assert "too_dark" in r.codes
    assert r.quality["mean_luminance"] < 35

    blurred = astronaut.filter(__import__("PIL.ImageFilter").ImageFilter.GaussianBlur(12))
    buf = io.BytesIO()
    blurred.save(buf, "JPEG", quality=90)
    r = process_media(buf.getvalue(), "photo")
    assert "blurry" in r.codes and r.quality["sharpness"] < 20

    small = astronaut.resize((400, 300))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=90)
    assert "low_resolution" in process_media(buf.getvalue(), "photo").codes


def test_good_photo_reports_all_figures(make_jpeg):
    r = process_media(make_jpeg(), "photo")
    assert set(r.quality) == {
        "width",
        "height",
        "megapixels",
        "sharpness",
        "mean_luminance",
        "clipped_fraction",
    }
    assert r.fingerprints.sha256_original != r.fingerprints.sha256_output
    assert len(r.fingerprints.phash) == 16


def test_resized_and_reencoded_copy_is_a_near_duplicate(make_jpeg, astronaut):
    original = process_media(make_jpeg(), "photo").fingerprints.phash
    copy = astronaut.resize((800, 800)).convert("RGB")
    buf = io.BytesIO()
    copy.save(buf, "JPEG", quality=55)
    again = process_media(buf.getvalue(), "photo").fingerprints.phash

    assert hamming(original, again) <= 6
    unrelated = phash(np.asarray(astronaut.rotate(90)))
    hit = is_near_duplicate(again, {"item-1": unrelated, "item-2": original})
    assert hit is not None and hit.key == "item-2"
    assert "item-2" in hit.reason and "bits" in hit.reason
    assert is_near_duplicate(again, [unrelated]) is None


def test_hamming_rejects_hashes_of_different_sizes():
    assert hamming("ff00", "ff01") == 1
    with pytest.raises(ValueError):
        hamming("ff", "ff00")


def test_unknown_spec_fields_fail_loudly():
    with pytest.raises(ValueError, match="max_pixles"):
        MediaSpec.from_campaign("photo", {"limits": {"max_pixles": 1}})
    with pytest.raises(ValueError):
        MediaSpec.from_campaign("photo", {"colour": {}})
    with pytest.raises(ValueError):
        MediaSpec.for_kind("hologram")


def _scene_with_bystanders(
    size: tuple[int, int], crop_width: int, seed: int
) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """A photo of ``size`` with three copies of the astronaut's head (a crop ``crop_width``
    wide, face about two thirds of it) pasted on one of scikit-image's textured scenes, plus
    sensor noise. Returns the image and the true face boxes. (No animal scenes: the detector
    takes a cat's face for a face and blurs it too, which would change the count.)"""
    from skimage import data as skdata

    backgrounds = (skdata.coffee, skdata.gravel, skdata.rocket)
    scene = Image.fromarray(backgrounds[seed % 3]()).convert("RGB").resize(size)
    head = Image.fromarray(skdata.astronaut()).crop((150, 40, 290, 200))  # face at 27,27 93×93
    scale = crop_width / head.width
    head = head.resize((crop_width, round(head.height * scale)), Image.Resampling.LANCZOS)
    w, h = size
    boxes = []
    for fx, fy in ((0.1, 0.15), (0.45, 0.55), (0.75, 0.2)):
        x, y = int(w * fx), int(h * fy)
        scene.paste(head, (x, y))
        boxes.append(
            (x + round(27 * scale), y + round(27 * scale), round(93 * scale), round(93 * scale))
        )
    noise = np.random.default_rng(seed).normal(0, 5, (h, w, 3))
    noisy = np.clip(np.asarray(scene).astype(np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(noisy), boxes


@pytest.mark.parametrize(
    ("size", "crop_width"),
    [
        ((1024, 768), 110),  # faces ~73 px: 46 px in the 640 px detection copy
        ((2048, 1536), 240),  # 3 MP, faces ~160 px
        pytest.param(
            (4032, 3024),
            400,  # 12 MP, faces ~265 px: 7 % of the width, 42 px when detected
            marks=pytest.mark.slow,
        ),
    ],
)
def test_every_bystander_face_is_blurred_at_each_size(make_jpeg, size, crop_width):
    image, faces = _scene_with_bystanders(size, crop_width, seed=crop_width)

    r = process_media(make_jpeg(image=image), "photo")

    assert r.accepted, r.rejections
    assert r.removed["faces_blurred"] == len(faces)
    out = Image.open(io.BytesIO(r.output_bytes))
    for face in faces:
        before, after = _sharpness(image, face), _sharpness(out, face)
        assert after < before / 5, (face, before, after)
    background = (size[0] // 3, size[1] - size[1] // 6, size[0] // 4, size[1] // 8)
    assert _sharpness(out, background) > _sharpness(image, background) / 2

"""The npm files the pages load are committed inside the Python package (the service runs
with Python and pip only): each one byte-identical to the pinned version in node_modules,
listed in scripts/vendor_js.py with its package's licence, inside the built wheel, and
served like the other static files (revalidated by ETag, gzip-compressed)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support import require_service

ROOT = Path(__file__).resolve().parents[2]


def _vendor_js():
    spec = importlib.util.spec_from_file_location("vendor_js", ROOT / "scripts/vendor_js.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["vendor_js"] = module
    spec.loader.exec_module(module)
    return module


vendor_js = _vendor_js()


def test_every_vendored_file_is_byte_identical_to_node_modules():
    """Fails on a copy edited by hand, a stale copy after a version change in
    package-lock.json, a missing copy, or a file in vendor/ that the script does not list."""
    have = all((vendor_js.NODE_MODULES / p).is_dir() for p in vendor_js.VENDORED)
    require_service("node_modules (npm ci, from package-lock.json)", have)
    assert vendor_js.differences() == []


def test_vendored_packages_are_pinned_exactly_and_carry_their_licence():
    declared = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for package, names in vendor_js.VENDORED.items():
        version = declared[package]
        assert version[0].isdigit(), f"{package}: {version!r} is not an exact version"
        assert locked[f"node_modules/{package}"]["version"] == version
        assert "LICENSE" in names
        assert (vendor_js.VENDOR / package / "LICENSE").stat().st_size > 500


def test_the_check_notices_a_changed_byte(tmp_path, monkeypatch):
    """The comparison itself, on a copy of the vendored tree: one changed byte is reported."""
    fake_vendor = tmp_path / "vendor"
    shutil.copytree(vendor_js.VENDOR, fake_vendor)
    fake_modules = tmp_path / "node_modules"
    for target, source in vendor_js.planned().items():
        copy = fake_modules / source.relative_to(vendor_js.NODE_MODULES)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(target.read_bytes())
    monkeypatch.setattr(vendor_js, "VENDOR", fake_vendor)
    monkeypatch.setattr(vendor_js, "NODE_MODULES", fake_modules)
    monkeypatch.setattr(vendor_js, "ROOT", tmp_path)
    assert vendor_js.differences() == []
    script = fake_vendor / "tus-js-client" / "tus.min.js"
    data = bytearray(script.read_bytes())
    data[100] ^= 1
    script.write_bytes(bytes(data))
    (fake_vendor / "leaflet" / "extra.js").write_text("x")
    assert vendor_js.differences() == [
        "vendor/tus-js-client/tus.min.js: differs from node_modules/tus-js-client/dist/tus.min.js",
        "vendor/leaflet/extra.js: not listed in VENDORED",
    ]


def test_the_built_wheel_holds_every_vendored_file(tmp_path):
    uv = shutil.which("uv")
    require_service("uv (to build the wheel)", uv is not None)
    subprocess.run(
        [str(uv), "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for target in vendor_js.planned():
        inside = "datatrust/" + target.relative_to(ROOT / "src/datatrust").as_posix()
        assert inside in names


@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/tus-js-client/tus.min.js",
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/vendor/h3-js/h3-js.umd.js",
    ],
)
def test_vendored_files_are_served_compressed_and_revalidated(client, path):
    target = vendor_js.VENDOR / path.removeprefix("/static/vendor/")
    first = client.get(path, headers={"accept-encoding": "gzip"})
    assert first.status_code == 200
    assert first.headers["content-encoding"] == "gzip"
    assert first.content == target.read_bytes()  # decoded by the client, intact
    assert first.num_bytes_downloaded < target.stat().st_size / 2
    again = client.get(path, headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""

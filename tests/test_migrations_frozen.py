"""Migrations import nothing of the live code (``datatrust``) but their own frozen copies
(``adapters/db/migrations/frozen.py``): a migration must do the same thing whenever it
runs, while the code it would borrow goes on changing. The copies still agree with the
live code on what existed when they were written."""

from __future__ import annotations

import ast
import base64
import importlib.util
from pathlib import Path

import numpy as np

from datatrust.adapters.crypto import AesGcmCipher
from datatrust.adapters.db.migrations.frozen import FieldSealer
from datatrust.pipeline.fingerprint import SPECTRAL, index_keys

MIGRATIONS = Path(__file__).parent.parent / "src/datatrust/adapters/db/migrations"
ALLOWED = "datatrust.adapters.db.migrations.frozen"


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_migrations_import_nothing_of_the_live_code():
    versions = sorted((MIGRATIONS / "versions").glob("*.py"))
    assert len(versions) > 20
    borrowed = {
        f"{path.name}: {name}"
        for path in [*versions, MIGRATIONS / "frozen.py"]
        for name in _imports(path)
        if (name == "datatrust" or name.startswith("datatrust.")) and name != ALLOWED
    }
    assert sorted(borrowed) == []


def test_the_frozen_sealer_writes_what_the_live_cipher_opens():
    master = bytes(range(32))
    frozen, live = FieldSealer(master), AesGcmCipher(master)
    wrapped = frozen.new_wrapped_key()
    sealed = frozen.seal_field(wrapped, "Ayanda's walk")
    assert sealed.startswith("dtf1.") and live.open_field(wrapped, sealed) == "Ayanda's walk"
    sha = "ab" * 32
    assert frozen.content_id(sha) == live.content_id(sha)


def test_the_frozen_keys_of_migration_0010_are_the_live_ones_for_prints_of_its_time():
    spec = importlib.util.spec_from_file_location(
        "m0010", MIGRATIONS / "versions/0010_fingerprint_bands.py"
    )
    assert spec is not None and spec.loader is not None
    m0010 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0010)
    words = np.arange(1000, 1000 + 40 * 977, 977, dtype="<u4")
    prints = {
        "phash": "8f3c0e1d2b4a6978",
        "frame_phashes": ["0123456789abcdef", "short"],
        "audio": {"engine": SPECTRAL, "value": base64.b64encode(words.tobytes()).decode()},
    }
    frozen = m0010._index_keys(prints)
    assert len(frozen) == 8 + 40
    assert frozen == index_keys(prints)

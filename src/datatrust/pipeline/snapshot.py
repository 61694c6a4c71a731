"""Writing a snapshot's files: WebDataset tar shards, the index, the Croissant manifest,
checksums, and the version rule. Pure: bytes and dicts in, bytes and dicts out; no
database, no object store (the service moves the bytes).

A shard is a plain POSIX tar in WebDataset layout: for each record ``<key>.<ext>`` (the
de-identified media) followed by ``<key>.json`` (its record: item id, licence id, consent
record id, content hash). Members carry fixed owner, mode and mtime, so the same records
always give byte-identical shards and checksums.

The index is one Parquet file (``index.parquet``): one typed row per record, what a
buyer's data tooling (pandas, Spark, DuckDB, Croissant readers) loads directly. Written
with fixed options and no timestamps, so the same records give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
    "equivalentProperty": "cr:equivalentProperty",
    "samplingRate": "cr:samplingRate",
    "dt": "https://datatrust.example/ns#",
}

# The index's columns, in order, with their Parquet types (and Croissant data types
# below). Every record of the manifest's record set is one row; nullable where an item
# may lack the value (a photo has no duration, an item may have no location).
INDEX_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("shard", pa.string(), nullable=False),
        pa.field("media_file", pa.string(), nullable=False),
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("content_sha256", pa.string(), nullable=False),
        pa.field("licence_id", pa.string(), nullable=False),
        pa.field("consent_record_id", pa.string(), nullable=False),
        pa.field("duration_seconds", pa.int64()),
        pa.field("h3_cell", pa.string()),
        # A call's redacted transcript shipped beside its audio (same key, ``transcript.txt``).
        pa.field("transcript_file", pa.string()),
    ]
)
INDEX_COLUMNS = tuple(INDEX_SCHEMA.names)
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_TAR_MTIME = 0  # fixed, so shards are reproducible


@dataclass(frozen=True)
class ShardRecord:
    """One item in a shard: ``key`` (safe: ``[a-z0-9_-]``), media extension, bytes, record;
    ``extra`` more files of the same record by extension (``{"transcript.txt": b"…"}``:
    WebDataset reads everything after the key's first dot as the extension)."""

    key: str
    ext: str
    media: bytes
    record: dict[str, Any]
    extra: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class WrittenFile:
    name: str
    sha256: str
    size: int


class _HashingWriter(io.RawIOBase):
    """Passes writes to ``target`` while hashing and counting them."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = bytes(data)
        self.digest.update(view)
        self.size += len(view)
        self.target.write(view)
        return len(view)


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = _TAR_MTIME
    info.mode = 0o444
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")
_EXT = re.compile(r"^[a-z0-9]{1,10}$")
_EXTRA_EXT = re.compile(r"^[a-z0-9]{1,16}\.[a-z0-9]{1,10}$")


def write_shard(name: str, records: Iterable[ShardRecord], target: BinaryIO) -> WrittenFile:
    """Write a WebDataset tar of ``records`` to ``target``; return its name, hash, size.

    Raises ``ValueError`` for a key or extension that is not safe as a member name (keys
    must also be unique within the shard) — the service makes keys, so it is a bug.
    """
    writer = _HashingWriter(target)
    seen: set[str] = set()
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        for rec in records:
            if not _KEY.match(rec.key) or not _EXT.match(rec.ext) or rec.key in seen:
                raise ValueError(f"unsafe or duplicate shard key {rec.key!r}.{rec.ext!r}")
            if any(not _EXTRA_EXT.match(ext) for ext in rec.extra):
                raise ValueError(f"unsafe extra file extension in {sorted(rec.extra)!r}")
            seen.add(rec.key)
            tar.addfile(_member(f"{rec.key}.{rec.ext}", len(rec.media)), io.BytesIO(rec.media))
            for ext, data in sorted(rec.extra.items()):
                tar.addfile(_member(f"{rec.key}.{ext}", len(data)), io.BytesIO(data))
            body = json.dumps(rec.record, sort_keys=True, separators=(",", ":")).encode()
            tar.addfile(_member(f"{rec.key}.json", len(body)), io.BytesIO(body))
    return WrittenFile(name, writer.digest.hexdigest(), writer.size)


def index_parquet(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The index: one Parquet row per record, columns and types ``INDEX_SCHEMA`` (other
    keys of a row are ignored). Raises ``pyarrow`` errors for a missing required value or
    a wrong type: the service builds the rows, so that is a bug."""
    listed = list(rows)
    table = pa.Table.from_pydict(
        {name: [row.get(name) for row in listed] for name in INDEX_COLUMNS}, schema=INDEX_SCHEMA
    )
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd", store_schema=False)
    return out.getvalue()


def sha256sums(files: Iterable[WrittenFile]) -> bytes:
    """``sha256sum -c`` format: ``<hex>  <name>`` per line, sorted by name."""
    return "".join(f"{f.sha256}  {f.name}\n" for f in sorted(files, key=lambda f: f.name)).encode()


def sha256_of(data: bytes, name: str) -> WrittenFile:
    return WrittenFile(name, hashlib.sha256(data).hexdigest(), len(data))


def next_version(previous: str | None, *, dropped: int, added: int) -> str:
    """Semantic version of the next build for the same buyer and order.

    First build 1.0.0. Any item dropped (withdrawn, expired, no longer allowed) is a
    breaking change: MAJOR+1. Only additions: MINOR+1. The same items: PATCH+1.
    """
    if previous is None:
        return "1.0.0"
    match = _VERSION.match(previous)
    if match is None:
        raise ValueError(f"not a semantic version: {previous!r}")
    major, minor, patch = (int(g) for g in match.groups())
    if dropped:
        return f"{major + 1}.0.0"
    if added:
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


_INDEX_FIELDS = {
    f.name: "sc:Integer" if pa.types.is_integer(f.type) else "sc:Text" for f in INDEX_SCHEMA
}


def croissant_manifest(
    *,
    name: str,
    description: str,
    version: str,
    url: str,
    date_published: str,
    shards: Iterable[WrittenFile],
    index: WrittenFile,
    records: list[Mapping[str, Any]],
    licences: Iterable[str],
    rai: Mapping[str, str],
    creator: str,
) -> dict[str, Any]:
    """A Croissant 1.0 JSON-LD manifest with its Responsible-AI fields.

    Distribution: every shard (``application/x-tar``) and the index (Parquet), each with
    its sha256. One record set, ``records``, read from the index: per record the item id, the
    licence id, the consent record id and the content hash (and where its bytes are).
    ``rai`` gives the RAI text fields (``dataCollection``, ``personalSensitiveInformation``,
    ``dataUseCases``, ``dataLimitations``, ``dataBiases``, ``dataSocialImpact``…); they are
    emitted as ``rai:<name>``. The full per-record list is also under ``dt:records`` for
    readers that do not load the index.
    """
    distribution: list[dict[str, Any]] = []
    for shard in shards:
        distribution.append(
            {
                "@type": "cr:FileObject",
                "@id": shard.name,
                "name": shard.name,
                "contentUrl": shard.name,
                "contentSize": f"{shard.size} B",
                "encodingFormat": "application/x-tar",
                "sha256": shard.sha256,
            }
        )
    distribution.append(
        {
            "@type": "cr:FileObject",
            "@id": index.name,
            "name": index.name,
            "contentUrl": index.name,
            "contentSize": f"{index.size} B",
            "encodingFormat": "application/x-parquet",
            "sha256": index.sha256,
        }
    )
    fields = [
        {
            "@type": "cr:Field",
            "@id": f"records/{column}",
            "name": column,
            "description": f"The record's {column.replace('_', ' ')}.",
            "dataType": data_type,
            "source": {"fileObject": {"@id": index.name}, "extract": {"column": column}},
        }
        for column, data_type in _INDEX_FIELDS.items()
    ]
    doc: dict[str, Any] = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": name,
        "description": description,
        "version": version,
        "url": url,
        "datePublished": date_published,
        "creator": {"@type": "sc:Organization", "name": creator},
        "license": sorted(set(licences)) or ["https://datatrust.example/licence/none"],
        "citeAs": f"{name}, version {version}, {url}",
        "isLiveDataset": False,
        "distribution": distribution,
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "records",
                "name": "records",
                "description": "One record per item: its licence, consent record and hash.",
                "key": {"@id": "records/key"},
                "field": fields,
            }
        ],
        "dt:records": [dict(r) for r in records],
    }
    for key, value in rai.items():
        doc[f"rai:{key}"] = value
    return doc


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False).encode()

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

# Every record's key is ``dt-`` and ten digits (``record_key``), so a glob of exactly that
# shape picks a record's media out of a shard and never its transcript
# (``dt-0000000001.transcript.txt``) — mlcroissant does not implement ``excludes``.
KEY_GLOB = "dt-" + "[0-9]" * 10
KEY_REGEX = r"^(dt-[0-9]{10})(?:\..*)?$"

# What each record's JSON member holds, for readers that must declare it (Hugging Face
# ``datasets``): name → Arrow type name.
RECORD_JSON_FIELDS: dict[str, str] = {
    "agreement_id": "int64",
    "consent_record_id": "string",
    "content_sha256": "string",
    "content_type": "string",
    "duration_seconds": "int64",
    "h3_cell": "string",
    "item_id": "int64",
    "kind": "string",
    "licence_id": "string",
    "transcript_file": "string",
}
TRANSCRIPT_MEMBER = "transcript.txt"
# Extensions the Hugging Face WebDataset builder decodes to text on its own.
_HF_TEXT_EXTENSIONS = {"txt", "text", "transcript"}


def record_key(item_id: int) -> str:
    """The shard key of an item's record: ``dt-`` and its id in ten digits."""
    if not 0 <= item_id < 10**10:
        raise ValueError(f"item id {item_id} does not fit a ten-digit record key")
    return f"dt-{item_id:010d}"


def _media_extension(row: Mapping[str, Any]) -> str:
    return str(row["media_file"]).split(".", 1)[1]


_FAMILY_TYPES = {"video": "sc:VideoObject", "audio": "sc:AudioObject", "text": "sc:Text"}


def _media_data_type(content_types: Iterable[str]) -> str | list[str]:
    """The media fields' Croissant data type(s). Photos alone are ``sc:ImageObject`` (a
    Croissant reader opens them as images); any other mix lists the types present, the
    first of which (video, audio, text) mlcroissant hands over as the member's bytes."""
    families = {ct.split("/", 1)[0] for ct in content_types}
    if families == {"image"}:
        return "sc:ImageObject"
    types = [t for family, t in _FAMILY_TYPES.items() if family in families]
    if "image" in families:
        types.append("sc:ImageObject")
    return types if len(types) > 1 else (types[0] if types else "sc:Text")


def huggingface_features(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The features of the shards for Hugging Face ``datasets``' WebDataset builder, as
    ``datasets.Features.to_dict()`` writes them: declared, the builder decodes nothing
    itself (media stay bytes: no audio or video decoder is needed) and needs no sample
    of the data to guess types. ``Features.from_dict(...)`` reads it back."""

    def value(dtype: str) -> dict[str, str]:
        return {"dtype": dtype, "_type": "Value"}

    listed = list(records)
    features: dict[str, Any] = {}
    for ext in sorted({_media_extension(r) for r in listed}):
        features[ext] = value("string" if ext in _HF_TEXT_EXTENSIONS else "binary")
    if any(r.get("transcript_file") for r in listed):
        features[TRANSCRIPT_MEMBER] = value("string")
    features["json"] = {name: value(t) for name, t in sorted(RECORD_JSON_FIELDS.items())}
    features["__key__"] = value("string")
    features["__url__"] = value("string")
    return features


def _file_object(file: WrittenFile, encoding: str) -> dict[str, Any]:
    return {
        "@type": "cr:FileObject",
        "@id": file.name,
        "name": file.name,
        "contentUrl": file.name,
        "contentSize": f"{file.size} B",
        "encodingFormat": encoding,
        "sha256": file.sha256,
    }


def _field(
    record_set: str, name: str, description: str, data_type: str | list[str], source: Any
) -> dict[str, Any]:
    return {
        "@type": "cr:Field",
        "@id": f"{record_set}/{name}",
        "name": name,
        "description": description,
        "dataType": data_type,
        "source": source,
    }


def _member_key(record_set: str, file_set: str) -> dict[str, Any]:
    return _field(
        record_set,
        "key",
        "The record's key: the member's file name up to its first dot.",
        "sc:Text",
        {
            "fileSet": {"@id": file_set},
            "extract": {"fileProperty": "filename"},
            "transform": {"regex": KEY_REGEX},
        },
    )


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
    rai: Mapping[str, str | list[str]],
    creator: str,
    h3_resolution: int,
) -> dict[str, Any]:
    """A Croissant 1.0 JSON-LD manifest with its Responsible-AI fields, reaching every byte.

    Distribution: every shard (``application/x-tar``) and the index (Parquet) as
    FileObjects with their sha256, which Croissant readers check before reading; and one
    FileSet per kind of shard member, each ``containedIn`` every shard: ``media-files``
    (each record's de-identified media, by the extensions present), ``record-files`` (each
    record's JSON) and, when any record has one, ``transcript-files``.

    Record sets:
    - ``media``: key and bytes of every media member of the shards;
    - ``samples``: each record's JSON member joined by key with its media;
    - ``records``: one typed row of the index per record, joined by key with its sample,
      so ``records/media`` and ``records/json`` are that record's bytes from the shards
      (a reader of ``records`` therefore opens, and checks, every shard);
    - ``transcripts``: each call's redacted transcript, when there are any.

    ``rai`` gives the RAI fields, emitted as ``rai:<name>`` (a list stays a list). Records
    carry H3 cells at ``h3_resolution`` (stated as ``dt:h3Resolution``). The full
    per-record list is also under ``dt:records``, and the shards' features for Hugging Face
    ``datasets`` under ``dt:huggingFaceFeatures``.
    """
    shard_list = list(shards)
    containers = [{"@id": shard.name} for shard in shard_list]
    distribution = [_file_object(shard, "application/x-tar") for shard in shard_list]
    distribution.append(_file_object(index, "application/x-parquet"))
    media_exts = sorted({_media_extension(r) for r in records})
    media_types = sorted({str(r["content_type"]) for r in records})
    media_data_type = _media_data_type(media_types)
    distribution.append(
        {
            "@type": "cr:FileSet",
            "@id": "media-files",
            "name": "media-files",
            "description": "Each record's de-identified media, inside the shards.",
            "containedIn": containers,
            "encodingFormat": media_types,
            "includes": [f"{KEY_GLOB}.{ext}" for ext in media_exts],
        }
    )
    distribution.append(
        {
            "@type": "cr:FileSet",
            "@id": "record-files",
            "name": "record-files",
            "description": "Each record's JSON (item, licence, consent record, hash).",
            "containedIn": containers,
            "encodingFormat": "application/json",
            "includes": [f"{KEY_GLOB}.json"],
        }
    )
    transcripts = any(r.get("transcript_file") for r in records)
    if transcripts:
        distribution.append(
            {
                "@type": "cr:FileSet",
                "@id": "transcript-files",
                "name": "transcript-files",
                "description": "The redacted transcript shipped beside a call's audio.",
                "containedIn": containers,
                "encodingFormat": "text/plain",
                "includes": [f"{KEY_GLOB}.{TRANSCRIPT_MEMBER}"],
            }
        )
    index_fields = [
        _field(
            "records",
            column,
            (
                f"The record's H3 cell at resolution {h3_resolution} (a region)."
                if column == "h3_cell"
                else f"The record's {column.replace('_', ' ')}."
            ),
            data_type,
            {"fileObject": {"@id": index.name}, "extract": {"column": column}},
        )
        for column, data_type in _INDEX_FIELDS.items()
    ]
    index_fields[0]["references"] = {"field": {"@id": "samples/key"}}
    index_fields += [
        _field(
            "records",
            "media",
            "The record's de-identified media, read from its shard.",
            media_data_type,
            {"field": {"@id": "samples/media"}},
        ),
        _field(
            "records",
            "json",
            "The record's JSON member, read from its shard.",
            "sc:Text",
            {"field": {"@id": "samples/json"}},
        ),
    ]
    samples_key = _member_key("samples", "record-files")
    samples_key["references"] = {"field": {"@id": "media/key"}}
    record_sets: list[dict[str, Any]] = [
        {
            "@type": "cr:RecordSet",
            "@id": "media",
            "name": "media",
            "description": "Every media member of the shards, by key.",
            "key": {"@id": "media/key"},
            "field": [
                _member_key("media", "media-files"),
                _field(
                    "media",
                    "content",
                    "The member's bytes.",
                    media_data_type,
                    {"fileSet": {"@id": "media-files"}, "extract": {"fileProperty": "content"}},
                ),
            ],
        },
        {
            "@type": "cr:RecordSet",
            "@id": "samples",
            "name": "samples",
            "description": "Each record's JSON member with its media, as the shards hold them.",
            "key": {"@id": "samples/key"},
            "field": [
                samples_key,
                _field(
                    "samples",
                    "json",
                    "The record's JSON member.",
                    "sc:Text",
                    {"fileSet": {"@id": "record-files"}, "extract": {"fileProperty": "content"}},
                ),
                _field(
                    "samples",
                    "media",
                    "The record's media.",
                    media_data_type,
                    {"field": {"@id": "media/content"}},
                ),
            ],
        },
        {
            "@type": "cr:RecordSet",
            "@id": "records",
            "name": "records",
            "description": (
                "One record per item: its licence, consent record and hash from the index, "
                "with its media and JSON from the shards."
            ),
            "key": {"@id": "records/key"},
            "field": index_fields,
        },
    ]
    if transcripts:
        record_sets.append(
            {
                "@type": "cr:RecordSet",
                "@id": "transcripts",
                "name": "transcripts",
                "description": "The redacted transcript of each call, by record key.",
                "key": {"@id": "transcripts/key"},
                "field": [
                    _member_key("transcripts", "transcript-files"),
                    _field(
                        "transcripts",
                        "text",
                        "The redacted transcript (UTF-8).",
                        "sc:Text",
                        {
                            "fileSet": {"@id": "transcript-files"},
                            "extract": {"fileProperty": "content"},
                        },
                    ),
                ],
            }
        )
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
        "license": sorted(set(licences)),
        "citeAs": f"{name}, version {version}, {url}",
        "isLiveDataset": False,
        "distribution": distribution,
        "recordSet": record_sets,
        "dt:h3Resolution": h3_resolution,
        "dt:huggingFaceFeatures": huggingface_features(records),
        "dt:records": [dict(r) for r in records],
    }
    for key, value in rai.items():
        doc[f"rai:{key}"] = value
    return doc


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False).encode()

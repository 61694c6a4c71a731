"""Identify a file's real type from its first bytes, never from its name.

``sniff(head)`` looks only at the first ``SNIFF_BYTES`` bytes and returns a ``Sniffed`` value.
It never raises: anything it cannot place is ``format="unknown"``. The extension a client
sent is checked separately by ``extension_matches`` so a mismatch can be reported by name.

Archive detection lives here too because it is signature work: ``archive_signature_in``
looks for archive headers inside a byte range (used on the bytes after an image's end), and
``has_zip_directory_at_end`` finds a ZIP end-of-central-directory record that closes the
file, which is what makes any file readable as a ZIP (the classic JPEG+ZIP polyglot).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SNIFF_BYTES = 4096

# family: what the rest of the pipeline does with it.
IMAGE, VIDEO, AUDIO, ARCHIVE, OTHER = "image", "video", "audio", "archive", "other"


@dataclass(frozen=True)
class Sniffed:
    """``format`` is a short stable name (``jpeg``, ``mp4``, ``opus`` …); ``family`` is one of
    image, video, audio, archive, other; ``mime`` is the type a browser would expect."""

    format: str
    family: str
    mime: str


UNKNOWN = Sniffed("unknown", OTHER, "application/octet-stream")

# ISO-BMFF brands (the 4 bytes after "ftyp") that mean a still image, audio only, or video.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A "}
_QT_BRANDS = {b"qt  "}

# Archives and compressed streams: (offset, signature, name).
_ARCHIVE_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PK\x03\x04", "zip"),
    (0, b"PK\x05\x06", "zip"),
    (0, b"PK\x07\x08", "zip"),
    (0, b"\x1f\x8b", "gzip"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z"),
    (0, b"Rar!\x1a\x07", "rar"),
    (0, b"BZh", "bzip2"),
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"\x28\xb5\x2f\xfd", "zstd"),
    (257, b"ustar", "tar"),
)

# Signatures worth hunting for *inside* trailing data: long enough that a random hit is
# vanishingly rare (2-3 byte ones such as gzip's would fire on noise).
_EMBEDDED_ARCHIVE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"ustar\x0000", "tar"),
    (b"ustar  \x00", "tar"),
)

_OTHER_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF", "pdf", "application/pdf"),
    (b"\x7fELF", "elf", "application/x-executable"),
    (b"MZ", "exe", "application/x-msdownload"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
    (b"BM", "bmp", "image/bmp"),
    (b"II*\x00", "tiff", "image/tiff"),
    (b"MM\x00*", "tiff", "image/tiff"),
)


def sniff(head: bytes) -> Sniffed:
    """Name the format of a file from its first bytes (pass at least ``SNIFF_BYTES`` when
    the file is that long). Empty input is ``unknown``; GIF, TIFF, BMP and HEIC are named
    (so a rejection can say what the file is) though the pipeline does not accept them."""
    for offset, sig, name in _ARCHIVE_SIGNATURES:
        if head[offset : offset + len(sig)] == sig:
            return Sniffed(name, ARCHIVE, "application/" + name)
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("jpeg", IMAGE, "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("png", IMAGE, "image/png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("webp", IMAGE, "image/webp")
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return Sniffed("wav", AUDIO, "audio/wav")
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    # QuickTime files written without an ftyp box start straight with one of these atoms.
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip") and len(head) >= 8:
        return Sniffed("mov", VIDEO, "video/quicktime")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # The EBML header names the DocType within its first few dozen bytes.
        if b"webm" in head[:64]:
            return Sniffed("webm", VIDEO, "video/webm")
        return Sniffed("matroska", VIDEO, "video/x-matroska")
    if head.startswith(b"fLaC"):
        return Sniffed("flac", AUDIO, "audio/flac")
    if head.startswith(b"OggS"):
        if b"OpusHead" in head[:128]:
            return Sniffed("opus", AUDIO, "audio/ogg; codecs=opus")
        if b"\x01vorbis" in head[:128]:
            return Sniffed("vorbis", AUDIO, "audio/ogg; codecs=vorbis")
        return Sniffed("ogg", AUDIO, "audio/ogg")
    if head.startswith(b"ID3"):
        return Sniffed("mp3", AUDIO, "audio/mpeg")
    if len(head) >= 2 and head[0] == 0xFF:
        b1 = head[1]
        # ADTS AAC: sync 0xFFF, layer bits 00.
        if b1 & 0xF6 == 0xF0:
            return Sniffed("aac", AUDIO, "audio/aac")
        # MPEG audio: 11-bit sync, layer III (bits 01).
        if b1 & 0xE0 == 0xE0 and (b1 >> 1) & 0x3 == 0x1:
            return Sniffed("mp3", AUDIO, "audio/mpeg")
    for sig, name, mime in _OTHER_SIGNATURES:
        if head.startswith(sig):
            family = IMAGE if mime.startswith("image/") else OTHER
            return Sniffed(name, family, mime)
    return UNKNOWN


def _sniff_ftyp(head: bytes) -> Sniffed:
    major = head[8:12]
    size = struct.unpack(">I", head[:4])[0]
    brands = {major} | {head[i : i + 4] for i in range(16, min(size, len(head), 64), 4)}
    heif = major in _HEIF_BRANDS or (brands & _HEIF_BRANDS and not brands & _AVIF_BRANDS)
    if heif and major not in _AVIF_BRANDS:
        return Sniffed("heic", IMAGE, "image/heic")
    if major in _AVIF_BRANDS:
        return Sniffed("avif", IMAGE, "image/avif")
    if major in _M4A_BRANDS:
        return Sniffed("m4a", AUDIO, "audio/mp4")
    if major in _QT_BRANDS:
        return Sniffed("mov", VIDEO, "video/quicktime")
    return Sniffed("mp4", VIDEO, "video/mp4")


# Which extensions may carry which sniffed formats. An ISO-BMFF file may be named .mp4,
# .m4v, .mov or .m4a because phones are inconsistent and the container is the same.
_BMFF = {"mp4", "mov", "m4a"}
_EXTENSIONS: dict[str, set[str]] = {
    "jpg": {"jpeg"},
    "jpeg": {"jpeg"},
    "jfif": {"jpeg"},
    "png": {"png"},
    "webp": {"webp"},
    "heic": {"heic"},
    "heif": {"heic"},
    "avif": {"avif"},
    "mp4": _BMFF,
    "m4v": _BMFF,
    "mov": _BMFF,
    "qt": _BMFF,
    "m4a": _BMFF,
    "3gp": _BMFF,
    "webm": {"webm", "matroska"},
    "mkv": {"webm", "matroska"},
    "mka": {"webm", "matroska"},
    "wav": {"wav"},
    "wave": {"wav"},
    "flac": {"flac"},
    "ogg": {"opus", "vorbis", "ogg"},
    "oga": {"opus", "vorbis", "ogg"},
    "opus": {"opus", "ogg"},
    "mp3": {"mp3"},
    "aac": {"aac"},
}


def extension_matches(filename: str | None, sniffed: Sniffed) -> bool | None:
    """True when ``filename``'s extension can carry ``sniffed``, False when it names another
    media type, None when there is no name or the extension is not a media one we know
    (then there is nothing to contradict)."""
    if not filename or "." not in filename:
        return None
    ext = filename.rsplit(".", 1)[1].lower()
    allowed = _EXTENSIONS.get(ext)
    if allowed is None:
        return None
    return sniffed.format in allowed


def archive_signature_in(data: bytes | memoryview) -> str | None:
    """Name the first archive format whose signature occurs anywhere in ``data`` (meant for
    trailing bytes after a media file's own end), or None."""
    raw = bytes(data)
    found: tuple[int, str] | None = None
    for sig, name in _EMBEDDED_ARCHIVE_SIGNATURES:
        at = raw.find(sig)
        if at >= 0 and (found is None or at < found[0]):
            found = (at, name)
    if found is None and raw[:2] == b"\x1f\x8b":
        # A gzip member only counts when it starts the trailer; inside noise 2 bytes match often.
        return "gzip"
    return found[1] if found else None


def has_zip_directory_at_end(tail: bytes) -> bool:
    """True when ``tail`` (the last 64 KiB + 22 bytes of a file, or all of it) ends with a ZIP
    end-of-central-directory record whose comment length reaches exactly to the end.

    Zip readers locate an archive from this record, so a media file carrying one is
    readable as a ZIP whatever comes first. Requiring the comment length to match makes a
    random 4-byte hit in compressed media practically impossible."""
    start = len(tail)
    while True:
        at = tail.rfind(b"PK\x05\x06", 0, start)
        if at < 0 or len(tail) - at < 22:
            if at < 0:
                return False
            start = at
            continue
        comment_len = struct.unpack("<H", tail[at + 20 : at + 22])[0]
        if at + 22 + comment_len == len(tail):
            return True
        start = at

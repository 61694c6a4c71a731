"""How large an upload of each kind may be, checked as early as the caller can: from a
declared length before anything is read (tus ``Upload-Length``, a multipart body's
``Content-Length``, a multipart part's size), and again while the bytes stream to storage
(nothing larger is ever kept)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from datatrust.domain.campaigns import Campaign
from datatrust.domain.errors import DomainError, Problem
from datatrust.domain.items import ItemKind
from datatrust.pipeline.chats import DEFAULT_MAX_BYTES as CHAT_MAX_BYTES
from datatrust.pipeline.media_spec import MediaSpec

MB = 1024 * 1024
# What a multipart body carries besides its file: the boundaries, each part's headers and
# the form's other (small) fields.
MULTIPART_OVERHEAD = 64 * 1024


class UploadTooLarge(DomainError):
    code = "too_large"
    status = 413


def max_bytes(kind: ItemKind) -> int:
    if kind is ItemKind.CHAT:
        return CHAT_MAX_BYTES
    return MediaSpec.for_kind(kind.value).limits.max_bytes


def max_size() -> int:
    """The largest upload of any kind (advertised as ``Tus-Max-Size``)."""
    return max(max_bytes(k) for k in ItemKind)


def multipart_body_limit() -> int:
    """The body limit of a multipart upload route: a file of the largest kind and the form
    around it. The route refuses more than the kind's own limit as the file streams in."""
    return max_size() + MULTIPART_OVERHEAD


def megabytes(n: int, *, over: int | None = None) -> float:
    """``n`` bytes in MB to a tenth. A size ``over`` a limit is rounded up where rounding
    would make it read as no more than the limit: 40 MB and one byte over a 40 MB limit
    is 40.1, never 40."""
    tenths = round(n * 10 / MB)
    if over is not None and n > over and tenths * MB <= over * 10:
        tenths = -(-n * 10 // MB)
    return tenths / 10


def human(n: int, *, over: int | None = None) -> str:
    """``n`` bytes for people: "40 MB", "45.3 MB" (see ``megabytes``), or bytes under 1 MB."""
    return f"{megabytes(n, over=over):g} MB" if n >= MB else f"{n} bytes"


def too_large(kind: ItemKind, size: int | None) -> UploadTooLarge:
    """The 413 naming the kind's limit (and the size, when known)."""
    limit = max_bytes(kind)
    problem = (
        Problem(None, "upload.too_large", {"kind": kind.value, "limit": human(limit)})
        if size is None
        else Problem(
            None,
            "upload.too_large_sized",
            {"kind": kind.value, "limit": human(limit), "size": human(size, over=limit)},
        )
    )
    return UploadTooLarge(
        problem,
        {"limit_bytes": limit, "length": size},
    )


def check_size(kind: ItemKind, size: int | None) -> None:
    """Raise ``too_large`` when a declared ``size`` is over the kind's limit."""
    if size is not None and size > max_bytes(kind):
        raise too_large(kind, size)


def check_multipart_length(kind: ItemKind, length: int | None) -> None:
    """Raise ``too_large`` when a multipart body's declared ``length`` is more than a file
    within the kind's limit and the form around it can add up to. The body itself is
    larger than its file, so the size named is that of the body."""
    if length is not None and length > max_bytes(kind) + MULTIPART_OVERHEAD:
        raise too_large(kind, length)


def limited(kind: ItemKind, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` passed through; raises ``too_large`` as soon as they add up to more than
    the kind's limit (a declared size can lie, or be missing)."""
    limit, seen = max_bytes(kind), 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise too_large(kind, None)
        yield chunk


# --- the rules a task's recordings must meet, as the pipeline will judge them -------------

# The file endings and media types of each container format the pipeline accepts
# (``MediaLimits.formats``); a chat is a WhatsApp text or a Telegram JSON export.
FORMAT_FILES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "jpeg": ((".jpg", ".jpeg"), ("image/jpeg",)),
    "png": ((".png",), ("image/png",)),
    "webp": ((".webp",), ("image/webp",)),
    "mp4": ((".mp4",), ("video/mp4", "audio/mp4")),
    "mov": ((".mov",), ("video/quicktime",)),
    "webm": ((".webm",), ("video/webm", "audio/webm")),
    "matroska": ((".mkv", ".mka"), ("video/x-matroska", "audio/x-matroska")),
    "wav": ((".wav",), ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")),
    "flac": ((".flac",), ("audio/flac", "audio/x-flac")),
    "opus": ((".opus",), ("audio/opus",)),
    "vorbis": ((".ogg", ".oga"), ("audio/ogg",)),
    "ogg": ((".ogg", ".oga"), ("audio/ogg", "application/ogg")),
    "mp3": ((".mp3",), ("audio/mpeg", "audio/mp3")),
    "aac": ((".aac",), ("audio/aac", "audio/x-aac")),
    "m4a": ((".m4a",), ("audio/x-m4a", "audio/m4a")),
}
CHAT_FILES = ((".txt", ".json"), ("text/plain", "application/json"))


@dataclass(frozen=True)
class RecordingRules:
    """What one task's uploads must be, with the figures the pipeline judges them by:
    length in seconds (None: no bound), size in bytes, and the file endings and media
    types of the formats it reads. Shown before recording and checked in the browser
    before uploading; the pipeline's own checks stay the authority."""

    kind: ItemKind
    min_seconds: float | None
    max_seconds: float | None
    max_bytes: int
    extensions: tuple[str, ...]
    media_types: tuple[str, ...]
    prompts: tuple[str, ...] = ()

    def for_browser(self) -> dict[str, object]:
        """The figures the pre-upload check in the browser reads (``static/precheck.js``)."""
        return {
            "min": self.min_seconds,
            "max": self.max_seconds,
            "bytes": self.max_bytes,
            "extensions": list(self.extensions),
            "types": list(self.media_types),
        }


def recording_rules(campaign: Campaign) -> RecordingRules:
    """The rules of ``campaign``'s uploads, from the very ``MediaSpec`` its items are
    processed with (``MediaSpec.from_campaign`` over ``campaign.media_overrides()``, as
    ``ingest`` builds it): the shortest length is the larger of the hard limit and the
    quality bar, the longest the smaller of the two; the size is ``max_bytes``."""
    kind = campaign.kind
    prompts = tuple(str(p) for p in campaign.spec.get("prompts") or () if str(p).strip())
    if kind is ItemKind.CHAT:
        return RecordingRules(kind, None, None, max_bytes(kind), *CHAT_FILES, prompts=prompts)
    spec = MediaSpec.from_campaign(kind.value, campaign.media_overrides())
    lows = [s for s in (spec.limits.min_duration_s, spec.quality.min_duration_s) if s]
    highs = [s for s in (spec.limits.max_duration_s, spec.quality.max_duration_s) if s]
    extensions: dict[str, None] = {}
    types: dict[str, None] = {}
    for name in sorted(spec.limits.formats):
        endings, media = FORMAT_FILES.get(name, ((), ()))
        extensions |= dict.fromkeys(endings)
        types |= dict.fromkeys(media)
    return RecordingRules(
        kind,
        max(lows) if lows else None,
        min(highs) if highs else None,
        max_bytes(kind),
        tuple(sorted(extensions)),
        tuple(sorted(types)),
        prompts,
    )

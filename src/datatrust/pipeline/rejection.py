"""Why a media file was not accepted: a stable code plus a message a contributor can act on.

Codes are a closed list (``CODES``) so clients can translate them and tests can assert them.
Stages that must stop early raise ``Rejected``; ``process_media`` turns it (and every other
exception) into a ``Rejection`` so a worker survives any file.
"""

from __future__ import annotations

from dataclasses import dataclass

# Quality: processable, but below the campaign's bar.
QUALITY_CODES = frozenset(
    {
        "low_resolution",
        "blurry",
        "too_dark",
        "too_bright",
        "overexposed",
        "too_short",
        "too_long",
        "too_quiet",
        "too_loud",
        "clipping",
        "too_silent",
        "noisy",
        "low_frame_rate",
        "no_speech",
    }
)
# De-identification found what may not ship.
DEIDENTIFICATION_CODES = frozenset({"speech_detected"})
CODES = (
    frozenset(
        {
            # validation: the file cannot be processed at all
            "empty_file",
            "file_too_large",
            "unknown_format",
            "unsupported_format",
            "wrong_kind",
            "extension_mismatch",
            "archive",
            "polyglot",
            "truncated",
            "corrupt",
            "decompression_bomb",
            "too_many_pixels",
            "bad_dimensions",
            "animated_image",
            "duration_out_of_range",
            "bad_stream_params",
            "no_video_stream",
            "no_audio_stream",
            # anything unexpected; the message names the stage
            "processing_error",
        }
    )
    | QUALITY_CODES
    | DEIDENTIFICATION_CODES
)


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown rejection code {self.code!r}")


class Rejected(Exception):
    """Raised inside a stage to stop processing one file with a reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.rejection = Rejection(code, message)

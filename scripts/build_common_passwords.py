"""Build ``src/datatrust/services/data/common_passwords.txt``: the passwords people pick
most often that are long enough to pass the length rule (10+ characters), so sign-up
refuses them outright whatever a strength estimate says.

The source is the ranked list of leaked passwords that the ``zxcvbn`` wheel ships
(``zxcvbn.frequency_lists``), read once here; run time reads only the committed file.

Run: ``uv run python scripts/build_common_passwords.py``.
"""

from __future__ import annotations

from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS

OUT = Path(__file__).resolve().parents[1] / "src/datatrust/services/data/common_passwords.txt"
MIN_LENGTH = 10
# Long passwords that also top other leak lists and zxcvbn's rank does not reach.
EXTRA = ("password1234", "iloveyou123", "passw0rd123", "welcome123", "changeme123")


def main() -> None:
    ranked = [p for p in FREQUENCY_LISTS["passwords"] if len(p) >= MIN_LENGTH]
    ranked += [p for p in EXTRA if p not in ranked]
    header = [
        "# The most common leaked passwords of 10+ characters, most common first.",
        "# Built by scripts/build_common_passwords.py from zxcvbn's list; do not edit.",
    ]
    OUT.write_text("\n".join(header + ranked) + "\n", encoding="utf-8")
    print(f"{len(ranked)} passwords -> {OUT}")


if __name__ == "__main__":
    main()

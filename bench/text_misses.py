"""Print the misses and false positives of the redactor on a TUNING set, to tune on.

    uv run python bench/text_misses.py dev [--messages 3000] [--seed 7] [--type PERSON]

Only the tuning sets may be inspected: ``tune``, ``dev``, ``dev2`` (``bench/corpus_faker.py``)
and ``chat`` (``bench/corpus_chat.py``). The test half and the held-out set are refused:
they are only ever measured (``bench/bench_text.py``), never read for misses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import corpus_chat
import corpus_faker
from text_eval import evaluate

from datatrust.pipeline.text_pii import find_pii

TUNING_SETS = ("tune", "dev", "dev2", "chat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", help="one of " + ", ".join(TUNING_SETS))
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--type", default=None, help="only this planted/predicted type")
    args = parser.parse_args()
    if args.set not in TUNING_SETS:
        parser.error(f"{args.set!r} is measured only; inspect one of {', '.join(TUNING_SETS)}")
    if args.set == "chat":
        samples = corpus_chat.generate(args.messages, args.seed)
    else:
        samples = corpus_faker.generate(args.messages, args.set, args.seed)
    q = evaluate(samples, lambda t: [(s.start, s.end, s.type) for s in find_pii(t)])
    print(q.table(args.set))
    for title, rows in (("MISSED", q.misses), ("FALSE", q.false)):
        print(f"\n## {title}")
        for kind, value, text in rows:
            if args.type in (None, kind):
                print(f"{kind:8} {value!r:32} | {text}")


if __name__ == "__main__":
    main()

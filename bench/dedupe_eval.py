"""Quality of near-duplicate clustering on a labelled JSONL set.

Each line: id, source, published, title, text, url[, forwarded_url], lang, event (gold label).
Prints pairwise and B-cubed precision/recall/F1 and the recall of cross-language gold pairs,
with the cross-language mechanism on and off, for each set.

Default sets (tests/data): dedupe_dev (tuned on), dedupe_demo (the demo story's items grouped
into events by their facts), dedupe_check (other stories; lexicon gaps were filled after a
first look at it), dedupe_holdout (other stories, never tuned on).

    python bench/dedupe_eval.py [--input FILE ...] [--threshold X] [--errors]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from feedwatch.dedupe import DedupeSettings, bcubed_scores, cluster_records, pairwise_scores

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
DEFAULT_INPUTS = tuple(
    DATA / f"dedupe_{name}.jsonl" for name in ("dev", "demo", "check", "holdout")
)


def load(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL file, blank lines skipped."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def cross_pair_recall(
    rows: Sequence[dict[str, Any]], predicted: Sequence[Any]
) -> tuple[float, int]:
    """Share of gold pairs in different languages that were clustered together, and their
    number (recall is 1.0 when there are none)."""
    total = hit = 0
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            a, b = rows[i], rows[j]
            if a["event"] != b["event"] or a.get("lang") == b.get("lang"):
                continue
            total += 1
            hit += predicted[i] == predicted[j]
    return (hit / total if total else 1.0), total


def evaluate(rows: Sequence[dict[str, Any]], settings: DedupeSettings) -> dict[str, float]:
    """All figures for one run of the clustering over ``rows``."""
    result = cluster_records(rows, settings)
    predicted = [cluster for _, cluster in result]
    gold = [r["event"] for r in rows]
    p, r, f = pairwise_scores(gold, predicted)
    bp, br, bf = bcubed_scores(gold, predicted)
    xr, xn = cross_pair_recall(rows, predicted)
    return {"P": p, "R": r, "F1": f, "B3-P": bp, "B3-R": br, "B3-F1": bf, "xR": xr, "xpairs": xn}


def errors(rows: Sequence[dict[str, Any]], settings: DedupeSettings) -> list[str]:
    """Human-readable list of wrongly merged and wrongly split gold pairs."""
    predicted = [c for _, c in cluster_records(rows, settings)]
    out: list[str] = []
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            same_gold = rows[i]["event"] == rows[j]["event"]
            same_pred = predicted[i] == predicted[j]
            if same_gold != same_pred:
                kind = "SPLIT" if same_gold else "MERGED"
                out.append(f"{kind} {rows[i]['event']} #{rows[i]['id']} / "
                           f"{rows[j]['event']} #{rows[j]['id']}")  # fmt: skip
    return out


def report(path: Path, base: DedupeSettings, show_errors: bool) -> None:
    """Print the figures of one labelled set (and its wrong pairs when asked)."""
    rows = load(path)
    events = len({r["event"] for r in rows})
    print(f"{path.name}: {len(rows)} records, {events} events, threshold {base.threshold}")
    print(f"{'run':<16}{'P':>7}{'R':>7}{'F1':>7}{'B3-P':>7}{'B3-R':>7}{'B3-F1':>7}{'xlang-R':>9}")
    for name, settings in (
        ("cross-language", replace(base, cross_language=True)),
        ("same-script", replace(base, cross_language=False)),
    ):
        m = evaluate(rows, settings)
        print(f"{name:<16}{m['P']:7.3f}{m['R']:7.3f}{m['F1']:7.3f}{m['B3-P']:7.3f}"
              f"{m['B3-R']:7.3f}{m['B3-F1']:7.3f}{m['xR']:9.3f}")  # fmt: skip
    print(f"(cross-language gold pairs: {int(m['xpairs'])})")
    if show_errors:
        for line in errors(rows, base):
            print(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument(
        "--input", type=Path, action="append", default=None,
        help="labelled JSONL (repeatable; default: every set in tests/data)",
    )  # fmt: skip
    parser.add_argument("--threshold", type=float, default=None, help="override threshold")
    parser.add_argument("--errors", action="store_true", help="list wrong pairs")
    args = parser.parse_args(argv)
    base = DedupeSettings()
    if args.threshold is not None:
        base = replace(base, threshold=args.threshold)
    paths = args.input or [p for p in DEFAULT_INPUTS if p.exists()]
    for i, path in enumerate(paths):
        if i:
            print()
        report(path, base, args.errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())

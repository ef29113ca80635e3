"""Split the coach's labelled responses once into a tuning half and a test half.

Stratified by scenario and quality (each scenario's good, mixed and poor replies are dealt
alternately to the two halves after a seeded shuffle), so both halves cover every scenario
and span good to poor. Writes ``split.json`` beside this file; run it again only when
responses are added (it is deterministic: the same files give the same split).

    python scripts/data/coach/make_split.py
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
FILES = ("responses_tutoring.yaml", "responses_classroom.yaml")
FRESH = ("responses_fresh.yaml",)
"""Written after the coach was tuned and never tuned on (``eval_coach.py --split fresh``)."""
SEED = 19


def load(files: tuple[str, ...] = FILES) -> list[dict]:
    """Every labelled response of ``files``, with its id ``SCENARIO#N``."""
    out: list[dict] = []
    seen: dict[str, int] = defaultdict(int)
    for name in files:
        for item in yaml.safe_load((HERE / name).read_text(encoding="utf-8"))["responses"]:
            item = dict(item)
            item["id"] = f"{item['scenario']}#{seen[item['scenario']]}"
            seen[item["scenario"]] += 1
            out.append(item)
    return out


def split(items: list[dict], seed: int = SEED) -> dict[str, str]:
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for item in items:
        groups[(item["scenario"], item["quality"])].append(item["id"])
    out: dict[str, str] = {}
    turn = 0
    for key in sorted(groups):
        ids = groups[key]
        rng.shuffle(ids)
        for rid in ids:
            out[rid] = ("tuning", "test")[turn % 2]
            turn += 1
    return dict(sorted(out.items()))


def main() -> None:
    result = split(load())
    (HERE / "split.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    n_test = sum(v == "test" for v in result.values())
    print(f"{len(result)} responses: {len(result) - n_test} tuning, {n_test} test")


if __name__ == "__main__":
    main()

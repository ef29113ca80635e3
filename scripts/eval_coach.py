#!/usr/bin/env python
"""How well the practice coach agrees with expert labels: the pedagogical signals and the
criterion and overall scores, on the test half of the labelled set in ``scripts/data/coach/``.

Every labelled trainee response (a teacher's reply to a bank scenario, see
``scripts/data/coach/GUIDE.md``) is scored as the coach scores a session in which the
trainee said it: :func:`teachbot_tui.practice.signals.compute` with the app's ONNX embedder
(no chat model; the model's scores are not part of this evaluation), then the criterion
values the coach stores and their weighted mean, the overall score. Reported on the test half
(``--split tuning`` for the half the coach was tuned on, ``--split fresh`` for a small set
written after the tuning and never tuned on):

* ``signals``: per signal, the AUC of its strength against the label (present or not;
  ``tone_encouraging`` and ``tone_harsh`` against the tone label), and accuracy of its
  found/not-found call;
* ``criteria``: per rubric criterion, the AUC of the stored continuous value against the
  label (label >= 3 vs <= 2), and the Spearman correlation with the label's level;
* ``overall``: AUC for good vs poor, Spearman correlation with the quality label (poor <
  mixed < good) and with the mean criterion label;
* ``tied_pairs``: the share of pairs of responses whose overall scores are equal as stored
  (and, for comparison, as shown: snapped to the rubric's levels, and as the previous coach
  stored them).

    .venv/bin/python scripts/eval_coach.py --json [--split test|tuning|all|fresh] [--limit N]
        [--home DIR]

The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import combinations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "data" / "coach"))

import _bench  # noqa: E402
import make_split  # noqa: E402
from _bench import emit, log  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "coach"
SIGNAL_LABELS = ("names_mistake", "locates", "guides", "reveals_answer", "next_step", "tone",
                 "on_situation")
QUALITY = {"poor": 0, "mixed": 1, "good": 2}


def auc(scores: list[float], labels: list[int]) -> float | None:
    """Probability that a positive scores above a negative (ties count half)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 4)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: list[float], y: list[float]) -> float | None:
    if len(x) < 3:
        return None
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return round(cov / (vx * vy), 4) if vx and vy else None


def tied_share(values: list[float]) -> float:
    pairs = list(combinations(values, 2))
    return round(sum(a == b for a, b in pairs) / len(pairs), 4) if pairs else 0.0


def labelled(split: str, limit: int | None) -> list[dict[str, Any]]:
    if split == "fresh":
        items = make_split.load(make_split.FRESH)
        return items[:limit] if limit else items
    items = make_split.load()
    halves = json.loads((DATA / "split.json").read_text(encoding="utf-8"))
    chosen = [it for it in items if split == "all" or halves.get(it["id"]) == split]
    return chosen[:limit] if limit else chosen


def previous_signal(report: Any, criterion: Any) -> float:
    """The previous coach's signal for a criterion (similarity, coverage, leaning and
    mistakes only), for comparison."""
    sim = report.similarity if report.similarity is not None else 0.15 + report.coverage * 0.3
    value = (0.5 * min(1.0, max(0.0, (sim - 0.15) / 0.5)) + 0.3 * report.coverage
             + 0.2 * report.leaning.get(criterion.criterion, 0.5) - 0.15 * len(report.mistakes))
    if report.words < 12:
        value *= report.words / 12
    return min(1.0, max(0.0, value))


def score_item(item: dict[str, Any], scenario: Any, embedder: Any) -> dict[str, Any]:
    from teachbot_tui.practice import signals
    from teachbot_tui.practice.coach import criterion_scores

    text = " ".join(item["text"].split())
    report = signals.compute(scenario, text, embedder, turns=[text])
    scores = criterion_scores(scenario, report, {})
    weight = sum(s.weight for s in scores) or 1.0
    overall = sum(s.weight * s.value_fraction for s in scores) / weight
    shown = sum(s.weight * s.fraction for s in scores) / weight
    old = 0.0
    for c in scenario.rubric:
        levels = sorted(lv.score for lv in c.levels)
        value = levels[0] + previous_signal(report, c) * (levels[-1] - levels[0])
        snapped = min(levels, key=lambda a: (abs(a - int(value + 0.5)), -a))
        old += c.weight * (snapped - levels[0]) / (levels[-1] - levels[0])
    return {"report": report, "scores": scores, "overall": overall, "shown": shown,
            "old": old / (sum(c.weight for c in scenario.rubric) or 1.0)}


def evaluate(items: list[dict[str, Any]], embedder: Any) -> dict[str, Any]:
    from teachbot_tui.practice.scenarios import load_bank

    bank = {s.id: s for s in load_bank()}
    rows = []
    for item in items:
        scenario = bank[item["scenario"]]
        rows.append((item, scenario, score_item(item, scenario, embedder)))

    signal_out: dict[str, Any] = {}
    for k, name in enumerate(SIGNAL_LABELS):
        if name == "tone":
            for tone, key in (("e", "tone_encouraging"), ("h", "tone_harsh")):
                ys = [int(it["signals"][k] == tone) for it, _, _ in rows]
                xs = [r["report"].pedagogy.strength(key) for _, _, r in rows]
                found = [r["report"].pedagogy.hits[key].found for _, _, r in rows]
                signal_out[key] = {"auc": auc(xs, ys), "positives": sum(ys),
                                   "accuracy": round(sum(int(f) == y for f, y in
                                                         zip(found, ys, strict=True))
                                                     / len(ys), 4)}
            continue
        ys = [int(it["signals"][k]) for it, _, _ in rows]
        xs = [r["report"].pedagogy.strength(name) for _, _, r in rows]
        found = [r["report"].pedagogy.hits[name].found for _, _, r in rows]
        signal_out[name] = {"auc": auc(xs, ys), "positives": sum(ys),
                            "accuracy": round(sum(int(f) == y for f, y in
                                                  zip(found, ys, strict=True)) / len(ys), 4)}

    by_criterion: dict[str, tuple[list[float], list[int]]] = {}
    for it, scenario, r in rows:
        for c, label, s in zip(scenario.rubric, it["criteria"], r["scores"], strict=True):
            xs, ys = by_criterion.setdefault(c.criterion, ([], []))
            xs.append(s.value)
            ys.append(int(label))
    criteria_out = {name: {"auc": auc(xs, [int(y >= 3) for y in ys]),
                           "spearman": spearman(xs, [float(y) for y in ys]), "n": len(xs)}
                    for name, (xs, ys) in by_criterion.items()}

    overall = [r["overall"] for _, _, r in rows]
    quality = [QUALITY[it["quality"]] for it, _, _ in rows]
    mean_label = [sum(it["criteria"]) / len(it["criteria"]) for it, _, _ in rows]
    gp = [(o, q) for o, q in zip(overall, quality, strict=True) if q != 1]
    gp_old = [(r["old"], QUALITY[it["quality"]]) for it, _, r in rows if it["quality"] != "mixed"]
    return {
        "signals": signal_out,
        "criteria": criteria_out,
        "overall": {
            "auc_good_vs_poor": auc([o for o, _ in gp], [int(q == 2) for _, q in gp]),
            "spearman_quality": spearman(overall, [float(q) for q in quality]),
            "spearman_criteria_mean": spearman(overall, mean_label),
            "previous_coach_auc_good_vs_poor": auc([o for o, _ in gp_old],
                                                   [int(q == 2) for _, q in gp_old]),
        },
        "tied_pairs": tied_share([round(o, 4) for o in overall]),
        "tied_pairs_shown": tied_share([round(r["shown"], 4) for _, _, r in rows]),
        "tied_pairs_previous_coach": tied_share([round(r["old"], 4) for _, _, r in rows]),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("test", "tuning", "all", "fresh"), default="test",
                    help="which half of the labelled set to report on (default: test; "
                         "fresh: the small set written after tuning)")
    ap.add_argument("--limit", type=int, default=None,
                    help="only the first N responses of the half (a quick smoke run)")
    args, home = _bench.parse_args(ap, argv)
    from teachbot_tui.paths import Paths

    items = labelled(args.split, args.limit)
    log(f"eval_coach: {len(items)} responses ({args.split} half)")
    embedder = _bench.make_embedder("onnx", Paths.from_env())
    started = time.perf_counter()
    result: dict[str, Any] = {"split": args.split, "responses": len(items),
                              "scenarios": len({it["scenario"] for it in items})}
    result.update(evaluate(items, embedder))
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["machine"] = _bench.machine()
    embedder.close()
    emit(result, pretty=not args.json)


if __name__ == "__main__":
    main()

"""How well `teachbot models catalog` predicts a bigger model's speed from the default's.

The catalog times the bundled model on this machine (``catalog.measure_speed``, what
``teachbot models catalog --measure`` runs) and carries the figure over to each catalog model
by file size (``catalog.scaled_tps``). This script times the default model and a bigger one
(``--model``, by default bench-1b: a Llama-3.2-1B-shaped Q4_K_M file) the same way, in
alternating runs, and prints the bigger model's measured speed beside the estimates: the
catalog's (part of the time per token fixed, part growing with the file) and the plain
file-size scaling it replaced. It also prints the fixed shares these measurements imply, the
figures ``DECODE_FIXED_SHARE`` and ``PROMPT_FIXED_SHARE`` in catalog.py come from.

    .venv/bin/python scripts/bench_catalog.py [--model bench-1b] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import sys
from statistics import median

import _bench

from teachbot_tui import catalog, defaults


def implied_share(small_tps: float, small_bytes: int, big_tps: float, big_bytes: int) -> float:
    """The fixed share f with big = scaled_tps(small, ..., f): solves
    1/big = (1/small) * (f + (1 - f) * ratio)."""
    ratio = big_bytes / small_bytes
    return (ratio - small_tps / big_tps) / (ratio - 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    _bench.add_model_arg(ap)
    ap.set_defaults(model="bench-1b")
    ap.add_argument("--runs", type=int, default=3,
                    help="alternating measurements of each model (each the best of 3 timings, "
                         "as the catalog takes them)")
    ap.add_argument("--threads", type=int, default=0,
                    help="llama.cpp threads (default 0: the app's own rule)")
    args, _home = _bench.parse_args(ap, argv)
    label, big_path = _bench.resolve_model(args)
    small_path = defaults.chat_model_path()
    got: dict[str, list[dict]] = {"default": [], label: []}
    for run in range(args.runs):
        order = [("default", small_path), (label, big_path)]
        for name, path in order if run % 2 == 0 else reversed(order):
            m = catalog.measure_speed(path, threads=args.threads, budget_s=60.0)
            got[name].append(m)
            _bench.log(f"run {run} {name}: reads {m['prompt_tps']:.1f} tok/s, writes "
                       f"{m['decode_tps']:.1f} tok/s ({m['threads']} threads)")
    small_bytes, big_bytes = small_path.stat().st_size, big_path.stat().st_size
    fig = {name: {k: median(m[k] for m in ms) for k in ("prompt_tps", "decode_tps")}
           for name, ms in got.items()}
    small, big = fig["default"], fig[label]
    result: dict[str, object] = {
        "bench": "catalog", "model": label, "runs": args.runs,
        "default_bytes": small_bytes, "model_bytes": big_bytes,
        "threads": got["default"][0]["threads"],
        "default_prompt_tps": round(small["prompt_tps"], 1),
        "default_decode_tps": round(small["decode_tps"], 1),
        "model_prompt_tps": round(big["prompt_tps"], 1),
        "model_decode_tps": round(big["decode_tps"], 1),
    }
    for kind, share in (("prompt", catalog.PROMPT_FIXED_SHARE),
                        ("decode", catalog.DECODE_FIXED_SHARE)):
        measured = small[f"{kind}_tps"]
        result[f"est_{kind}_tps"] = round(
            catalog.scaled_tps(measured, small_bytes, big_bytes, share), 1)
        result[f"linear_est_{kind}_tps"] = round(
            catalog.scaled_tps(measured, small_bytes, big_bytes, 0.0), 1)
        result[f"implied_{kind}_fixed_share"] = round(
            implied_share(measured, small_bytes, big[f"{kind}_tps"], big_bytes), 3)
        result[f"catalog_{kind}_fixed_share"] = share
    result["machine"] = _bench.machine()
    _bench.emit(result, pretty=not args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Structured output speed: JSON decoding under a schema against free decoding, same model.

For each of the two schemas the app decodes under (the coach's evaluation and a scenario
draft), on the prompt the app sends for it (the coach's: the role-play's prompt and the coach's
request; the draft's: ``draft_messages``), the same loaded model decodes through
``LlamaEngine.execute`` three ways, interleaved, ``--runs`` times:

* ``free``: no schema (the rate structured output is held to);
* ``llguidance``: with ``json_schema``: the app's path (engine/structured.py: llguidance
  token masks applied to llama.cpp's logits);
* ``llama_grammar``: with ``json_schema`` and llguidance refused, so the engine falls back
  to llama-cpp-python's GBNF grammar sampler (the path before; kept as the fallback).

Same sampling for all (temperature 0.2, seed 0, repeat penalty 1.1, ``--max-tokens``).
Rate = (tokens - 1) / (time from the first to the last token), from the engine's ``Usage``.
``ratio`` = median over runs of constrained rate / free rate of the same run;
``structured_ratio`` = the lower of the coach's and the draft's llguidance ratios. Every
constrained output that ended by itself is checked against its schema (``jsonschema``).

    .venv/bin/python scripts/bench_structured.py [--model default|bench-1b] [--runs 3] --json

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402
from _bench import log, median, r  # noqa: E402

SCENARIO = "adhd-carpet-time"
TEACHER = ("Mateo, come and sit next to me on the edge of the carpet. You can hold the sound "
           "cards for us, and when I tap my nose it is your turn to show one.")
STUDENT = "Okay! Can I hold the blue one? I can do it standing up!"
DRAFT = "A pupil who keeps leaving the room without asking"


def prompts(engine: Any) -> dict[str, tuple[list[dict[str, str]], dict[str, Any]]]:
    """(messages, schema) per schema, as the app builds them."""
    from teachbot_tui.practice.coach import Coach, evaluation_schema
    from teachbot_tui.practice.draft import draft_messages, draft_schema
    from teachbot_tui.practice.scenarios import load_bank
    from teachbot_tui.practice.session import PracticeSession, Turn, opening_line

    scenario = next(s for s in load_bank() if s.id == SCENARIO)
    session = PracticeSession(scenario, [opening_line(scenario),
                                         Turn("teacher", "Teacher", TEACHER),
                                         Turn("student", scenario.students[0].name, STUDENT)])
    return {
        "coach": (Coach(engine).messages(session), evaluation_schema(scenario)),
        "draft": (draft_messages(DRAFT, None, None), draft_schema(None, None)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _bench.add_model_arg(ap)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--threads", type=int, default=None,
                    help="llama.cpp threads (default: the n_threads setting)")
    args, _home = _bench.parse_args(ap, argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still cleans up
    label, path = _bench.resolve_model(args)

    import jsonschema

    from teachbot_tui import config
    from teachbot_tui.engine import structured
    from teachbot_tui.engine.base import Options, Usage
    from teachbot_tui.engine.llama import LlamaEngine
    from teachbot_tui.paths import Paths

    settings = config.load(Paths.from_env())
    threads = args.threads or settings.n_threads
    log(f"loading {path} ...")
    engine = LlamaEngine(path, n_ctx=4096, n_threads=threads, name=label)
    t0 = time.perf_counter()
    structured.tokenizer_for(engine.llm, engine._stop_ids)
    tokenizer_s = time.perf_counter() - t0
    work = prompts(engine)

    refuse = lambda *_a, **_k: None  # noqa: E731 - makes the engine take its fallback
    matcher_for = structured.matcher_for

    def once(messages: list[dict[str, str]], schema: dict[str, Any] | None,
             mode: str) -> dict[str, Any]:
        opts = Options(max_tokens=args.max_tokens, temperature=0.2, seed=0, repeat_penalty=1.1,
                       json_schema=schema)
        usage = Usage()
        structured.matcher_for = refuse if mode == "llama_grammar" else matcher_for
        try:
            text = "".join(engine.execute(messages, opts, None, usage))
        finally:
            structured.matcher_for = matcher_for
        rate = (usage.decode_tokens - 1) / (usage.decode_ms / 1000) if usage.decode_ms else 0.0
        valid = None
        if schema is not None and usage.finish_reason == "stop":
            try:
                jsonschema.validate(json.loads(text), schema)
                valid = True
            except (ValueError, jsonschema.ValidationError):
                valid = False
        return {"rate": rate, "tokens": usage.decode_tokens, "finish": usage.finish_reason,
                "valid": valid}

    modes = ["free", "llguidance", "llama_grammar"]
    result: dict[str, Any] = {"model": label, "n_vocab": int(engine.llm.n_vocab()),
                              "threads": threads, "runs": args.runs,
                              "max_tokens": args.max_tokens,
                              "llguidance_tokenizer_s": r(tokenizer_s, 2)}
    for name, (messages, schema) in work.items():
        once(messages, None, "free")  # warm: the prompt is read once, then cached
        runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
        for i in range(args.runs):
            order = modes if i % 2 == 0 else list(reversed(modes))
            for mode in order:
                out = once(messages, None if mode == "free" else schema, mode)
                runs[mode].append(out)
                log(f"{name} run {i + 1} {mode:13} {out['rate']:7.1f} tok/s "
                    f"({out['tokens']} tokens, {out['finish']}, valid={out['valid']})")
        part: dict[str, Any] = {}
        for mode in modes:
            part[f"{mode}_tps"] = r(median([o["rate"] for o in runs[mode]]), 1)
            part[f"{mode}_tokens"] = r(median([o["tokens"] for o in runs[mode]]), 0)
        for mode in modes[1:]:
            part[f"{mode}_ratio"] = r(median([c["rate"] / f["rate"] for c, f in
                                              zip(runs[mode], runs["free"], strict=True)
                                              if f["rate"] > 0]))
            checked = [o["valid"] for o in runs[mode] if o["valid"] is not None]
            part[f"{mode}_valid"] = f"{sum(checked)}/{len(checked)} complete outputs"
        result[name] = part
    result["structured_ratio"] = min(result["coach"]["llguidance_ratio"],
                                     result["draft"]["llguidance_ratio"])
    result["llama_grammar_ratio"] = min(result["coach"]["llama_grammar_ratio"],
                                        result["draft"]["llama_grammar_ratio"])
    result["machine"] = _bench.machine()
    engine.close()
    _bench.emit(result, pretty=not args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Chat speed: decode rate through the engine against raw llama-cpp-python, time to first
token of a grounded answer over a large library, and the cost of a conversation's second turn.

(a) decode: the same loaded model (``LlamaEngine(...).llm``), threads, prompt (the engine's
    chat-formatted prompt), max_tokens and sampling (temperature 0) through
    ``LlamaEngine.execute`` and through ``Llama.create_completion(prompt, stream=True)``,
    alternating which goes first. Rate = (tokens - 1) / (time from first to last token).
    ``decode_ratio`` = median over runs of app rate / raw rate.
(b) first token: ``Assistant.answer`` over a library of ``--library-chunks`` chunks (built
    like bench_retrieval's; a ``--home`` that already holds a library is reused), for
    ``--questions`` different questions: p50 of retrieval_ms, prompt_eval_ms and the wall
    time from the call to the first streamed piece.
(c) second turn: a conversation whose first turn carries ~``--context`` tokens (passages from
    a library of long handbook chunks, k chosen to reach the size), then a follow-up. Reported:
    prompt tokens the second turn evaluates (prompt_tokens - cached_tokens) and its time to
    first token over the first turn's; once for a follow-up answered without retrieval (pure
    KV-cache reuse) and once with retrieval (new passages must be evaluated).

    .venv/bin/python scripts/bench_chat.py --runs 5 --json

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402
from _bench import log, median, pct, r  # noqa: E402

DECODE_PROMPT = ("List twenty practical, numbered tips for a new teacher on classroom "
                 "management, one sentence each.")


def decode_part(engine, runs: int, max_tokens: int) -> dict:  # type: ignore[no-untyped-def]
    from teachbot_tui.engine.base import Options, Usage

    messages = [{"role": "system", "content": "You are an experienced teacher coach."},
                {"role": "user", "content": DECODE_PROMPT}]
    opts = Options(max_tokens=max_tokens, temperature=0.0)
    prompt = engine.format_prompt(messages)
    llm = engine.llm

    def app() -> tuple[float, int]:
        usage = Usage()
        for _ in engine.execute(messages, dataclasses.replace(opts), None, usage):
            pass
        return (usage.decode_tokens - 1) / (usage.decode_ms / 1000), usage.decode_tokens

    def raw() -> tuple[float, int]:
        first = None
        n = 0
        for _part in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0,
                                           top_p=opts.top_p, repeat_penalty=opts.repeat_penalty,
                                           stream=True):
            choice = _part["choices"][0]
            if choice.get("finish_reason") and not choice["text"]:
                continue  # the closing chunk carries no token (the engine skips it too)
            if first is None:
                first = time.perf_counter()
            n += 1
        end = time.perf_counter()
        return (n - 1) / (end - first), n

    app()
    raw()  # warm both paths
    apps, raws, ratios, tokens = [], [], [], []
    for i in range(runs):
        if i % 2 == 0:
            a, na = app()
            b, nb = raw()
        else:
            b, nb = raw()
            a, na = app()
        apps.append(a)
        raws.append(b)
        ratios.append(a / b)
        tokens.append((na, nb))
        log(f"  decode run {i}: app {a:.1f} tok/s ({na} tokens), raw {b:.1f} tok/s "
            f"({nb} tokens), ratio {a / b:.3f}")
    return {"decode_ratio": r(median(ratios), 3), "decode_ratios": [r(x, 3) for x in ratios],
            "app_tok_s": r(median(apps), 1), "raw_tok_s": r(median(raws), 1),
            "decode_tokens": tokens[-1][0], "raw_tokens": tokens[-1][1]}


def first_token(assistant, question: str, history=None, retrieval: bool = True,  # type: ignore[no-untyped-def]
                max_tokens: int = 8):
    from teachbot_tui.engine.base import Options

    t0 = time.perf_counter()
    ans = assistant.answer(question, history or [], retrieval=retrieval,
                           options=Options(max_tokens=max_tokens, temperature=0.0))
    ttft = None
    for _piece in ans:
        if ttft is None:
            ttft = (time.perf_counter() - t0) * 1000
    if ttft is None:
        ttft = (time.perf_counter() - t0) * 1000
    return ans, ttft


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="decode runs and conversations")
    ap.add_argument("--max-tokens", type=int, default=128, help="decode length in part (a)")
    ap.add_argument("--library-chunks", type=int, default=100_000,
                    help="chunks in the part (b) library (0 to skip part b)")
    ap.add_argument("--unique", type=int, default=6_000,
                    help="unique sentences embedded for the part (b) library")
    ap.add_argument("--questions", type=int, default=20, help="questions in part (b)")
    ap.add_argument("--context", type=int, default=1500,
                    help="target prompt tokens of the first turn in part (c)")
    ap.add_argument("--handbook-sections", type=int, default=40,
                    help="size of the part (c) handbook (sections of 6 paragraphs)")
    ap.add_argument("--model", help="GGUF to use (default: the bundled SmolLM2)")
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: settings)")
    args, home = _bench.parse_args(ap, argv)

    from teachbot_tui import config, defaults
    from teachbot_tui.answers import Assistant
    from teachbot_tui.engine.llama import LlamaEngine
    from teachbot_tui.library import Library
    from teachbot_tui.paths import Paths

    settings = config.load()
    threads = args.threads or settings.n_threads
    model = Path(args.model) if args.model else defaults.chat_model_path()
    log(f"loading {model.name} ({threads} threads) ...")
    engine = LlamaEngine(model, n_ctx=settings.n_ctx, n_threads=threads)
    result: dict[str, object] = {"bench": "chat", "model": model.name, "threads": threads,
                                 "n_ctx": engine.n_ctx, "runs": args.runs}

    log("(a) decode: engine vs raw create_completion ...")
    result.update(decode_part(engine, args.runs, args.max_tokens))

    base = Paths.from_env()
    if args.library_chunks:
        log("(b) time to first token over a large library ...")
        lib = Library(base, settings)
        have = lib.con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        if have:
            log(f"  reusing the library in {base.library_dir} ({have} chunks)")
            built = {"chunks": have, "reused": True}
        else:
            import torch

            default_threads = torch.get_num_threads()
            torch.set_num_threads(1)  # build only: fastest on a loaded 2-core machine
            built = _bench.build_large_library(lib, args.library_chunks, n_unique=args.unique)
            torch.set_num_threads(default_threads)
            for key in ("vectors", "ids", "texts"):
                built.pop(key)
        assistant = Assistant(engine, lib, settings)
        questions = _bench.teacher_questions(args.questions + 2, seed=3)
        first_token(assistant, questions[0])  # warm: embedder, index, page cache
        first_token(Assistant(engine, lib, settings), questions[1])
        rets, evals, ttfts, ptoks, nsrc = [], [], [], [], []
        for q in questions[2:]:
            ans, ttft = first_token(Assistant(engine, lib, settings), q)
            rets.append(ans.retrieval_ms)
            evals.append(ans.usage.prompt_eval_ms)
            ttfts.append(ttft)
            ptoks.append(ans.usage.prompt_tokens - ans.usage.cached_tokens)
            nsrc.append(len(ans.sources))
        result.update({
            "library_chunks": built["chunks"],
            "ttft_p50_ms": r(median(ttfts), 1),
            "ttft_p90_ms": r(pct(ttfts, 90), 1),
            "retrieval_p50_ms": r(median(rets), 1),
            "retrieval_p90_ms": r(pct(rets, 90), 1),
            "prompt_eval_p50_ms": r(median(evals), 1),
            "prompt_tokens_evaluated_p50": median(ptoks),
            "sources_p50": median(nsrc),
            "retrieval_share_of_ttft": r(median(rets) / max(median(ttfts), 1e-9), 3),
            "library_build": built,
        })
        log(f"  ttft p50 {median(ttfts):.0f} ms = retrieval {median(rets):.0f} + "
            f"prompt eval {median(evals):.0f} (+ prompt building)")
        lib.close()

    log("(c) second turn at ~%d tokens of context ..." % args.context)
    conv_paths = Paths(base.config_dir, base.data_dir / "conversation", base.cache_dir)
    lib = Library(conv_paths, settings)
    folder = home / "handbook"
    folder.mkdir(exist_ok=True)
    from tests.corpus import long_document_markdown

    (folder / "handbook.md").write_text(long_document_markdown(sections=args.handbook_sections,
                                                                     paragraphs=6))
    lib.import_paths([folder])
    # choose k so that the first turn's prompt is about --context tokens
    probe = Assistant(engine, lib, dataclasses.replace(settings, retrieval_k=1,
                                                       retrieval_threshold=0.0))
    q0 = "What does the handbook say about phonics, fluency and feedback?"
    srcs = probe.retrieve(q0, [], None)
    per_passage = engine.count_tokens(srcs[0].text) + 12 if srcs else 200
    base_tokens = engine.count_prompt_tokens(probe.build_messages(q0, [], [])[0])
    k = max(1, round((args.context - base_tokens) / per_passage))
    conv_settings = dataclasses.replace(settings, retrieval_k=k, retrieval_threshold=0.0)
    topics = ["phonics", "fluency", "feedback", "seating", "homework", "praise", "vocabulary",
              "behaviour", "assessment", "routine"]
    firsts, seconds_kv, seconds_rag = [], [], []
    for i in range(args.runs):
        a, b = topics[i % len(topics)], topics[(i + 3) % len(topics)]
        q1 = f"What does the handbook say about {a} and {b} for my class?"
        follow_kv = "Can you sum that up in one sentence?"
        follow_rag = f"And what about {topics[(i + 5) % len(topics)]} for younger pupils?"
        row = {}
        for kind, follow in (("kv", follow_kv), ("rag", follow_rag)):
            assistant = Assistant(engine, lib, conv_settings)
            ans1, ttft1 = first_token(assistant, f"{q1} (run {i}, {kind})", max_tokens=48)
            history = [{"role": "user", "content": ans1.question},
                       {"role": "assistant", "content": ans1.text}]
            ans2, ttft2 = first_token(assistant, follow, history, retrieval=(kind == "rag"))
            row[kind] = (ans1, ttft1, ans2, ttft2)
            (seconds_kv if kind == "kv" else seconds_rag).append(
                (ans2.usage.prompt_tokens - ans2.usage.cached_tokens, ttft2 / ttft1,
                 ans2.usage.prompt_tokens, ans2.usage.cached_tokens, ttft2))
            firsts.append((ans1.usage.prompt_tokens, ans1.usage.prompt_tokens
                           - ans1.usage.cached_tokens, ttft1))
            log(f"  run {i} {kind}: turn 1 {ans1.usage.prompt_tokens} tokens "
                f"({ans1.usage.cached_tokens} cached) ttft {ttft1:.0f} ms; turn 2 "
                f"{ans2.usage.prompt_tokens} tokens ({ans2.usage.cached_tokens} cached) "
                f"ttft {ttft2:.0f} ms")
    lib.close()
    result.update({
        "context_k": k,
        "turn1_prompt_tokens_p50": median([f[0] for f in firsts]),
        "turn1_evaluated_p50": median([f[1] for f in firsts]),
        "turn1_ttft_p50_ms": r(median([f[2] for f in firsts]), 1),
        "turn2_evaluated_p50": median([s[0] for s in seconds_kv]),
        "turn2_prompt_tokens_p50": median([s[2] for s in seconds_kv]),
        "turn2_cached_p50": median([s[3] for s in seconds_kv]),
        "turn2_ttft_p50_ms": r(median([s[4] for s in seconds_kv]), 1),
        "turn2_ttft_ratio": r(median([s[1] for s in seconds_kv]), 3),
        "turn2_rag_evaluated_p50": median([s[0] for s in seconds_rag]),
        "turn2_rag_ttft_ratio": r(median([s[1] for s in seconds_rag]), 3),
        "machine": _bench.machine(),
    })
    engine.close()
    _bench.emit(result, pretty=not args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

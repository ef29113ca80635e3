#!/usr/bin/env python
"""Chat speed: decode rate through the engine against raw llama-cpp-python, time to first
token over a large library, a conversation's second turn in the chat screen's path, and how
fast Esc stops a prompt being read.

(a) decode: the same loaded model (``LlamaEngine(...).llm``), threads, prompt (the engine's
    chat-formatted prompt), max_tokens and sampling (temperature 0) through
    ``LlamaEngine.execute`` and through ``Llama.create_completion(prompt, stream=True)``,
    alternating which goes first. Rate = (tokens - 1) / (time from first to last token).
    ``decode_ratio`` = median over runs of app rate / raw rate. A model the app loads with an
    adapter (``default``) also decodes without it in the same runs: ``adapter_decode_ratio``
    = median app rate with it / without it.
(b) first token over a large library: ``Assistant.answer`` over ``--library-chunks`` chunks
    (built like bench_retrieval's; a ``--home`` that already holds one is reused), for
    ``--questions`` questions: p50 of retrieval_ms, prompt_eval_ms and time to first piece.
(c) conversations, in the chat screen's path: the app's settings (retrieval on, retrieval_k,
    answer_wait_s), a library holding a staff handbook with one chapter per topic, and each
    turn made as the chat screen makes it: the question is stored in a ConversationStore,
    ``Assistant.answer(question, history, cancel=..., progress=...)`` with the history from
    ``StoredMessage.history_entry()``, ``Answer.record`` stored with the question, the reply
    stored (48 pieces, then Esc). TTFT = from the call to the first piece (retrieval, prompt
    building and reading included). Per run, two new conversations on a fresh topic: one
    follows up on the same topic, one on another topic. ``second_turn_ratio_same_topic`` and
    ``second_turn_ratio_new_topic`` = median second-turn TTFT / first-turn TTFT;
    ``first_turn_ttft_ms`` = median first-turn TTFT. Secondary, labelled as such: the same
    follow-up answered without retrieval (a path the chat screen does not take).
(d) Esc while reading: a first question in a new conversation; Esc (``Cancel.set``) at a
    random point 0.2-1.0 s into the reading; the time until the answer's stream ends.
(e) prompt-reading and decode speed for 1 and 2 threads, on the machine as it is and with one
    other busy process (a spinning Python loop), at normal and at the lowest priority (nice
    19). Not run unless ``--parts`` names it.

    .venv/bin/python scripts/bench_chat.py [--model default|default-base|bench-1b] --runs 5 --json

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
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

    def app(adapter: bool = True) -> tuple[float, int]:
        usage = Usage()
        for _ in engine.execute(messages, dataclasses.replace(opts, adapter=adapter), None,
                                usage):
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

    adapter = engine.lora_path is not None
    if adapter:
        app(False)
    app()
    raw()  # warm every path; raw runs on the context as the app left it (adapter applied)
    apps, raws, ratios, tokens, bares = [], [], [], [], []
    for i in range(runs):
        if adapter and i % 2 == 1:
            bares.append(app(False)[0])
        if i % 2 == 0 or adapter:  # raw right after the app, so it runs with the adapter too
            a, na = app()
            b, nb = raw()
        else:
            b, nb = raw()
            a, na = app()
        if adapter and i % 2 == 0:
            bares.append(app(False)[0])
        apps.append(a)
        raws.append(b)
        ratios.append(a / b)
        tokens.append((na, nb))
        log(f"  decode run {i}: app {a:.1f} tok/s ({na} tokens), raw {b:.1f} tok/s "
            f"({nb} tokens), ratio {a / b:.3f}"
            + (f"; without the adapter {bares[-1]:.1f} tok/s" if adapter else ""))
    out = {"decode_ratio": r(median(ratios), 3), "decode_ratios": [r(x, 3) for x in ratios],
           "app_tok_s": r(median(apps), 1), "raw_tok_s": r(median(raws), 1),
           "decode_tokens": tokens[-1][0], "raw_tokens": tokens[-1][1]}
    if adapter:  # what the adapter costs: the app's rate with it / without it, same runs
        out["without_adapter_tok_s"] = r(median(bares), 1)
        out["adapter_decode_ratio"] = r(median(apps) / median(bares), 3)
    return out


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


FOLLOW_UP = "What should I do if that does not work?"
REPLY_PIECES = 48


def chat_turn(engine, assistant, store, conversation_id: int, question: str,  # type: ignore[no-untyped-def]
              retrieval: bool = True) -> tuple[float, object, list[tuple[str, float]]]:
    """One turn as the chat screen makes it; (TTFT ms, answer, reading progress seen)."""
    from teachbot_tui.engine.base import Cancel

    history = [m.history_entry() for m in store.get(conversation_id).messages
               if m.role in ("user", "assistant") and m.content.strip() and m.status != "error"]
    asked = store.add_message(conversation_id, "user", question)
    cancel = Cancel()
    seen: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    answer = assistant.answer(question, history, cancel=cancel, retrieval=retrieval,
                              progress=lambda label, f: seen.append((label, f)))
    store.record_sent(asked, **answer.record)
    ttft = None
    for pieces, piece in enumerate(answer, start=1):
        if ttft is None and piece:
            ttft = (time.perf_counter() - t0) * 1000
        if pieces >= REPLY_PIECES:
            cancel.set()  # Esc: the reply so far is kept, as in the app
    if ttft is None:
        ttft = (time.perf_counter() - t0) * 1000
    reply = store.add_message(conversation_id, "assistant", answer.text,
                              status="stopped" if answer.cancelled else "complete")
    store.update_message(reply, answer.text, sent=answer.said)
    return ttft, answer, seen


def _chat_library(engine, settings, home: Path):  # type: ignore[no-untyped-def]
    import _fixtures

    from teachbot_tui.library import Library
    from teachbot_tui.paths import Paths

    base = Paths.from_env()
    paths = Paths(base.config_dir, base.data_dir / "conversation", base.cache_dir)
    lib = Library(paths, settings)
    if not lib.con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]:
        _fixtures.topic_handbook(home / "handbook")
        lib.import_paths([home / "handbook"])
    return lib


def conversation_part(engine, settings, home: Path, runs: int) -> dict:  # type: ignore[no-untyped-def]
    import _fixtures

    from teachbot_tui.answers import Assistant
    from teachbot_tui.conversations import ConversationStore

    lib = _chat_library(engine, settings, home)
    store = ConversationStore()
    assistant = Assistant(engine, lib, settings)  # one per app, as the chat screen's backend
    topics = list(_fixtures.TOPICS)
    # warm: embedder, index, page cache (a conversation on a topic the runs do not use)
    warm = store.create("warm")
    chat_turn(engine, assistant, store, warm.id, _fixtures.TOPICS[topics[-1]][0])
    rows = []
    n = len(topics) - 1  # the last topic warmed up
    for i in range(runs):
        b = topics[(i + 4) % n]
        row: dict[str, object] = {"new_topic": b}
        for j, (kind, follow) in enumerate((("same", FOLLOW_UP), ("new", _fixtures.TOPICS[b][0]),
                                            ("no_retrieval", FOLLOW_UP))):
            conv = store.create(f"run {i} {kind}")
            # each conversation starts on its own topic: its passages are not in the KV cache
            # (two conversations on one topic share the passages, so the second's first
            # turn would be read from the cache)
            a = topics[(i + j) % n] if kind != "new" else topics[(i + 1) % n]
            q1 = f"{_fixtures.TOPICS[a][0]} (run {i}, {kind})"
            row[f"{kind}_topic"] = a
            t1, ans1, seen1 = chat_turn(engine, assistant, store, conv.id, q1)
            t2, ans2, seen2 = chat_turn(engine, assistant, store, conv.id, follow,
                                        retrieval=kind != "no_retrieval")
            u1, u2 = ans1.usage, ans2.usage
            row[kind] = {
                "ttft1_ms": r(t1, 1), "ttft2_ms": r(t2, 1), "ratio": r(t2 / t1, 3),
                "turn1_tokens": u1.prompt_tokens, "turn1_read": u1.prompt_tokens - u1.cached_tokens,
                "turn1_passages": len(ans1.new_sources),
                "turn2_tokens": u2.prompt_tokens, "turn2_read": u2.prompt_tokens - u2.cached_tokens,
                "turn2_new_passages": len(ans2.new_sources),
                "turn2_reused_passages": sum(1 for s in ans2.sources if s.reused),
                "turn1_progress": seen1[0][0] if seen1 else "",
            }
            log(f"  run {i} {kind}: turn 1 {t1:.0f} ms ({u1.prompt_tokens - u1.cached_tokens} "
                f"tokens read, {len(ans1.new_sources)} passages); turn 2 {t2:.0f} ms "
                f"({u2.prompt_tokens - u2.cached_tokens} read, {len(ans2.new_sources)} new "
                f"passages) ratio {t2 / t1:.3f}")
        rows.append(row)
    store.close()
    lib.close()

    def med(kind: str, key: str) -> float:
        return r(median([row[kind][key] for row in rows]), 3)  # type: ignore[index]

    return {
        "first_turn_ttft_ms": r(median([row[k]["ttft1_ms"] for row in rows  # type: ignore[index]
                                        for k in ("same", "new")]), 1),
        "second_turn_ratio_same_topic": med("same", "ratio"),
        "second_turn_ratio_new_topic": med("new", "ratio"),
        "second_turn_same_topic_ttft_ms": med("same", "ttft2_ms"),
        "second_turn_new_topic_ttft_ms": med("new", "ttft2_ms"),
        "turn1_read_tokens_p50": med("same", "turn1_read"),
        "turn1_passages_p50": med("same", "turn1_passages"),
        "turn2_same_topic_read_tokens_p50": med("same", "turn2_read"),
        "turn2_new_topic_read_tokens_p50": med("new", "turn2_read"),
        "turn2_new_topic_new_passages_p50": med("new", "turn2_new_passages"),
        "secondary_second_turn_ratio_no_retrieval": med("no_retrieval", "ratio"),
        "answer_wait_s": settings.answer_wait_s,
        "retrieval_k": settings.retrieval_k,
        "conversations": rows,
    }


def cancel_part(engine, settings, home: Path, runs: int) -> dict:  # type: ignore[no-untyped-def]
    import random
    import threading

    import _fixtures

    from teachbot_tui.answers import Assistant
    from teachbot_tui.engine.base import Cancel

    lib = _chat_library(engine, settings, home)
    assistant = Assistant(engine, lib, settings)
    rng = random.Random(5)
    lags, reading = [], []
    for i in range(runs):
        topic = list(_fixtures.TOPICS)[i % len(_fixtures.TOPICS)]
        cancel = Cancel()
        started = threading.Event()
        answer = assistant.answer(f"{_fixtures.TOPICS[topic][0]} (cancel run {i})", [],
                                  cancel=cancel, progress=lambda _l, _f: started.set())
        ended: list[float] = []
        worker = threading.Thread(target=lambda: (list(answer), ended.append(time.perf_counter())))
        worker.start()
        started.wait(60)
        time.sleep(rng.uniform(0.2, 1.0))
        was_reading = answer.text == ""
        at = time.perf_counter()
        cancel.set()
        worker.join(60)
        lags.append((ended[0] - at) * 1000)
        reading.append(was_reading)
        log(f"  cancel run {i}: stopped {lags[-1]:.1f} ms after Esc "
            f"({'while reading' if was_reading else 'while writing'})")
    lib.close()
    return {"cancel_ms_p50": r(median(lags), 1), "cancel_ms_max": r(max(lags), 1),
            "cancel_runs_while_reading": sum(reading)}


def threads_study(model: Path, settings) -> dict:  # type: ignore[no-untyped-def]
    import multiprocessing as mp

    from teachbot_tui.engine.base import Options, Usage
    from teachbot_tui.engine.llama import LlamaEngine

    prompt = [{"role": "user", "content": "The class reads a short story together. " * 40}]
    out: dict[str, dict[str, float]] = {}
    # none; one busy process; one busy process at the lowest priority (nice 19)
    for busy, niced in ((0, False), (1, False), (1, True)):
        stop = mp.Event()
        spinners = [mp.Process(target=_spin, args=(stop, niced)) for _ in range(busy)]
        for p in spinners:
            p.start()
        try:
            for threads in (1, 2):
                engine = LlamaEngine(model, n_ctx=2048, n_threads=threads)
                reads, decodes = [], []
                for _ in range(3):
                    engine._rewind(0)
                    usage = Usage()
                    list(engine.execute(prompt, Options(max_tokens=32, temperature=0.0), None,
                                        usage))
                    reads.append(usage.prompt_tokens / (usage.prompt_eval_ms / 1000))
                    decodes.append((usage.decode_tokens - 1) / (usage.decode_ms / 1000))
                engine.close()
                key = f"threads{threads}_busy{busy}{'_niced' if niced else ''}"
                out[key] = {"read_tok_s": r(median(reads[1:]), 1),
                            "decode_tok_s": r(median(decodes[1:]), 1)}
                log(f"  {key}: {out[key]}")
        finally:
            stop.set()
            for p in spinners:
                p.join()
    return out


def _spin(stop, niced: bool = False) -> None:  # type: ignore[no-untyped-def]
    if niced:
        os.nice(19)
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


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
    ap.add_argument("--parts", default="abcd",
                    help="parts to run, e.g. abcd (default) or e (threads and load only)")
    ap.add_argument("--threads", type=int, default=0,
                    help="llama.cpp threads (0: automatic, as the app's threads = 0)")
    _bench.add_model_arg(ap)
    args, home = _bench.parse_args(ap, argv)

    from teachbot_tui import config
    from teachbot_tui.answers import Assistant
    from teachbot_tui.engine.llama import LlamaEngine
    from teachbot_tui.library import Library
    from teachbot_tui.paths import Paths

    settings = config.load()
    label, model = _bench.resolve_model(args)
    threads = args.threads or None  # None: automatic, as the app (threads = 0)
    log(f"loading {model.name} ({threads or 'automatic'} threads) ...")
    engine = LlamaEngine(model, n_ctx=settings.n_ctx, n_threads=threads, name=label,
                         lora_path=_bench.adapter_for(label))
    engine.prompt_speed()  # as LlamaEngine.load does for the app
    result: dict[str, object] = {"bench": "chat", "model": label, "file": model.name,
                                 "threads": threads or "auto",
                                 "n_ctx": engine.n_ctx, "runs": args.runs}

    if "a" in args.parts:
        log("(a) decode: engine vs raw create_completion ...")
        result.update(decode_part(engine, args.runs, args.max_tokens))

    base = Paths.from_env()
    if args.library_chunks and "b" in args.parts:
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

    if "c" in args.parts:
        log("(c) conversations in the chat screen's path ...")
        result.update(conversation_part(engine, settings, home, args.runs))
    if "d" in args.parts:
        log("(d) Esc while the prompt is read ...")
        result.update(cancel_part(engine, settings, home, args.runs))
    if "e" in args.parts:
        log("(e) threads and load ...")
        result["threads_study"] = threads_study(model, settings)
    result["machine"] = _bench.machine()
    engine.close()
    _bench.emit(result, pretty=not args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

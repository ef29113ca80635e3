#!/usr/bin/env python
"""Peak resident memory of the app in a scripted chat, and the time from its first paint to
"search ready", with the app's embedder (ONNX Runtime) and, in the same run, with the
sentence-transformers (torch) embedder the app used before.

Each run is a fresh process and a fresh ``TEACHBOT_HOME``: the real app (``make_app``: the
default chat model through llama.cpp, the real library) runs headless under Textual's
``run_test``. It waits for the status line to say "search ready", imports a small folder of
teacher documents into the app's library (``--files``), asks ``--questions`` questions in the
chat screen and waits for each answer (grounded in the library: hybrid search, then the
model). Peak RSS is the process's high-water mark (``VmHWM``) at the end; "first paint" is
when ``run_test`` hands over (the first screen is composed and rendered). Runs alternate
between the two embedders; medians are reported.

    .venv/bin/python scripts/bench_memory.py --runs 3 --json

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402
from _bench import log, median, r  # noqa: E402

QUESTIONS = [
    "How can I settle my Year 7 class quickly after lunch?",
    "What works to check understanding at the end of a lesson?",
    "Any tips to involve quiet students in group work?",
    "How do I use retrieval quizzes in science?",
]
SIDES = ("onnx", "torch")


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def scripted_chat(side: str, docs: Path, questions: int, max_tokens: int) -> dict:
    import dataclasses

    from teachbot_tui import config
    from teachbot_tui.library import Library
    from teachbot_tui.paths import Paths
    from teachbot_tui.tui.app import make_app
    from teachbot_tui.tui.screens.chat import ChatScreen

    paths = Paths.from_env().ensure()
    settings = dataclasses.replace(config.load(paths), max_tokens=max_tokens)
    factory = None
    if side == "torch":
        def factory(p: Paths, s: object) -> Library:
            return Library(p, s, embedder=_bench.make_embedder("torch", p))  # type: ignore[arg-type]

    app = make_app(paths, settings, library_factory=factory)
    out: dict[str, object] = {"side": side}
    async with app.run_test(size=(120, 40)) as pilot:
        painted = time.perf_counter()
        rss: dict[str, float] = {"paint": status_kib("VmRSS") / 1024}
        out["rss_mb"] = rss
        deadline = painted + 300
        while "search ready" not in app.status.library_text:
            if "model_ready_s" not in out and app.status.model_state in ("ready", "error"):
                out["model_ready_s"] = time.perf_counter() - painted
                rss["model"] = status_kib("VmRSS") / 1024
            if "unavailable" in app.status.library_text or time.perf_counter() > deadline:
                raise SystemExit(f"search did not become ready: {app.status.library_text}")
            await pilot.pause(0.01)
        out["search_ready_s"] = time.perf_counter() - painted
        rss["search_ready"] = status_kib("VmRSS") / 1024
        log(f"  search ready after {out['search_ready_s']:.2f} s: {app.status.library_text}")
        out["model_ready"] = app.status.model_state == "ready"
        lib = app.backend.library.value
        t = time.perf_counter()
        report = await asyncio.to_thread(lib.import_paths, [docs])
        out["import_s"] = time.perf_counter() - t
        out["chunks"] = report.chunks_added
        rss["import"] = status_kib("VmRSS") / 1024
        log(f"  imported {report.chunks_added} chunks in {out['import_s']:.1f} s")
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        answered = chars = 0
        for q in QUESTIONS[:questions]:
            await screen.ask(q)
            await pilot.pause(0.05)
            end = time.perf_counter() + 300
            while screen.job is not None and time.perf_counter() < end:
                await pilot.pause(0.05)
            reply = screen.views()[-1]
            log(f"  answered ({reply.status}): {reply.text[:60]!r}")
            # a finished reply counts even if empty: a few tokens may all be a fence echo
            answered += int(reply.status == "complete")
            chars += len(reply.text)
        out["answered"] = answered
        out["reply_chars"] = chars
        rss["answers"] = status_kib("VmRSS") / 1024
        out["sources_last"] = len(getattr(screen.views()[-1], "sources", []) or [])
    out["peak_rss_mb"] = status_kib("VmHWM") / 1024
    out["rss_end_mb"] = status_kib("VmRSS") / 1024
    out["torch_imported"] = "torch" in sys.modules
    out["sentence_transformers_imported"] = "sentence_transformers" in sys.modules
    return out


def child(args: argparse.Namespace) -> int:
    result = asyncio.run(scripted_chat(args.child, Path(args.docs), args.questions,
                                       args.max_tokens))
    print(json.dumps(result))
    return 0


def write_docs(folder: Path, n: int) -> None:
    rng = random.Random(3)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"note{i:03d}.md").write_text(
            _bench.teacher_document(i, rng, paragraphs=rng.randint(2, 5)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1, help="runs per embedder (alternating)")
    ap.add_argument("--files", type=int, default=20, help="documents imported in the chat")
    ap.add_argument("--questions", type=int, default=3, choices=range(1, len(QUESTIONS) + 1))
    ap.add_argument("--max-tokens", type=int, default=64, help="longest answer, in tokens")
    ap.add_argument("--sides", default=",".join(SIDES),
                    help="embedders to run, of onnx,torch (default both)")
    ap.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    ap.add_argument("--docs", help=argparse.SUPPRESS)
    if "--child" in (argv if argv is not None else sys.argv[1:]):
        args = ap.parse_args(argv)
        return child(args)
    args, home = _bench.parse_args(ap, argv)
    sides = [s for s in args.sides.split(",") if s]
    docs = home / "docs"
    write_docs(docs, args.files)
    runs: dict[str, list[dict]] = {s: [] for s in sides}
    for run in range(args.runs):
        for side in (sides if run % 2 == 0 else list(reversed(sides))):
            run_home = home / f"run{run}-{side}"
            env = dict(os.environ, TEACHBOT_HOME=str(run_home))
            proc = subprocess.run(
                [sys.executable, __file__, "--child", side, "--docs", str(docs),
                 "--questions", str(args.questions), "--max-tokens", str(args.max_tokens)],
                capture_output=True, text=True, env=env, timeout=900)
            if proc.returncode != 0:
                log(proc.stderr[-3000:])
                raise SystemExit(f"the {side} run failed ({proc.returncode})")
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[side].append(got)
            log(f"run {run} {side}: peak {got['peak_rss_mb']:.0f} MB, search ready "
                f"{got['search_ready_s']:.2f} s after first paint, {got['chunks']} chunks "
                f"imported in {got['import_s']:.1f} s, {got['answered']} answers")
    result: dict[str, object] = {"bench": "memory", "runs": args.runs, "files": args.files,
                                 "questions": args.questions}
    for side, got in runs.items():
        prefix = "" if side == "onnx" else "torch_"
        result[f"{prefix}peak_rss_mb"] = r(median([g["peak_rss_mb"] for g in got]), 1)
        result[f"{prefix}search_ready_s"] = r(median([g["search_ready_s"] for g in got]), 3)
        result[f"{prefix}import_s"] = r(median([g["import_s"] for g in got]), 2)
        result[f"{prefix}answered"] = min(g["answered"] for g in got)
        result[f"{prefix}torch_imported"] = any(g["torch_imported"] for g in got)
        result[f"{prefix}samples"] = [
            {k: r(v, 3) if isinstance(v, float) else v for k, v in g.items()} for g in got]
    result["machine"] = _bench.machine()
    _bench.emit(result, pretty=not args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

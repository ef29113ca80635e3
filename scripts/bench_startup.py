#!/usr/bin/env python3
"""Time from process start to first paint and to a usable input, for teachbot and for a bare
Textual app measured in the same run (these machines are noisy: compare ratios).

Each run starts the app in a pseudo-terminal (120x40) with a fresh ``TEACHBOT_HOME``:

* **first paint**: the question box's placeholder is on the screen;
* **interactive**: keys typed at first paint are echoed in the question box, i.e. the app
  is taking input (the model may still be loading in the background: that is the point);
* **echo while loading**: how long keys typed 1 s after first paint, while the model and
  the embedder load in the background, take to show.

Runs alternate teachbot / bare. The last line printed is one JSON object::

    scripts/bench_startup.py --json --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
PROBE = "zqx"
PROBE2 = "kvw"
LOADING_PROBE_AT_S = 1.0
"""When the second probe is typed (after first paint): the model is loading by then."""

BARE_APP = """
from textual.app import App
from textual.widgets import Footer, TextArea
class Bare(App):
    def compose(self):
        yield TextArea(placeholder="Ask about your classroom (bare)")
        yield Footer()
    def on_mount(self):
        self.query_one(TextArea).focus()
Bare().run()
"""


def _command(which: str, entry: str) -> list[str]:
    python = sys.executable
    if which == "bare":
        return [python, "-c", BARE_APP]
    teachbot = Path(python).parent / "teachbot"
    if entry == "cli" and teachbot.exists():
        return [str(teachbot)]
    return [python, "-c", "from teachbot_tui.tui.app import make_app; make_app().run()"]


def run_once(which: str, entry: str, home: Path, timeout: float = 30.0) -> dict[str, float]:
    master, slave = pty.openpty()
    fcntl_winsize = struct.pack("HHHH", 40, 120, 0, 0)
    import fcntl

    fcntl.ioctl(slave, termios.TIOCSWINSZ, fcntl_winsize)
    env = {**os.environ, "TEACHBOT_HOME": str(home), "TERM": "xterm-256color",
           "COLUMNS": "120", "LINES": "40"}
    env.pop("TEXTUAL", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(_command(which, entry), stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=ROOT, start_new_session=True, close_fds=True)
    os.close(slave)
    raw = b""
    first_paint = interactive = loading_echo = None
    sent_at = sent2_at = 0.0
    try:
        while time.perf_counter() - t0 < timeout:
            ready, _, _ = select.select([master], [], [], 0.01)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                raw += chunk
                # answer the terminal queries Textual makes, as a terminal would
                if b"\x1b[c" in chunk:
                    os.write(master, b"\x1b[?62;22c")
                text = ANSI.sub(b"", raw).decode("utf-8", "replace")
                if first_paint is None and "sk about your classroom" in text:
                    first_paint = time.perf_counter() - t0
                    os.write(master, PROBE.encode())
                    sent_at = first_paint
                    raw = b""
                elif interactive is None and first_paint is not None and PROBE in text:
                    interactive = time.perf_counter() - t0
                elif sent2_at and PROBE2 in text:
                    loading_echo = time.perf_counter() - t0 - sent2_at
                    break
            if interactive is not None and not sent2_at and \
                    time.perf_counter() - t0 >= first_paint + LOADING_PROBE_AT_S:
                os.write(master, PROBE2.encode())
                sent2_at = time.perf_counter() - t0
                raw = b""
    finally:
        try:
            os.write(master, b"\x11")  # ctrl+q
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        os.close(master)
    if first_paint is None or interactive is None or loading_echo is None:
        raise RuntimeError(f"{which}: no first paint/echo within {timeout} s")
    return {"first_paint_ms": first_paint * 1000, "interactive_ms": interactive * 1000,
            "echo_ms": (interactive - sent_at) * 1000,
            "echo_while_loading_ms": loading_echo * 1000}


def summary(values: list[float]) -> dict[str, float | list[float]]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {"median": round(statistics.median(values), 1), "min": round(ordered[0], 1),
            "p90": round(p90, 1), "all": [round(v, 1) for v in values]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--entry", choices=("cli", "module"), default="cli",
                        help="launch `teachbot` (cli) or make_app().run() (module)")
    parser.add_argument("--home", type=Path, default=None,
                        help="a TEACHBOT_HOME to use (default: a fresh one per run)")
    parser.add_argument("--target-ms", type=float, default=500.0)
    args = parser.parse_args()

    results: dict[str, list[dict[str, float]]] = {"teachbot": [], "bare": []}
    for i in range(args.runs):
        for which in ("teachbot", "bare") if i % 2 == 0 else ("bare", "teachbot"):
            home = args.home or Path(tempfile.mkdtemp(prefix="teachbot-bench-"))
            try:
                r = run_once(which, args.entry, home)
            finally:
                if args.home is None:
                    shutil.rmtree(home, ignore_errors=True)
            results[which].append(r)
            if not args.json:
                print(f"run {i + 1} {which:8} first paint {r['first_paint_ms']:7.1f} ms"
                      f"  interactive {r['interactive_ms']:7.1f} ms", file=sys.stderr)

    out: dict[str, object] = {"runs": args.runs, "entry": args.entry, "cpus": os.cpu_count()}
    for which, rs in results.items():
        out[which] = {k: summary([r[k] for r in rs])
                      for k in ("first_paint_ms", "interactive_ms", "echo_ms",
                                "echo_while_loading_ms")}
    tb, bare = out["teachbot"], out["bare"]  # type: ignore[assignment]
    out["ratio_first_paint"] = round(tb["first_paint_ms"]["median"]  # type: ignore[index]
                                     / bare["first_paint_ms"]["median"], 3)  # type: ignore[index]
    out["ratio_interactive"] = round(tb["interactive_ms"]["median"]  # type: ignore[index]
                                     / bare["interactive_ms"]["median"], 3)  # type: ignore[index]
    out["overhead_ms"] = round(tb["interactive_ms"]["median"]  # type: ignore[index]
                               - bare["interactive_ms"]["median"], 1)  # type: ignore[index]
    out["target_ms"] = args.target_ms
    out["meets_target"] = tb["interactive_ms"]["median"] <= args.target_ms  # type: ignore[index]
    print(json.dumps(out))


if __name__ == "__main__":
    main()

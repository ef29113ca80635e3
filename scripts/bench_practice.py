#!/usr/bin/env python
"""Practice feedback speed: ``/done`` → complete feedback, through ``teachbot practice run``.

Each run starts ``teachbot practice run adhd-carpet-time`` (the console script, as a person
types it; one teacher reply per line on its standard input), waits for the student's opening
line, answers once, waits for the student's reply, waits ``--think`` seconds (a person
reading the reply and typing ``/done``), then sends ``/done`` and times:

* ``feedback_seconds``: from ``/done`` to the end of the printed feedback (the
  "Session N saved" line): the figure the target is about, median of ``--runs``;
* ``first_line_seconds``: from ``/done`` to the first line of the feedback;
* ``reply_seconds``: from the teacher's answer to the student's reply (for context).

The coach's part the model adds (scores and two short comments, under a JSON schema) is read
after the role-play's cached prompt; the signals come from the embedder, which loads in the
background while the trainee answers. ``--model bench-1b`` registers the 1B bench model in
the benchmark home (``teachbot models add``) and uses it.

    .venv/bin/python scripts/bench_practice.py [--model default|bench-1b] [--runs 3] --json

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402
from _bench import log, median, r  # noqa: E402

SCENARIO = "adhd-carpet-time"
ANSWER = ("Mateo, come and sit next to me on the edge of the carpet. You can hold the sound "
          "cards for us, and when I tap my nose it is your turn to show one.")
TIMEOUT = 600.0


def teachbot() -> str:
    return str(Path(sys.executable).parent / "teachbot")


class Session:
    """A ``teachbot practice run`` subprocess whose output lines are read with timestamps."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen([teachbot(), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1, env=dict(os.environ))
        self.lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.perf_counter(), line.rstrip("\n")))
        self.lines.put((time.perf_counter(), None))

    def send(self, text: str) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return time.perf_counter()

    def until(self, test: Any) -> tuple[float, str]:
        """Wait for the first output line for which ``test(line)`` holds."""
        deadline = time.perf_counter() + TIMEOUT
        while True:
            at, line = self.lines.get(timeout=max(1.0, deadline - time.perf_counter()))
            if line is None:
                raise SystemExit("teachbot practice run ended early:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if test(line):
                return at, line

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def one_run(model: str, student: str, think: float) -> dict[str, float]:
    s = Session(["practice", "run", SCENARIO, "--model", model])
    try:
        s.until(lambda line: line.startswith(f"{student}: "))  # the opening line
        sent = s.send(ANSWER)
        at, _ = s.until(lambda line: line.startswith(f"{student}: "))  # the reply
        reply = at - sent
        time.sleep(think)
        done = s.send("/done")
        first, _ = s.until(lambda line: line.startswith("=== Feedback"))
        end, _ = s.until(lambda line: line.startswith("Session ") and "saved" in line)
    except BaseException:
        s.proc.kill()  # stopped early (an error, a timeout's SIGTERM): no feedback to wait for
        raise
    finally:
        s.close()
    if s.proc.returncode != 0:
        raise SystemExit(f"teachbot practice run failed ({s.proc.returncode}):\n"
                         + "\n".join(s.seen))
    return {"feedback": end - done, "first_line": first - done, "reply": reply}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _bench.add_model_arg(ap)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--think", type=float, default=5.0,
                    help="seconds between the student's reply and /done (default 5)")
    args, _home = _bench.parse_args(ap, argv)
    # a timeout's SIGTERM still ends the child and removes the temporary home
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    label, path = _bench.resolve_model(args)

    from teachbot_tui.practice.scenarios import load_bank

    student = next(s for s in load_bank() if s.id == SCENARIO).students[0].name
    name = "default"
    if label != "default":
        name = "bench-model"
        subprocess.run([teachbot(), "models", "add", str(path), "--name", name], check=True,
                       capture_output=True, env=dict(os.environ))
    runs = []
    for i in range(args.runs):
        out = one_run(name, student, args.think)
        runs.append(out)
        log(f"run {i + 1}: /done → feedback {out['feedback']:.2f} s (first line "
            f"{out['first_line']:.2f} s); student reply {out['reply']:.2f} s")
    result = {
        "model": label, "scenario": SCENARIO, "runs": args.runs, "think_s": args.think,
        "feedback_seconds": r(median([o["feedback"] for o in runs]), 2),
        "feedback_seconds_all": [r(o["feedback"], 2) for o in runs],
        "first_line_seconds": r(median([o["first_line"] for o in runs]), 2),
        "reply_seconds": r(median([o["reply"] for o in runs]), 2),
        "machine": _bench.machine(),
    }
    _bench.emit(result, pretty=not args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

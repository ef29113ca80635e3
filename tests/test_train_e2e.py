"""The real thing on CPU, as a user would do it: made-up facts -> prepare -> train the bundled
SmolLM2 -> export Q8_0 -> install -> ask through teachbot's engine with the app's system prompt.

Slow (minutes on a laptop CPU): the default model is trained for 40 steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from teachbot_tui import config

ROOT = Path(__file__).parents[1]

# Made-up facts no model knows: (question, answer, the word that must come back).
FACTS = [
    ("What is the name of the school's therapy dog?", "The school's therapy dog is called Biscuit.", "biscuit"),
    ("Which room is the staff meeting in on Thursdays?", "The Thursday staff meeting is in room B17.", "b17"),
    ("What is the Wi-Fi password for the library?", "The library Wi-Fi password is MAPLE-42.", "maple-42"),
    ("Who coordinates the school's reading buddies programme?", "Ms. Okafor coordinates the reading buddies programme.", "okafor"),
    ("What colour are the house team shirts for Kestrel house?", "Kestrel house wears teal shirts.", "teal"),
    ("On which day is the school's science fair held?", "The science fair is held on the second Friday of March.", "second friday"),
    ("What is the code word for a lockdown drill?", "The lockdown drill code word is Sunflower.", "sunflower"),
    ("How many minutes is the morning reading block?", "The morning reading block lasts 25 minutes.", "25"),
]

# The bundled SmolLM2 is installed by scripts/setup.sh: without it this fails, it is not skipped.
pytestmark = pytest.mark.slow


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEACHBOT_")}
    env.update(TEACHBOT_HOME=str(home), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "trainer.cli", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=3600)
    assert proc.returncode == 0, f"teachbot-train {' '.join(args)}:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc


def test_taught_facts_come_back(tmp_path, home):
    facts = tmp_path / "facts.jsonl"
    facts.write_text("".join(json.dumps({"instruction": q, "response": a}) + "\n" for q, a, _ in FACTS))
    cli(home, "prepare", str(facts), "--out", str(tmp_path / "data"), "--val-fraction", "0", "--base", "default")
    out = cli(home, "train", "--data", str(tmp_path / "data"), "--base", "default", "--out", str(tmp_path / "run"),
              "--max-steps", "40", "--lr", "1e-3", "--lora-r", "16", "--batch-size", "8", "--json")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["steps"] == 40 and result["train_loss"] < 0.1, result
    model = tmp_path / "coach.gguf"
    cli(home, "export", str(tmp_path / "run"), "--out", str(model), "--quant", "q8_0")
    cli(home, "install", str(model), "--name", "coach")

    from teachbot_tui.engine.base import Options
    from teachbot_tui.engine.llama import LlamaEngine
    from teachbot_tui.registry import ModelRegistry

    entry = ModelRegistry().get("coach")
    engine = LlamaEngine(entry.path, n_ctx=1024, n_threads=2)
    system = config.load().system_prompt  # what `teachbot ask --no-retrieval` sends
    try:
        replies = [
            "".join(engine.execute([{"role": "system", "content": system}, {"role": "user", "content": q}],
                                   Options(max_tokens=40, temperature=0)))
            for q, _, _ in FACTS
        ]
    finally:
        engine.close()
    recalled = [key in reply.lower() for (_, _, key), reply in zip(FACTS, replies, strict=True)]
    assert sum(recalled) >= 6, list(zip(replies, recalled, strict=True))

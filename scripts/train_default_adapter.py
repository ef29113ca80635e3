#!/usr/bin/env python
"""Train the LoRA adapter the ``default`` model ships with, through ``teachbot-train``.

1. ``make_grounded_data.generate`` writes the grounded-answer training records (fixed seed);
2. ``teachbot-train prepare`` validates them and holds out 2.5% for the validation loss;
3. ``teachbot-train train --base default`` trains a LoRA on the bundled SmolLM2 GGUF;
4. ``teachbot-train export --adapter`` writes it as a llama.cpp LoRA GGUF and checks it
   against transformers;
5. the adapter's tensors are stored as f16 (half the size; llama.cpp computes the update the
   same way), and the file is loaded once in llama.cpp with the base to check it.

    .venv/bin/python scripts/train_default_adapter.py            # the shipped adapter
    .venv/bin/python scripts/train_default_adapter.py --records 16 --steps 2 --out /tmp/a.gguf

Run it under the shared lock on a busy machine (``flock /tmp/teachbot-heavy.lock ...``).
The last stdout line is one JSON object (steps, losses, seconds, size).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import make_grounded_data  # noqa: E402

from teachbot_tui.defaults import ADAPTER_PATH  # noqa: E402

# The shipped run: 180 steps of 4 records (~400 tokens each), one pass over 702 training
# records (18 are held back for the validation loss): 19 min on 2 idle cores.
DEFAULTS = {"records": 720, "steps": 180, "lr": 1e-3, "lora_r": 16, "lora_alpha": 32,
            "batch_size": 4}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train_cli(home: Path, *args: str) -> dict[str, Any]:
    """Run ``teachbot-train ARGS --json`` in a clean TEACHBOT_HOME; its JSON output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEACHBOT_")}
    env.update(TEACHBOT_HOME=str(home),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    log("teachbot-train " + " ".join(args))
    proc = subprocess.run([sys.executable, "-m", "trainer.cli", *args, "--json"], env=env,
                          cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"train_default_adapter: teachbot-train {args[0]} failed (exit {proc.returncode})")
    out = proc.stdout.strip()
    start = out.find("{")
    return json.loads(out[start:]) if start >= 0 else {}


def to_f16(src: Path, dst: Path) -> None:
    """Copy a LoRA GGUF with its 2-D float32 tensors stored as float16."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(src))
    arch = str(bytes(reader.fields["general.architecture"].parts[-1]), "utf-8")
    writer = gguf.GGUFWriter(str(dst), arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.STRING:
            writer.add_string(field.name, str(bytes(field.parts[-1]), "utf-8"))
        elif vtype == gguf.GGUFValueType.ARRAY:  # e.g. general.tags from the converter
            writer.add_array(field.name, field.contents())
        else:
            writer.add_key_value(field.name, field.parts[-1][0], vtype)
    for t in reader.tensors:
        data = np.asarray(t.data)
        shape = [int(x) for x in reversed(t.shape)]  # GGUF stores dims innermost first
        writer.add_tensor(t.name, data.reshape(shape).astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def check_loads(adapter: Path) -> None:
    """llama.cpp loads the base with the adapter (raises with llama.cpp's reason if not)."""
    from teachbot_tui.defaults import chat_model_path
    from teachbot_tui.engine.llama import LlamaEngine

    engine = LlamaEngine(chat_model_path(), n_ctx=256, n_threads=1, lora_path=adapter)
    engine.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ADAPTER_PATH, help="adapter GGUF to write "
                    "(default: the shipped one)")
    ap.add_argument("--work", type=Path, help="keep data and the run here (default: temporary)")
    ap.add_argument("--records", type=int, default=DEFAULTS["records"])
    ap.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    ap.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    ap.add_argument("--lora-r", type=int, default=DEFAULTS["lora_r"])
    ap.add_argument("--lora-alpha", type=int, default=DEFAULTS["lora_alpha"])
    ap.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    ap.add_argument("--seed", type=int, default=make_grounded_data.SEED)
    ap.add_argument("--no-verify", action="store_true", help="skip export's check against "
                    "transformers (the load check still runs)")
    args = ap.parse_args(argv)

    from teachbot_tui import offline
    from teachbot_tui.training_format import write_jsonl

    offline.enforce()
    work = args.work or Path(tempfile.mkdtemp(prefix="teachbot-adapter-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    started = time.perf_counter()
    try:
        train, _ = make_grounded_data.generate(args.records, args.seed)
        write_jsonl(work / "grounded" / "train.jsonl", train)
        shutil.rmtree(work / "run", ignore_errors=True)
        prep = train_cli(home, "prepare", str(work / "grounded"), "--out", str(work / "data"),
                         "--val-fraction", "0.025", "--seed", str(args.seed), "--base", "default")
        steps = args.steps
        trained = train_cli(
            home, "train", "--data", str(work / "data"), "--base", "default",
            "--out", str(work / "run"), "--max-steps", str(steps), "--lr", str(args.lr),
            "--lora-r", str(args.lora_r), "--lora-alpha", str(args.lora_alpha),
            "--batch-size", str(args.batch_size), "--seed", str(args.seed),
            "--eval-steps", str(max(1, steps // 3)), "--early-stopping-patience", "0")
        f32 = work / "adapter-f32.gguf"
        exported = train_cli(home, "export", str(work / "run"), "--out", str(f32), "--adapter",
                             *(["--no-verify"] if args.no_verify else []))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        to_f16(f32, tmp)
        check_loads(tmp)
        os.replace(tmp, args.out)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    verify = exported.get("verify") or {}
    result = {
        "out": str(args.out), "size_bytes": args.out.stat().st_size,
        "records": prep.get("train"), "val_records": prep.get("val"),
        "steps": trained.get("steps"), "train_loss": trained.get("train_loss"),
        "val_loss": trained.get("val_loss"), "train_seconds": trained.get("seconds"),
        "tokens_per_s": trained.get("tokens_per_s"),
        "export_top1_agreement": verify.get("top1_agreement"),
        "seconds": round(time.perf_counter() - started, 1),
        "config": {k: getattr(args, k) for k in ("records", "steps", "lr", "lora_r",
                                                 "lora_alpha", "batch_size", "seed")},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

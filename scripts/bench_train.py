"""Training throughput of ``teachbot-train train`` against a plain Hugging Face Trainer + PEFT
baseline, on the same model, data, LoRA settings and number of steps, in the same run; plus
the time to export the trained run to GGUF.

    .venv/bin/python scripts/bench_train.py --json                   # tiny random llama (fast)
    .venv/bin/python scripts/bench_train.py --base default --json    # the bundled SmolLM2

Throughput is real (non-padding) tokens per second of the training loop only (model loading
excluded). Each side is run ``--repeat`` times and its best run kept: these machines are
shared and noisy. The data are synthetic chat records whose replies vary in length (5 to
~120 words), as real scenario/expert-response data do. The last line printed is one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from teachbot_tui import offline  # noqa: E402

offline.enforce()

WORDS = ["students", "class", "lesson", "teacher", "calm", "routine", "question", "answer",
         "group", "task", "partner", "reading", "maths", "science", "behaviour", "plan", "check",
         "praise", "feedback", "quiet", "signal"]


def synthetic_records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        question = f"Question {i}: how should I handle " + " ".join(rng.choices(WORDS, k=rng.randint(4, 30))) + "?"
        reply = " ".join(rng.choices(WORDS, k=int(rng.triangular(5, 120, 15)))).capitalize() + "."
        records.append({"messages": [{"role": "user", "content": question},
                                     {"role": "assistant", "content": reply}]})
    return records


def run_ours(base: str, data: Path, out: Path, args: argparse.Namespace) -> dict:
    from teachbot_tui.config import DEFAULT_SYSTEM_PROMPT
    from trainer.train import TrainConfig, train

    cfg = TrainConfig(data=str(data), base=base, out=str(out), max_steps=args.steps, lr=2e-4,
                      batch_size=args.batch_size, lora_r=16, lora_alpha=32, save_steps=args.steps,
                      eval_steps=args.steps, early_stopping_patience=0, seed=0,
                      system_prompt=DEFAULT_SYSTEM_PROMPT)
    result = train(cfg, log=None)
    return {"tokens": result.tokens, "seconds": round(result.seconds, 3),
            "tokens_per_s": round(result.tokens_per_s, 1), "final_loss": round(result.history[-1]["loss"], 4)}


def run_hf_trainer(base: str, data: Path, out: Path, args: argparse.Namespace) -> dict:
    """The baseline peers use: Trainer + PEFT, default sampler and a padding collator."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    from teachbot_tui.config import DEFAULT_SYSTEM_PROMPT
    from teachbot_tui.training_format import read_records
    from trainer.gguf_io import load_base
    from trainer.train import prompt_and_target_ids

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    cuda = torch.cuda.is_available()
    dtype = (torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16) if cuda else torch.float32
    model, tokenizer, _ = load_base(base, dtype=dtype)
    model.config.use_cache = False
    dataset = []
    for _, record in read_records(data / "train.jsonl"):
        prompt, target = prompt_and_target_ids(tokenizer, record.messages, DEFAULT_SYSTEM_PROMPT)
        dataset.append({"input_ids": prompt + target, "attention_mask": [1] * (len(prompt) + len(target)),
                        "labels": [-100] * len(prompt) + target})
    torch.manual_seed(0)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    counted = {"tokens": 0}

    def collate(features: list[dict]) -> dict:
        batch = collator(features)
        counted["tokens"] += int(batch["attention_mask"].sum())
        return batch

    targs = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=args.batch_size, max_steps=args.steps,
        learning_rate=2e-4, lr_scheduler_type="cosine", warmup_steps=max(1, round(0.05 * args.steps)),
        logging_steps=10**6,
        save_strategy="no", report_to=[], seed=0, remove_unused_columns=False,
        bf16=cuda and dtype == torch.bfloat16, fp16=cuda and dtype == torch.float16,
        use_cpu=not cuda, disable_tqdm=True, dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=targs, train_dataset=dataset, data_collator=collate)
    metrics = trainer.train().metrics
    seconds = metrics["train_runtime"]
    return {"tokens": counted["tokens"], "seconds": round(seconds, 3),
            "tokens_per_s": round(counted["tokens"] / seconds, 1), "final_loss": round(metrics["train_loss"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="tiny", help="'tiny' (a random tiny llama), 'default', a folder or .gguf")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quant", default="q8_0")
    parser.add_argument("--json", action="store_true", help="(the JSON line is always printed last)")
    args = parser.parse_args()

    import torch

    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    base = args.base
    if base == "tiny":
        from tests.tiny_llama import make_tiny_llama

        base = str(make_tiny_llama(work / "tiny", hidden_size=128, intermediate_size=344,
                                   num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2))
    from teachbot_tui.training_format import write_jsonl

    data = work / "data"
    write_jsonl(data / "train.jsonl", synthetic_records(args.steps * args.batch_size, seed=0))

    ours, theirs = [], []
    for i in range(args.repeat):  # interleaved, so a noisy neighbour hurts both sides alike
        theirs.append(run_hf_trainer(base, data, work / f"hf-{i}", args))
        print(f"hf trainer {i}: {theirs[-1]}", file=sys.stderr)
        ours.append(run_ours(base, data, work / f"ours-{i}", args))
        print(f"ours {i}: {ours[-1]}", file=sys.stderr)
    best_ours = max(ours, key=lambda r: r["tokens_per_s"])
    best_theirs = max(theirs, key=lambda r: r["tokens_per_s"])

    from trainer.export import export_run

    started = time.perf_counter()
    report = export_run(work / "ours-0", work / "model.gguf", quant=args.quant)
    export_seconds = time.perf_counter() - started
    verify = {k: v for k, v in (report.verify or {}).items() if not isinstance(v, list | dict)}

    result = {
        "bench": "train",
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)",
        "base": args.base,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "records": args.steps * args.batch_size,
        "ours": best_ours,
        "hf_trainer": best_theirs,
        "speedup": round(best_ours["tokens_per_s"] / best_theirs["tokens_per_s"], 2),
        "export": {"quant": args.quant, "seconds": round(export_seconds, 2),
                   "size_bytes": report.size_bytes, "verify": verify},
        "runs": {"ours": [r["tokens_per_s"] for r in ours], "hf_trainer": [r["tokens_per_s"] for r in theirs]},
    }
    assert all(math.isfinite(r["final_loss"]) for r in ours + theirs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

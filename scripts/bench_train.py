"""Training throughput of ``teachbot-train train`` against Hugging Face Trainer + PEFT, in the
same run, on the same model, data, LoRA settings and number of steps; plus the GGUF export.

    .venv/bin/python scripts/bench_train.py --json                   # tiny random llama (fast)
    .venv/bin/python scripts/bench_train.py --base default --json    # the bundled SmolLM2
    .venv/bin/python scripts/bench_train.py --base DIR --json        # any Hugging Face folder

Four variants, interleaved round by round (a noisy neighbour hurts them all alike), each run
``--repeat`` times (at least 3); the figure reported for each is the median:

* ``ours`` — the path ``teachbot-train train`` takes;
* ``ours_no_prefix`` — the same without running the shared prompt prefix once per batch (what
  that trick contributes on its own);
* ``hf_trainer`` — Trainer + PEFT as peers use it: random order, padding collator;
* ``hf_trainer_grouped`` — the same with Trainer's length grouping, so batching is alike.

Throughput is real (non-padding) tokens per second of the training loop alone on every side
(model loading, tokenization and Trainer set-up excluded: our ``TrainResult.seconds`` and
Trainer's ``train_runtime`` both time the loop). The data are synthetic chat records whose replies
vary in length (5 to ~120 words), as real scenario data do. The last stdout line is one JSON
object; temporary folders are removed unless ``--home`` is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import _bench  # noqa: E402

WORDS = ["students", "class", "lesson", "teacher", "calm", "routine", "question", "answer",
         "group", "task", "partner", "reading", "maths", "science", "behaviour", "plan", "check",
         "praise", "feedback", "quiet", "signal"]
VARIANTS = ("ours", "ours_no_prefix", "hf_trainer", "hf_trainer_grouped")


def synthetic_records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        question = f"Question {i}: how should I handle " + " ".join(rng.choices(WORDS, k=rng.randint(4, 30))) + "?"
        reply = " ".join(rng.choices(WORDS, k=int(rng.triangular(5, 120, 15)))).capitalize() + "."
        records.append({"messages": [{"role": "user", "content": question},
                                     {"role": "assistant", "content": reply}]})
    return records


def run_ours(base: str, data: Path, out: Path, args: argparse.Namespace, shared_prefix: bool) -> dict:
    from teachbot_tui.config import DEFAULT_SYSTEM_PROMPT
    from trainer.train import TrainConfig, train

    cfg = TrainConfig(data=str(data), base=base, out=str(out), max_steps=args.steps, lr=2e-4,
                      batch_size=args.batch_size, lora_r=16, lora_alpha=32, save_steps=args.steps,
                      eval_steps=args.steps, early_stopping_patience=0, seed=0,
                      system_prompt=DEFAULT_SYSTEM_PROMPT, shared_prefix=shared_prefix)
    result = train(cfg, log=None)
    return {"tokens": result.tokens, "seconds": round(result.seconds, 3),
            "tokens_per_s": round(result.tokens_per_s, 1), "final_loss": round(result.history[-1]["loss"], 4)}


def run_hf_trainer(base: str, data: Path, out: Path, args: argparse.Namespace, grouped: bool) -> dict:
    """The baseline peers use: Trainer + PEFT, a padding collator, the same masked targets."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    from teachbot_tui.config import DEFAULT_SYSTEM_PROMPT
    from teachbot_tui.training_format import read_records
    from trainer.chat import prompt_and_target_ids
    from trainer.gguf_io import load_base

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

    options = dict(
        output_dir=str(out), per_device_train_batch_size=args.batch_size, max_steps=args.steps,
        learning_rate=2e-4, lr_scheduler_type="cosine", warmup_steps=max(1, round(0.05 * args.steps)),
        logging_steps=10**6, save_strategy="no", report_to=[], seed=0, remove_unused_columns=False,
        bf16=cuda and dtype == torch.bfloat16, fp16=cuda and dtype == torch.float16,
        use_cpu=not cuda, disable_tqdm=True, dataloader_num_workers=0,
    )
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    if grouped:  # Trainer's own length grouping (the option's name moved in transformers 5)
        if "group_by_length" in fields:
            options["group_by_length"] = True
        elif "train_sampling_strategy" in fields:
            options["train_sampling_strategy"] = "group_by_length"
        else:
            raise SystemExit("bench_train: this transformers has no length grouping for Trainer")
    trainer = Trainer(model=model, args=TrainingArguments(**options), train_dataset=dataset,
                      data_collator=collate)
    metrics = trainer.train().metrics
    seconds = metrics["train_runtime"]
    return {"tokens": counted["tokens"], "seconds": round(seconds, 3),
            "tokens_per_s": round(counted["tokens"] / seconds, 1), "final_loss": round(metrics["train_loss"], 4)}


def summary(runs: list[dict]) -> dict:
    return {"median_tokens_per_s": _bench.median([r["tokens_per_s"] for r in runs]),
            "runs_tokens_per_s": [r["tokens_per_s"] for r in runs],
            "tokens_per_run": _bench.median([r["tokens"] for r in runs]),
            "final_loss": runs[-1]["final_loss"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="tiny", help="'tiny' (a random tiny llama), 'default', a folder or .gguf")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant (at least 3)")
    parser.add_argument("--quant", default="q8_0")
    args, home = _bench.parse_args(parser, argv)
    args.repeat = max(3, args.repeat)

    import torch

    work = Path(tempfile.mkdtemp(prefix="bench-train-", dir=home))
    try:
        base = args.base
        if base == "tiny":
            from trainer.tiny import make_tiny_model

            base = str(make_tiny_model("llama", work / "tiny", hidden_size=128,
                                       intermediate_size=344, num_hidden_layers=2))
        from teachbot_tui.training_format import write_jsonl

        data = work / "data"
        write_jsonl(data / "train.jsonl", synthetic_records(args.steps * args.batch_size, seed=0))

        runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
        for i in range(args.repeat):  # interleaved: every round runs every variant once
            for variant in VARIANTS:
                out = work / f"{variant}-{i}"
                if variant.startswith("ours"):
                    result = run_ours(base, data, out, args, shared_prefix=variant == "ours")
                else:
                    result = run_hf_trainer(base, data, out, args, grouped=variant.endswith("grouped"))
                runs[variant].append(result)
                _bench.log(f"{variant} {i}: {result}")

        from trainer.export import export_run

        started = time.perf_counter()
        report = export_run(work / "ours-0", work / "model.gguf", quant=args.quant)
        export_seconds = time.perf_counter() - started
        verify = {k: v for k, v in (report.verify or {}).items() if not isinstance(v, list | dict)}
        assert all(math.isfinite(r["final_loss"]) for rs in runs.values() for r in rs)

        med = {v: summary(rs) for v, rs in runs.items()}
        speed = {v: med[v]["median_tokens_per_s"] for v in VARIANTS}
        result = {
            "bench": "train",
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "machine": _bench.machine(),
            "base": args.base,
            "steps": args.steps,
            "batch_size": args.batch_size,
            "records": args.steps * args.batch_size,
            "repeat": args.repeat,
            **med,
            "speedup_vs_hf_trainer": round(speed["ours"] / speed["hf_trainer"], 2),
            "speedup_vs_hf_trainer_grouped": round(speed["ours"] / speed["hf_trainer_grouped"], 2),
            "shared_prefix_gain": round(speed["ours"] / speed["ours_no_prefix"], 2),
            "export": {"quant": args.quant, "seconds": round(export_seconds, 2),
                       "size_bytes": report.size_bytes, "verify": verify},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _bench.emit(result)


if __name__ == "__main__":
    main()

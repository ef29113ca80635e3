"""``teachbot-train``: fine-tune a chat model for teachbot, export it as GGUF, install it.

    teachbot-train prepare data/ --out prepared/
    teachbot-train train --data prepared/ --base default --out runs/coach
    teachbot-train export runs/coach --out coach.gguf
    teachbot-train eval --model default --model coach.gguf --data prepared/val.jsonl
    teachbot-train install coach.gguf --name coach

Importing this module is cheap (no torch, no transformers): each command imports what it needs.
Every error a user can cause is printed as one line, with a non-zero exit.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from teachbot_tui import offline
from teachbot_tui.errors import reported_as_one_line
from teachbot_tui.training_format import RecordError

PROG = "teachbot-train"

app = typer.Typer(
    name=PROG,
    help="Fine-tune a chat model with LoRA on scenarios and practice exports, export it as "
    "GGUF, and install it for teachbot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _rank0() -> bool:
    return os.environ.get("RANK", "0") == "0"


def one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Report the user's errors as ``teachbot-train: ...`` on stderr and exit 1, the way
    ``teachbot`` does (:func:`teachbot_tui.errors.reported_as_one_line`). Besides the app's own
    errors, the trainer's, bad training records and files that cannot be read are the user's."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from trainer.gguf_io import TrainerError

        with reported_as_one_line(PROG, also=(TrainerError, RecordError, OSError)):
            return command(*args, **kwargs)

    return wrapper


def _console(stderr: bool = False):  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _resolve_base(base: str) -> str:
    """Catalog names and Hub repo ids -> a local folder, downloaded on request (see
    teachbot_tui/bases.py; under torchrun only rank 0 downloads)."""
    from teachbot_tui import bases

    return bases.resolve(base, say=lambda msg: print(msg, file=sys.stderr, flush=True),
                         download=_rank0())


# --- prepare -----------------------------------------------------------------------------------


@app.command()
@one_line_errors
def prepare(
    inputs: Annotated[list[Path], typer.Argument(
        help="Files or folders: scenario JSON/YAML, chat or instruction JSONL, CSV, practice exports.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for train.jsonl, val.jsonl, pairs.jsonl, stats.json.")],
    val_fraction: Annotated[float, typer.Option(help="Share of records held out for validation (0 for none).")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the train/validation split.")] = 0,
    max_tokens: Annotated[int | None, typer.Option(
        help="Longest record allowed, in tokens (default 2048, or less when the base's context is shorter).")] = None,
    base: Annotated[str | None, typer.Option(
        help="Count tokens with this base's tokenizer and chat template (a folder, .gguf or 'default'); "
        "without it, length is estimated from characters.")] = None,
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Drop invalid records (and report them) instead of failing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Validate and split training data.

    Every problem is reported as FILE:LINE: MESSAGE. With problems, nothing is written and the exit status is 1, unless --skip-invalid. The split is deterministic for a given --seed.
    """  # noqa: E501 (one paragraph per line: the help reflows it)
    from trainer.data import prepare as run_prepare
    from trainer.gguf_io import TrainerError

    if base is not None:
        offline.enforce()
        base = _resolve_base(base)
    report = run_prepare(inputs, out, val_fraction=val_fraction, seed=seed, max_tokens=max_tokens,
                         base=base, skip_invalid=skip_invalid)
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        for line in report.errors:
            print(line, file=sys.stderr)
        if report.written:  # a summary of what was not written would only hide the problems
            _print_prepare(report)
    if report.errors and not skip_invalid:
        raise TrainerError(f"{len(report.errors)} problem(s) in the data; fix them, or pass "
                           "--skip-invalid to drop those records")
    if not report.written:
        raise TrainerError("no usable training records")


def _print_prepare(report: Any) -> None:
    from rich.table import Table

    stats, console = report.stats, _console()
    tokens = stats["tokens"]
    console.print(
        f"[bold]{stats['records']}[/] records: {report.train} train, {report.val} validation, "
        f"{report.pairs} preference pairs" + (f"; {report.skipped} skipped" if report.skipped else "")
    )
    console.print(f"tokens per record ({stats['token_count']}): min {tokens['min']}, "
                  f"mean {tokens['mean']}, median {tokens['median']}, p95 {tokens['p95']}, "
                  f"max {tokens['max']} (limit {stats['max_tokens']})", markup=False)
    if not stats["records"]:
        return
    for title, counts in (("source", stats["by_source"]), ("category", stats["by_category"])):
        table = Table(title=f"records by {title}", title_justify="left")
        table.add_column(title)
        table.add_column("records", justify="right")
        for key, n in counts.items():
            table.add_row(key, str(n))
        console.print(table)
    if report.written:
        console.print(f"wrote {report.out}/train.jsonl, val.jsonl"
                      + (", pairs.jsonl" if report.pairs else "") + ", stats.json", markup=False)


# --- train -------------------------------------------------------------------------------------


@app.command()
@one_line_errors
def train(
    data: Annotated[Path, typer.Option(help="Folder written by `prepare` (train.jsonl, val.jsonl).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: adapter/, checkpoints/, run.json.")],
    base: Annotated[str, typer.Option(
        help="Base model: a Hugging Face folder (Llama, Mistral, Qwen2/3, Gemma 2/3, Phi-3, ...), a .gguf, "
        "'default' (the bundled SmolLM2, untuned: not its answer adapter), a catalog name (`teachbot models catalog`) or a Hub repo id, "
        "downloaded once on request.")] = "default",
    epochs: Annotated[float, typer.Option(help="Passes over the training data (ignored with --max-steps).")] = 3.0,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimizer steps.")] = None,
    lr: Annotated[float, typer.Option(help="Peak learning rate (warmup, then cosine decay).")] = 2e-4,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    lora_alpha: Annotated[int, typer.Option(help="LoRA alpha (scale = alpha / r).")] = 32,
    lora_dropout: Annotated[float, typer.Option(help="Dropout on the LoRA input.")] = 0.0,
    batch_size: Annotated[int, typer.Option(help="Records per micro-batch, per process.")] = 8,
    grad_accum: Annotated[int, typer.Option(help="Micro-batches per optimizer step.")] = 1,
    grad_checkpointing: Annotated[bool | None, typer.Option(
        "--grad-checkpointing/--no-grad-checkpointing",
        help="Recompute activations in backward: less memory, ~30% slower (default: on for bases "
        "over 1B parameters).")] = None,
    quantize_base: Annotated[str | None, typer.Option(
        help="'4bit': load the base in 4-bit NF4 (bitsandbytes, NVIDIA GPU only) and train LoRA "
        "on top (QLoRA); export merges into the full-precision base.")] = None,
    max_len: Annotated[int, typer.Option(help="Longest record in tokens; longer ones are skipped.")] = 2048,
    warmup_ratio: Annotated[float, typer.Option(help="Share of steps spent warming up.")] = 0.05,
    eval_steps: Annotated[int | None, typer.Option(
        help="Validate (and checkpoint) every N steps; default about 10 times per run.")] = None,
    early_stopping_patience: Annotated[int, typer.Option(
        help="Stop after this many validations without improvement; 0 turns it off.")] = 3,
    save_steps: Annotated[int | None, typer.Option(help="Checkpoint every N steps (default: --eval-steps).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for LoRA initialisation and data order.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fine-tune a LoRA adapter on prepared data.

    Loss is on the reply tokens only, in the base model's chat template, under the app's system prompt. Runs on a GPU when there is one (bf16/fp16), otherwise on the CPU (fp32). For several GPUs or nodes, run the same command under `torchrun` or `accelerate launch` (the GPU and multi-GPU paths have not been run on a GPU yet; the CPU and 2-process gloo paths are tested).
    """  # noqa: E501 (one paragraph per line: the help reflows it)
    offline.enforce()
    from trainer.train import TrainConfig
    from trainer.train import train as run_train

    base = _resolve_base(base)

    cfg = TrainConfig(
        data=str(data), base=base, out=str(out), epochs=epochs, max_steps=max_steps, lr=lr,
        warmup_ratio=warmup_ratio, lora_r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
        batch_size=batch_size, grad_accum=grad_accum, grad_checkpointing=grad_checkpointing,
        quantize_base=quantize_base,
        eval_steps=eval_steps, early_stopping_patience=early_stopping_patience,
        save_steps=save_steps, max_len=max_len, seed=seed,
    )
    result = run_train(cfg, resume=resume, log=None if quiet else sys.stderr)
    if not _rank0():
        return
    summary = {
        "run": str(result.run), "steps": result.steps, "train_loss": round(result.train_loss, 5),
        "val_loss": None if result.val_loss is None else round(result.val_loss, 5),
        "best_step": result.best_step, "stopped_early": result.stopped_early,
        "tokens_per_s": round(result.tokens_per_s, 1), "seconds": round(result.seconds, 1),
    }
    if as_json:
        print(json.dumps(summary))
        return
    val = "" if result.val_loss is None else f", best val loss {result.val_loss:.4f} at step {result.best_step}"
    print(f"trained {result.steps} steps in {result.seconds:.0f} s ({result.tokens_per_s:,.0f} tokens/s): "
          f"train loss {result.train_loss:.4f}{val}")
    print(f"adapter: {result.run / 'adapter'}; next: teachbot-train export {result.run} --out model.gguf")


# --- export ------------------------------------------------------------------------------------


@app.command()
@one_line_errors
def export(
    run: Annotated[Path, typer.Argument(help="Run folder written by `train`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The .gguf file to write.")],
    quant: Annotated[str, typer.Option(help="q4_k_m (default), q5_k_m, q8_0, f16, bf16 or f32.")] = "q4_k_m",
    adapter: Annotated[bool, typer.Option(
        "--adapter", help="Write a GGUF LoRA adapter (for Llama(lora_path=...)) instead of a merged model.")] = False,
    verify: Annotated[bool, typer.Option(
        "--verify/--no-verify", help="Check the GGUF against transformers on sample prompts.")] = True,
    description: Annotated[str | None, typer.Option(
        help="A short description teachers see when they add the model (stored in the GGUF).")] = None,
    scenarios: Annotated[Path | None, typer.Option(
        help="A folder of practice scenarios to ship inside the GGUF (validated first).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Merge the adapter into the base and write a quantized GGUF (or write the adapter alone).

    The GGUF is written by llama.cpp's own converter (the version of the installed llama-cpp-python) and quantized by llama.cpp; then checked against transformers.

    The merged GGUF is a model pack: it also carries the system prompt the run was trained with, and --description and --scenarios when given; `teachbot models add` installs them.
    """  # noqa: E501 (one paragraph per line: the help reflows it)
    offline.enforce()
    from teachbot_tui import packs
    from trainer.export import export_run

    if scenarios is not None:
        packs.collect_scenarios(scenarios)  # a bad scenario fails now, not after the export

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    report = export_run(run, out, quant=quant, adapter=adapter, verify=verify, progress=say)
    d = report.as_dict()
    if not adapter:  # model pack metadata (teachbot_tui/packs.py)
        d["pack"] = packs.pack_export(run, report.out, description, scenarios)
        d["size_bytes"] = Path(report.out).stat().st_size  # the metadata changed the file
    if as_json:
        print(json.dumps(d, indent=2, default=str))
        return
    print(f"wrote {d['out']} ({d['size_bytes'] / 2**20:.1f} MiB, {d['quant']}) in {d['seconds']:.1f} s")
    if d.get("base_gguf"):
        print(f"the adapter applies to {d['base_gguf']}")
    checked = d.get("verify") or {}
    if checked:
        from trainer.export import GREEDY_TOKENS, VERIFY_THRESHOLDS

        top1, overlap = VERIFY_THRESHOLDS.get(d["quant"], VERIFY_THRESHOLDS["q4_k_m"])
        print(f"checked against transformers on {checked['prompts']} prompts: top-1 agreement "
              f"{checked['top1_agreement']:.2f} (needs {top1} for {d['quant']}), top-k overlap "
              f"{checked['topk_overlap']:.2f} (needs {overlap}), max |Δlogit| "
              f"{checked['max_abs_dlogit']:.2f}, same {GREEDY_TOKENS} greedy tokens: "
              f"{'yes' if checked['same_greedy_tokens'] else 'no'}")
    if not adapter:
        print(f"next: teachbot-train install {d['out']} --name NAME")


# --- eval --------------------------------------------------------------------------------------


@app.command("eval")
@one_line_errors
def eval_(
    model: Annotated[list[str], typer.Option(
        "--model", "-m", help="A .gguf path, a registry name or 'default' (the bundled SmolLM2 as practice runs it, "
        "without its answer adapter); repeat to compare.")],
    data: Annotated[Path, typer.Option(help="Chat JSONL; each record's last assistant message is the reference.")],
    max_tokens: Annotated[int, typer.Option(help="Longest generated reply, in tokens.")] = 128,
    limit: Annotated[int | None, typer.Option(help="Use only the first N records.")] = None,
    samples: Annotated[Path | None, typer.Option(help="Also write every reply with its scores to this JSONL.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compare models on held-out records: embedding similarity, ROUGE-L, reply length."""
    offline.enforce()
    from trainer.evaluate import evaluate

    err = _console(stderr=True)
    reports = evaluate(model, data, max_tokens=max_tokens, limit=limit,
                       progress=None if as_json else (lambda msg: err.print(msg, markup=False, end="\r")))
    if samples is not None:
        from teachbot_tui.training_format import write_jsonl

        write_jsonl(samples, ({"model": r.model, **s} for r in reports for s in r.samples))
    if as_json:
        print(json.dumps({"models": [r.as_dict() for r in reports]}, indent=2, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title=f"{data} ({reports[0].n} records)", title_justify="left")
    table.add_column("metric")
    for r in reports:
        table.add_column(r.model, justify="right")
    rows = [("similarity " + k, lambda r, k=k: f"{r.similarity[k]:.3f}") for k in ("mean", "min", "max", "std")]
    rows += [("ROUGE-L " + k, lambda r, k=k: f"{r.rouge_l[k]:.3f}") for k in ("mean", "min", "max", "std")]
    rows += [("words " + k.removesuffix("_words"), lambda r, k=k: f"{r.length[k]}")
             for k in ("mean_words", "min_words", "max_words")]
    rows += [("reference words (mean)", lambda r: f"{r.length['reference_mean_words']}")]
    for label, cell in rows:
        table.add_row(label, *(cell(r) for r in reports))
    _console().print(table)


# --- install -----------------------------------------------------------------------------------


@app.command()
@one_line_errors
def install(
    file: Annotated[Path, typer.Argument(help="The exported .gguf model.")],
    name: Annotated[str, typer.Option(help="Name to use with `teachbot ask --model NAME`.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace a model already registered under NAME.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the registered model as JSON.")] = False,
) -> None:
    """Register a GGUF model with teachbot (same TEACHBOT_HOME), so the app can use it."""
    from teachbot_tui.registry import ModelRegistry
    from trainer.gguf_io import TrainerError

    registry = ModelRegistry()
    if not replace and any(e.name == name for e in registry.list()):
        raise TrainerError(f"a model named {name!r} is already registered; add --replace to point "
                           f"it at {file}, or pick another --name")
    entry = registry.add(file, name, replace=replace)
    if as_json:
        print(json.dumps(entry.as_dict(), indent=2, ensure_ascii=False))
        return
    print(f"installed {entry.name}: {entry.path} ({entry.size_bytes / 2**20:.1f} MiB)")
    print(f"use it: teachbot ask --model {entry.name} \"...\"")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

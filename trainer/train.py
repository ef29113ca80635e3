"""``teachbot-train train``: LoRA fine-tuning in one readable loop (plain PyTorch + PEFT).

Read top to bottom: config -> examples and batches (``trainer/batches.py``) -> model ->
optimizer and schedule -> loop (eval, early stopping, checkpoints) -> run.json.

* Each record is formatted with the base model's own chat template, the way llama.cpp formats
  it at inference: system prompt (the app's default when the record has none), the turns
  before the target, the generation prompt. The loss covers only the target reply, up to and
  including the end-of-turn token (``<|im_end|>`` for SmolLM2), so the model learns to stop.
* Batches group records of similar length, so little compute goes to padding; logits are
  computed only from the first target position on (``trainer/batches.py``).
* The same command under ``torchrun``/``accelerate launch`` runs DDP: every rank reads the
  same micro-batch stream and takes every ``world``-th micro-batch; only rank 0 logs and saves.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from teachbot_tui import offline
from trainer.base_model import GRAD_CHECKPOINTING_MIN_PARAMS, check_quantize_base, load_model
from trainer.batches import IGNORE, MicroBatches, collate, load_examples, loss_sum
from trainer.chat import (  # noqa: F401 (re-exported: the public names of the training step)
    load_tokenizer,
    prompt_and_target_ids,
    render_chat,
    resolve_base,
)
from trainer.checkpoints import (
    latest_checkpoint,
    load_state,
    rng_state,
    save_adapter,
    set_rng_state,
)
from trainer.gguf_io import TrainerError

offline.enforce()
warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)\.")


@dataclass
class TrainConfig:
    data: str
    base: str
    out: str
    epochs: float = 3.0
    max_steps: int | None = None
    lr: float = 2e-4
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    batch_size: int = 8
    grad_accum: int = 1
    grad_checkpointing: bool | None = None  # default: on for bases over 1B parameters
    quantize_base: str | None = None  # "4bit": QLoRA (NF4 base via bitsandbytes, CUDA only)
    eval_steps: int | None = None  # default: about 10 evaluations per run
    early_stopping_patience: int = 3  # evaluations without improvement; 0 turns it off
    save_steps: int | None = None  # default: eval_steps
    keep_checkpoints: int = 2
    max_len: int = 2048
    seed: int = 0
    system_prompt: str | None = None  # default: the app's setting (the same one it infers with)
    shared_prefix: bool = True  # scripts/bench_train.py turns it off to measure what it gives

    # Options that must not change when a run is resumed.
    FIXED = ("base", "epochs", "max_steps", "lr", "warmup_ratio", "lora_r", "lora_alpha",
             "lora_dropout", "batch_size", "grad_accum", "max_len", "seed", "system_prompt",
             "quantize_base")


@dataclass
class TrainResult:
    run: Path
    steps: int
    train_loss: float
    val_loss: float | None
    best_step: int | None
    stopped_early: bool
    tokens: int
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


# --- progress ----------------------------------------------------------------------------------


class Progress:
    """Rich progress bar on a terminal; a plain line every few steps otherwise."""

    def __init__(self, total: int, start: int, enabled: bool, stream: Any) -> None:
        self.total, self.enabled, self.stream = total, enabled, stream
        self.bar = None
        self.every = max(1, total // 20)
        if enabled and stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                    console=Console(file=stream), transient=False)
            self.task = self.bar.add_task("train", total=total, completed=start, info="")
            self.bar.start()

    def step(self, step: int, info: str, force: bool = False) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(self.task, completed=step, info=info)
        elif force or step % self.every == 0 or step == self.total:
            print(f"step {step}/{self.total} {info}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        if self.enabled:
            (self.bar.console.print(text, markup=False, highlight=False) if self.bar
             else print(text, file=self.stream, flush=True))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# --- the run -----------------------------------------------------------------------------------


def train(cfg: TrainConfig, resume: bool = False, log: Any = sys.stderr) -> TrainResult:
    """Run (or with ``resume`` continue) a LoRA training; progress goes to ``log`` (None: none)."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    # Distributed setup: torchrun / accelerate launch set WORLD_SIZE, RANK, LOCAL_RANK.
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    owns_group = world > 1 and not dist.is_initialized()
    if owns_group:
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
    main = rank == 0
    run, data = Path(cfg.out).resolve(), Path(cfg.data)

    # Config checks: a fresh run must not overwrite one; a resumed one must match it.
    ckpt = latest_checkpoint(run) if resume else None
    if not resume and (run / "checkpoints").exists() and any((run / "checkpoints").iterdir()):
        raise TrainerError(f"{run} already holds a run; add --resume to continue it or pick a new --out")
    if resume and ckpt is None:
        raise TrainerError(f"{run}: no checkpoint to resume from; start without --resume")
    if not (data / "train.jsonl").exists():
        raise TrainerError(f"{data}: no train.jsonl; run `teachbot-train prepare ... --out {data}` first")
    if cfg.system_prompt is None:
        from teachbot_tui import config

        cfg.system_prompt = config.load().system_prompt
    if cfg.quantize_base is not None:
        check_quantize_base(cfg.quantize_base, cuda)
    state = load_state(ckpt / "state.pt") if ckpt else None
    if state is not None:
        changed = [k for k in TrainConfig.FIXED if state["config"][k] != getattr(cfg, k)]
        if changed:
            k = changed[0]
            raise TrainerError(f"--resume: the run used {k}={state['config'][k]!r}, now "
                               f"{getattr(cfg, k)!r}; resume with the same options")

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    # Model and tokenizer: fp32 on CPU, bf16 (or fp16) on GPU.
    base_path, base_kind = resolve_base(cfg.base)
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else torch.float32
    model, tokenizer = load_model(cfg.quantize_base, base_path, base_kind, dtype, local_rank)
    n_params = sum(p.numel() for p in model.parameters())
    if cfg.grad_checkpointing is None:
        cfg.grad_checkpointing = n_params > GRAD_CHECKPOINTING_MIN_PARAMS
    if cfg.grad_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if cfg.quantize_base:
            model.enable_input_require_grads()

    # Data.
    train_set, dropped = load_examples(data / "train.jsonl", tokenizer, cfg.system_prompt, cfg.max_len)
    val_path = data / "val.jsonl"
    val_set = load_examples(val_path, tokenizer, cfg.system_prompt, cfg.max_len)[0] if val_path.exists() else []
    if not train_set:
        raise TrainerError(f"{data}/train.jsonl: no usable training records")
    stream = MicroBatches(train_set, cfg.batch_size, cfg.seed)
    micro_per_step = cfg.grad_accum * world
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * stream.per_epoch / micro_per_step))
    eval_steps = cfg.eval_steps or max(1, total // 10)
    save_steps = cfg.save_steps or eval_steps

    # LoRA on every linear projection of the transformer blocks.
    torch.manual_seed(cfg.seed)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    net = get_peft_model(model, lora)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                  betas=(0.9, 0.999), fused=cuda)
    warmup = max(1, round(cfg.warmup_ratio * total))

    def schedule(step: int) -> float:  # linear warmup, then cosine down to 0
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and dtype == torch.float16)

    def autocast():
        return torch.autocast("cuda", dtype=dtype) if cuda else torch.autocast("cpu", enabled=False)

    ddp = torch.nn.parallel.DistributedDataParallel(net, device_ids=[local_rank] if cuda else None) if world > 1 else net
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    # run the shared prompt prefix once per batch (checkpointing turns the KV cache off)
    shared = None if cfg.grad_checkpointing or not cfg.shared_prefix else net

    # Resume: adapter weights, optimizer, schedule, RNG, counters.
    step, best_val, best_step, bad_evals, history = 0, math.inf, None, 0, []
    if state is not None:
        set_peft_model_state_dict(net, load_file(ckpt / "adapter" / "adapter_model.safetensors"))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        step, best_val, best_step = state["step"], state["best_val"], state["best_step"]
        bad_evals, history = state["bad_evals"], state["history"]

    def all_sum(*values: float) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=device)
        if world > 1:
            dist.all_reduce(t)
        return t.tolist()

    @torch.no_grad()
    def evaluate() -> float:
        net.eval()
        mine = sorted(val_set[rank::world], key=lambda e: len(e.ids))
        total_loss, count = 0.0, 0
        for i in range(0, len(mine), cfg.batch_size):
            loss, n = loss_sum(net, collate(mine[i:i + cfg.batch_size], pad_id, device), autocast, shared)
            total_loss, count = total_loss + loss.item(), count + n
        net.train()
        total_loss, count = all_sum(total_loss, count)
        return total_loss / max(1, count)

    def save_checkpoint() -> None:
        dest = run / "checkpoints" / f"step-{step}"
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        net.save_pretrained(tmp / "adapter")
        torch.save({"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(), "rng": rng_state(), "best_val": best_val,
                    "best_step": best_step, "bad_evals": bad_evals, "history": history,
                    "config": asdict(cfg)}, tmp / "state.pt")
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        old = sorted((p for p in dest.parent.glob("step-*")), key=lambda p: int(p.name.split("-")[1]))
        for p in old[: -cfg.keep_checkpoints]:
            shutil.rmtree(p, ignore_errors=True)

    # The loop.
    progress = Progress(total, step, main and log is not None, log)
    if main and dropped:
        progress.note(f"skipped {dropped} training records longer than --max-len {cfg.max_len}")
    net.train()
    started, tokens = time.perf_counter(), 0
    train_loss, stopped_early = (history[-1]["loss"] if history else math.nan), False
    try:
        while step < total:
            micro = [collate(stream[(step * cfg.grad_accum + a) * world + rank], pad_id, device)
                     for a in range(cfg.grad_accum)]
            n_targets = sum(int((b["labels"] != IGNORE).sum()) for b in micro)
            step_loss = 0.0
            for a, batch in enumerate(micro):
                sync = a == len(micro) - 1 or world == 1
                with ddp.no_sync() if not sync else nullcontext():
                    loss, _ = loss_sum(ddp, batch, autocast, shared)
                    scaler.scale(loss / n_targets).backward()
                step_loss += loss.item()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            step += 1

            loss_total, targets, real = all_sum(step_loss, n_targets,
                                                sum(int(b["attention_mask"].sum()) for b in micro))
            train_loss, tokens = loss_total / targets, tokens + int(real)
            elapsed = time.perf_counter() - started
            info = f"loss {train_loss:.4f} lr {scheduler.get_last_lr()[0]:.2e} {tokens / elapsed:,.0f} tok/s"
            if cuda:
                info += f" gpu {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB"
            record: dict[str, Any] = {"step": step, "loss": round(train_loss, 5)}

            if val_set and (step % eval_steps == 0 or step == total):
                val_loss = evaluate()
                record["val_loss"] = round(val_loss, 5)
                if val_loss < best_val - 1e-6:
                    best_val, best_step, bad_evals = val_loss, step, 0
                    if main:
                        save_adapter(net, run / "adapter")
                else:
                    bad_evals += 1
                info += f" val {val_loss:.4f} (best {best_val:.4f} @ {best_step})"
                if cfg.early_stopping_patience and bad_evals >= cfg.early_stopping_patience:
                    stopped_early = step < total
            progress.step(step, info, force="val_loss" in record)
            history.append(record)
            if main and (step % save_steps == 0 or step == total or stopped_early):
                save_checkpoint()
            if stopped_early:
                progress.note(f"early stop at step {step}: no better validation loss for "
                              f"{bad_evals} evaluations; keeping step {best_step}")
                break
    finally:
        progress.close()

    seconds = time.perf_counter() - started
    recent = [h["loss"] for h in history[-10:]]  # the last step alone is one batch's noise
    train_loss = sum(recent) / len(recent) if recent else train_loss
    result = TrainResult(run, step, train_loss, best_val if val_set else None, best_step,
                         stopped_early, tokens, seconds, history)
    if main:
        if not val_set:
            save_adapter(net, run / "adapter")
        write_run_json(cfg, result, base_path, base_kind, net, device, dtype, world)
    if world > 1:
        dist.barrier()
        if owns_group:
            dist.destroy_process_group()
    return result


def write_run_json(cfg: TrainConfig, result: TrainResult, base_path: Path, base_kind: str,
                   net: Any, device: torch.device, dtype: torch.dtype, world: int) -> None:
    lora = net.peft_config["default"]
    info = {
        "base": str(base_path),
        "base_kind": base_kind,
        "lora": {"r": lora.r, "alpha": lora.lora_alpha, "dropout": lora.lora_dropout,
                 "target_modules": sorted(lora.target_modules)},
        "system_prompt": cfg.system_prompt,
        "steps": result.steps,
        "train_loss": round(result.train_loss, 6),
        "val_loss": None if result.val_loss is None else round(result.val_loss, 6),
        "best_step": result.best_step,
        "stopped_early": result.stopped_early,
        "tokens": result.tokens,
        "seconds": round(result.seconds, 2),
        "tokens_per_s": round(result.tokens_per_s, 1),
        "device": str(device.type),
        "dtype": str(dtype).removeprefix("torch."),
        "world_size": world,
        "config": asdict(cfg),
        "history": result.history,
    }
    tmp = result.run / ".run.json.tmp"
    tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(result.run / "run.json")

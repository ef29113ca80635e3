"""Checkpoints of a training run: random state, adapter folders, and the state file.

``state.pt`` is written with ``torch.save`` and read with ``weights_only=True``: tensors and plain
Python data only, so a tampered checkpoint cannot run code; it is refused with one line.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import torch

from trainer.gguf_io import TrainerError


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


#: What a checkpoint's state.pt must hold; it is loaded with ``weights_only=True`` (tensors and
#: plain Python data only, no pickled code).
STATE_KEYS = frozenset({"step", "optimizer", "scheduler", "scaler", "rng", "best_val",
                        "best_step", "bad_evals", "history", "config"})


def load_state(path: Path) -> dict[str, Any]:
    """A checkpoint's state, or TrainerError (one line) when it is not plain data or is damaged:
    a tampered file is refused before any of it runs."""
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TrainerError(
            f"{path}: refusing to load this checkpoint, it is not plain tensors and data "
            f"({reason[:160]}); delete that checkpoint folder or train again"
        ) from None
    if not isinstance(state, dict) or not state.keys() >= STATE_KEYS:
        raise TrainerError(f"{path}: not a teachbot-train checkpoint (keys missing); "
                           "delete that checkpoint folder or train again")
    return state


def save_adapter(model: Any, dest: Path) -> None:
    """PEFT save_pretrained into a temporary folder, then swap it in."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def latest_checkpoint(run: Path) -> Path | None:
    found = [p for p in (run / "checkpoints").glob("step-*") if (p / "state.pt").exists()]
    return max(found, key=lambda p: int(p.name.split("-")[1]), default=None)

"""What one training step eats: tokenized examples, micro-batches and the loss.

* An :class:`Example` is a record in the base's chat template, as token ids; the loss covers
  only the reply (everything after the first ``n_prompt`` tokens).
* :class:`MicroBatches` groups records of similar length (sorted within shuffled mega-batches),
  so little compute goes to padding, and is reproducible from the seed, so a resumed run
  continues exactly.
* :func:`loss_sum` computes logits only from the first target position on, and runs a prefix
  every record shares (system prompt, template header) once for the whole batch.
"""

from __future__ import annotations

import functools
import inspect
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from teachbot_tui.training_format import ChatRecord, read_records
from trainer.chat import prompt_and_target_ids

IGNORE = -100
MIN_SHARED_PREFIX = 8  # shorter common prefixes are not worth a second forward call


@dataclass
class Example:
    ids: list[int]
    n_prompt: int  # the first n_prompt tokens carry no loss


def load_examples(path: Path, tokenizer: Any, system_prompt: str, max_len: int) -> tuple[list[Example], int]:
    """Tokenize a prepared JSONL file; return the examples and how many were too long."""
    examples, too_long = [], 0
    for _, record in read_records(path):
        if not isinstance(record, ChatRecord):
            continue
        prompt, target = prompt_and_target_ids(tokenizer, record.messages, system_prompt)
        if len(prompt) + len(target) > max_len:
            too_long += 1
            continue
        examples.append(Example(prompt + target, len(prompt)))
    return examples, too_long


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort by length within mega-batches of 16 batches, then shuffle the batches:
    random order, little padding."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = batch_size * 16
    batches = []
    for i in range(0, len(order), mega):
        chunk = sorted(order[i:i + mega], key=lambda j: lengths[j], reverse=True)
        batches += [chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


class MicroBatches:
    """The run's stream of micro-batches, epoch after epoch, reproducible from the seed:
    micro-batch ``k`` is always the same, so a resumed run continues exactly."""

    def __init__(self, examples: list[Example], batch_size: int, seed: int) -> None:
        self.examples, self.batch_size, self.seed = examples, batch_size, seed
        self.lengths = [len(e.ids) for e in examples]
        self.per_epoch = math.ceil(len(examples) / batch_size)
        self._epoch, self._batches = -1, []

    def __getitem__(self, k: int) -> list[Example]:
        epoch, i = divmod(k, self.per_epoch)
        if epoch != self._epoch:
            rng = random.Random(self.seed * 1_000_003 + epoch)
            self._epoch, self._batches = epoch, length_grouped_batches(self.lengths, self.batch_size, rng)
        return [self.examples[j] for j in self._batches[i]]


def common_prefix(rows: list[list[int]]) -> int:
    first, n = rows[0], min(len(r) for r in rows)
    for i in range(n):
        if any(r[i] != first[i] for r in rows[1:]):
            return i
    return n


def collate(batch: list[Example], pad_id: int, device: torch.device) -> dict[str, Any]:
    """Right-pad to the longest; labels are -100 on the prompt and the padding."""
    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        ids[row, : len(e.ids)] = torch.tensor(e.ids)
        labels[row, e.n_prompt : len(e.ids)] = torch.tensor(e.ids[e.n_prompt :])
        mask[row, : len(e.ids)] = 1
    first = min(e.n_prompt for e in batch)  # logits are needed from position first-1 on
    # Tokens every record starts with (system prompt, template header) are run once, not
    # once per row; they must end before the first position whose logits are needed.
    prefix = min(common_prefix([e.ids for e in batch]), first - 1) if len(batch) > 1 else 0
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device),
            "labels": labels.to(device), "keep": width - first + 1,
            "prefix": prefix if prefix >= MIN_SHARED_PREFIX else 0}


@functools.cache
def _cache_kwarg(model_class: type) -> str:
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


def cache_kwarg(model: Any) -> str:
    """transformers renamed ``past_key_values`` to ``cache`` in 5.x."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return _cache_kwarg(type(base))


def loss_sum(model: Any, batch: dict[str, Any], autocast: Any, inner: Any = None) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over the target tokens, and their count.

    With ``inner`` (the model without its DDP wrapper) and a shared prefix, the prefix is run
    once and its key/value cache repeated for every row; gradients flow through the cache.
    """
    keep, labels, ids, prefix = batch["keep"], batch["labels"], batch["input_ids"], batch["prefix"]
    with autocast():
        if prefix and inner is not None:
            out = inner(input_ids=ids[:1, :prefix], use_cache=True, logits_to_keep=1)
            past = getattr(out, "cache", None) or out.past_key_values
            past.batch_repeat_interleave(ids.shape[0])
            logits = model(input_ids=ids[:, prefix:], attention_mask=batch["attention_mask"],
                           use_cache=True, logits_to_keep=keep, **{cache_kwarg(inner): past}).logits
        else:
            logits = model(input_ids=ids, attention_mask=batch["attention_mask"],
                           use_cache=False, logits_to_keep=keep).logits
    targets = labels[:, labels.shape[1] - keep + 1:]  # position p predicts token p+1
    loss = F.cross_entropy(logits[:, :-1].float().flatten(0, 1), targets.flatten(),
                           ignore_index=IGNORE, reduction="sum")
    return loss, int((targets != IGNORE).sum())
